package wire_test

import (
	"encoding/hex"
	"fmt"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// The plaintext of a MonaServer2 packet (trace a_unicast, datagram 5), after
// its 2-byte checksum: a header with timestamp and echo, one Range Ack, and
// the 0xFF padding.
func Example() {
	body, _ := hex.DecodeString("4eb855b854" + "51000502" + "83fe7f01" + "ffffffffff")
	hdr, n, err := wire.ParseHeader(body)
	if err != nil {
		panic(err)
	}
	fmt.Printf("mode %d, timestamp %#x, echo %#x\n", hdr.Mode(), hdr.Timestamp, hdr.Echo)

	var ack wire.Ack
	r := wire.NewChunkReader(body[n:])
	for r.Next() {
		switch r.Type() {
		case wire.TypeAckRanges, wire.TypeAckBitmap:
			if err := wire.ParseAckInto(r.Type(), r.Value(), &ack); err != nil {
				panic(err)
			}
			fmt.Printf("ack flow %d, %d blocks, cumulative %d\n", ack.FlowID, ack.BufferBlocksAvailable, ack.CumulativeAck)
		default:
			// unknown chunk types are skipped
		}
	}
	fmt.Printf("padding %d bytes, err %v\n", len(r.Rest()), r.Err())

	// Answer with data on flow 2 and an ack.
	out := wire.Header{Flags: wire.ModeInitiator | wire.HeaderTimestamp, Timestamp: 0x1234}.Append(nil)
	out = wire.Ack{FlowID: 2, BufferBlocksAvailable: 1, CumulativeAck: 3}.AppendRanges(out)
	out = wire.UserData{Flags: wire.FragWhole, FlowID: 2, Seq: 2, FSNOffset: 1, Data: []byte("hi")}.Append(out)
	fmt.Printf("% x\n", out)
	// Output:
	// mode 2, timestamp 0xb855, echo 0xb854
	// ack flow 2, 65407 blocks, cumulative 1
	// padding 5 bytes, err <nil>
	// 09 12 34 51 00 03 02 01 03 10 00 06 00 02 02 01 68 69
}
