package wire

import (
	"testing"
)

// mediaPacket returns a packet body (after the checksum) as a media
// sender's peer sees it when acks ride with data: the header and chunks of a
// recorded media packet (librtmfp publisher, User Data of 1178 bytes), with
// a recorded Range Ack inserted before the data. (No recorded packet carries
// both; the implementations send acks in packets of their own.)
func mediaPacket(b *testing.B) []byte {
	ds := loadTrace(b, "a_unicast")
	var ackChunk []byte
	for _, d := range ds {
		for _, c := range d.Chunks {
			if c.Type == TypeAckRanges && ackChunk == nil {
				ackChunk = AppendChunk(nil, c.Type, c.Value)
			}
		}
		if ackChunk == nil || len(d.Chunks) == 0 || d.Chunks[0].Type != TypeUserData || len(d.Chunks[0].Value) < 1000 {
			continue
		}
		_, n, err := ParseHeader(d.Plain[2:])
		if err != nil {
			b.Fatal(err)
		}
		body := append([]byte{}, d.Plain[2:2+n]...)
		body = append(body, ackChunk...)
		for _, c := range d.Chunks {
			body = AppendChunk(body, c.Type, c.Value)
		}
		return append(body, 0xff, 0xff, 0xff)
	}
	b.Fatal("no media packet in the trace")
	return nil
}

// BenchmarkParseMediaPacket is the receive hot path: header, chunk loop,
// User Data (and Next User Data), Range Ack into a reused Ack.
func BenchmarkParseMediaPacket(b *testing.B) {
	body := mediaPacket(b)
	var ack Ack
	var sink uint64
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		h, n, err := ParseHeader(body)
		if err != nil {
			b.Fatal(err)
		}
		sink += uint64(h.Timestamp)
		var prev UserData
		r := NewChunkReader(body[n:])
		for r.Next() {
			switch r.Type() {
			case TypeUserData:
				u, err := ParseUserData(r.Value())
				if err != nil {
					b.Fatal(err)
				}
				prev = u
				sink += u.Seq + uint64(len(u.Data))
			case TypeNextUserData:
				nx, err := ParseNextUserData(r.Value())
				if err != nil {
					b.Fatal(err)
				}
				prev = nx.Expand(prev)
				sink += prev.Seq
			case TypeAckRanges, TypeAckBitmap:
				if err := ParseAckInto(r.Type(), r.Value(), &ack); err != nil {
					b.Fatal(err)
				}
				sink += ack.CumulativeAck
			}
		}
		if r.Err() != nil {
			b.Fatal(r.Err())
		}
	}
	if sink == 0 {
		b.Fatal("nothing parsed")
	}
}

// BenchmarkBuildMediaPacket is the send hot path: header, Range Ack with a
// few ranges and a User Data chunk appended to a reused buffer.
func BenchmarkBuildMediaPacket(b *testing.B) {
	data := make([]byte, 1100)
	ack := Ack{FlowID: 2, BufferBlocksAvailable: 64, CumulativeAck: 1000, Ranges: []AckRange{{1, 5}, {2, 3}}}
	u := UserData{Flags: FragFirst, FlowID: 6, Seq: 5000, FSNOffset: 3, Data: data}
	buf := make([]byte, 0, 1300)
	b.ReportAllocs()
	for b.Loop() {
		p := Header{Flags: 0x8d, Timestamp: 1, Echo: 2}.Append(buf[:0])
		p = ack.AppendRanges(p)
		p = u.Append(p)
		if len(p) == 0 {
			b.Fatal("empty")
		}
	}
}

func TestParseMediaPacketAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a trace")
	}
	for name, bench := range map[string]func(*testing.B){"parse": BenchmarkParseMediaPacket, "build": BenchmarkBuildMediaPacket} {
		res := testing.Benchmark(bench)
		if res.N == 0 {
			t.Fatalf("%s benchmark failed", name)
		}
		if a := res.AllocsPerOp(); a != 0 {
			t.Errorf("%s path allocates %d times per packet", name, a)
		}
	}
}
