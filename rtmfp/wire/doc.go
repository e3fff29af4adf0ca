// Package wire encodes and decodes RTMFP packets and chunks (RFC 7016 §2.2.4
// and §2.3), the layer between the crypto profile and the session engine.
//
// A datagram is a scrambled session ID and a ciphertext. Once the crypto
// profile has decrypted it and checked its integrity prefix (the Flash
// profile's 2-byte checksum, or a session sequence number VLU with HMAC,
// RFC 7425), the rest of the plaintext is what this package reads:
//
//	flags u8 | [timestamp u16] | [timestampEcho u16] | chunk | chunk | … | padding
//	chunk = type u8 | length u16 BE | value[length]
//
// ParseHeader reads the flags and timestamps (Header); a ChunkReader then
// walks the chunks without allocating and stops at the 0xFF padding. Each
// chunk type has a struct with a parser that takes the chunk value (after the
// 3-byte header), an Append that writes the whole chunk, header included,
// and a Len that is exactly the size Append writes. Parsed byte slices alias
// the packet, so the packet buffer must outlive them. Integers marked VLU
// are the variable length unsigned integers of package vlu.
//
// For example, the plaintext after the checksum of a MonaServer2 packet
// answering a connect (trace a_unicast, datagram 5) is
//
//	4e b8 55 b8 54                  flags TCR|TS|TSE|responder, timestamp, echo
//	51 00 05 02 83 fe 7f 01         Range Ack: flow 2, 65407 blocks, cumulative 1
//	ff ff ff …                      padding
//
// and is read with
//
//	hdr, n, err := wire.ParseHeader(plain[2:])
//	r := wire.NewChunkReader(plain[2+n:])
//	for r.Next() {
//		switch r.Type() {
//		case wire.TypeAckRanges, wire.TypeAckBitmap:
//			err = wire.ParseAckInto(r.Type(), r.Value(), &ack)
//		case wire.TypeUserData:
//			ud, err := wire.ParseUserData(r.Value())
//		}
//	}
//
// Building a packet is appending: hdr.Append(b), then ack.AppendRanges(b),
// ud.Append(b) and so on, then the profile's padding and encryption.
//
// Parsers never panic, check every length against the input, and allocate
// only where a struct holds a list (Redirect.Addresses, sized to the input)
// or an Ack's Ranges must grow (capped at MaxAckRanges). Chunks of types the
// package does not know (0x4D, 0xCC, 0xEC are seen in the wild) are returned
// by the ChunkReader like any other, for the caller to skip. Re-encoding a
// parsed chunk reproduces its bytes exactly for every chunk in the recorded
// traces (testdata/rtmfp-traces); the exceptions by design are noted on
// BufferProbe, FlowException, CloseRequest and CloseAck (ignored trailing
// bytes) and on the acknowledgements (ranges past MaxAckRanges, zero bits
// after the last set bit of a bitmap).
package wire
