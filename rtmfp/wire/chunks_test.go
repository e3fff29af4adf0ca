package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// chunkVector is one chunk value with the struct it decodes to. Vectors
// marked real are copied from the recorded traces (scenario and datagram
// index in the name); the others are built from the RFC layout because no
// recorded implementation sent that chunk type.
type chunkVector struct {
	name  string
	typ   byte
	value string
	want  encoder
}

func addr(s string, origin byte) Address {
	return Address{AddrPort: netip.MustParseAddrPort(s), Origin: origin}
}

var tag16 = []byte{0xa2, 0x7c, 0x8b, 0x86, 0xf3, 0x19, 0xca, 0x8b, 0x4f, 0x9f, 0x10, 0x52, 0xa5, 0x0e, 0x79, 0x6f}

var chunkVectors = []chunkVector{
	{"IHello librtmfp path EPD (real, a_unicast #0)", TypeIHello,
		"06 050a6c697665 | 2c7c737de8b4f8921755bc07bab30239",
		IHello{EPD: []byte("\x05\x0alive"), Tag: []byte("\x2c\x7c\x73\x7d\xe8\xb4\xf8\x92\x17\x55\xbc\x07\xba\xb3\x02\x39")}},
	{"Redirect MonaServer2 (real, b_p2p #26)", TypeRedirect,
		"10 a27c8b86f319ca8b4f9f1052a50e796f | 02 7f000001 b422 | 01 c0000202 b422 | 81 fd000000000000000000000000000002 ebbe",
		Redirect{Tag: tag16, Addresses: []Address{
			addr("127.0.0.1:46114", OriginObserved), addr("192.0.2.2:46114", OriginReported), addr("[fd00::2]:60350", OriginReported)}}},
	{"Redirect empty list", TypeRedirect, "01 aa", Redirect{Tag: []byte{0xaa}}},
	{"FIHello MonaServer2 IPv6 (real, b_p2p #25)", TypeFIHello,
		"22 210f5e6a163e7cb538ab5699fab3700ec261a632515f8822db421814c361ea313cbf | 81 fd000000000000000000000000000002 ca85 | a27c8b86f319ca8b4f9f1052a50e796f",
		FIHello{EPD: append([]byte{0x21, 0x0f}, []byte("\x5e\x6a\x16\x3e\x7c\xb5\x38\xab\x56\x99\xfa\xb3\x70\x0e\xc2\x61\xa6\x32\x51\x5f\x88\x22\xdb\x42\x18\x14\xc3\x61\xea\x31\x3c\xbf")...),
			ReplyAddress: addr("[fd00::2]:51845", OriginReported), Tag: tag16}},
	{"CookieChange", TypeCookieChange, "03 010203 | 040506", CookieChange{OldCookie: []byte{1, 2, 3}, NewCookie: []byte{4, 5, 6}}},
	{"Ping", TypePing, "4d 0102", Ping{Data: []byte{0x4d, 1, 2}}},
	{"Ping empty", TypePing, "", Ping{Data: []byte{}}},
	{"PingReply", TypePingReply, "4d 0102", PingReply{Data: []byte{0x4d, 1, 2}}},
	{"UserData connect with metadata (real prefix, a_unicast #4)", TypeUserData,
		"80 02 01 01 | 05 00 54430400 00 | 14 00000000 02 0007 636f6e6e656374",
		UserData{Flags: 0x80, FlowID: 2, Seq: 1, FSNOffset: 1, Options: []byte("\x05\x00TC\x04\x00\x00"),
			Data: []byte("\x14\x00\x00\x00\x00\x02\x00\x07connect")}},
	{"UserData with return association (real prefix, d_rtmfpcpp #92)", TypeUserData,
		"90 05 02 02 | 05 00 54430401 02 0a 02 00 | 0000000017",
		UserData{Flags: 0x90, FlowID: 5, Seq: 2, FSNOffset: 2, Options: []byte("\x05\x00TC\x04\x01\x02\x0a\x02\x00"),
			Data: []byte{0, 0, 0, 0, 0x17}}},
	{"UserData abandon+final (real, a_unicast #944)", TypeUserData, "03 04 02 01",
		UserData{Flags: FlagAbandon | FlagFinal, FlowID: 4, Seq: 2, FSNOffset: 1, Data: []byte{}}},
	{"UserData 2-byte seq (real, c_netgroup #3149)", TypeUserData, "03 04 820d 01",
		UserData{Flags: 0x03, FlowID: 4, Seq: 269, FSNOffset: 1, Data: []byte{}}},
	{"NextUserData (real, d_rtmfpcpp #21)", TypeNextUserData, "20 65cef3acb7e1",
		NextUserData{Flags: FragLast, Data: []byte{0x65, 0xce, 0xf3, 0xac, 0xb7, 0xe1}}},
	{"NextUserData with options", TypeNextUserData, "80 02 0a 05 00 | 99",
		NextUserData{Flags: 0x80, Options: []byte{2, 0x0a, 5, 0}, Data: []byte{0x99}}},
	{"AckRanges MonaServer2 (real, a_unicast #5)", TypeAckRanges, "02 83fe7f 01",
		AckRanges(Ack{FlowID: 2, BufferBlocksAvailable: 0xff7f, CumulativeAck: 1})},
	{"AckRanges rtmfp-cpp (real, d_rtmfpcpp #5)", TypeAckRanges, "02 40 01",
		AckRanges(Ack{FlowID: 2, BufferBlocksAvailable: 64, CumulativeAck: 1})},
	{"AckRanges with ranges", TypeAckRanges, "05 7f 0a | 01 02 | 00 00",
		AckRanges(Ack{FlowID: 5, BufferBlocksAvailable: 127, CumulativeAck: 10,
			Ranges: []AckRange{{Holes: 2, Received: 3}, {Holes: 1, Received: 1}}})},
	{"AckBitmap", TypeAckBitmap, "05 7f 0a | 47", // 0100 0111: C+2..C+4 and C+8
		AckBitmap(Ack{FlowID: 5, BufferBlocksAvailable: 127, CumulativeAck: 10,
			Ranges: []AckRange{{Holes: 1, Received: 3}, {Holes: 3, Received: 1}}})},
	{"AckBitmap two bytes", TypeAckBitmap, "05 7f 0a | 00 81", // C+10 and C+17
		AckBitmap(Ack{FlowID: 5, BufferBlocksAvailable: 127, CumulativeAck: 10,
			Ranges: []AckRange{{Holes: 9, Received: 1}, {Holes: 6, Received: 1}}})},
	{"BufferProbe", TypeBufferProbe, "8100", BufferProbe{FlowID: 128}},
	{"FlowException (real, c_netgroup #3144)", TypeFlowException, "04 00", FlowException{FlowID: 4}},
	{"FlowException with code", TypeFlowException, "03 8101", FlowException{FlowID: 3, Code: 129}},
	{"CloseRequest", TypeCloseRequest, "", CloseRequest{}},
	{"CloseAck (real, a_unicast #948)", TypeCloseAck, "", CloseAck{}},
}

func TestChunkVectors(t *testing.T) {
	for _, tc := range chunkVectors {
		t.Run(tc.name, func(t *testing.T) {
			v := unhex(t, tc.value)
			got, known, err := parseChunk(tc.typ, v)
			if !known || err != nil {
				t.Fatalf("parse: known %v, err %v", known, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parse:\n got %+v\nwant %+v", got, tc.want)
			}
			wantBytes := AppendChunk(nil, tc.typ, v)
			if enc := tc.want.Append(nil); !bytes.Equal(enc, wantBytes) {
				t.Errorf("Append: %x, want %x", enc, wantBytes)
			}
			if tc.want.Len() != len(wantBytes) {
				t.Errorf("Len %d, want %d", tc.want.Len(), len(wantBytes))
			}
			// Append appends: existing bytes stay in front.
			if enc := tc.want.Append([]byte{0xee}); enc[0] != 0xee || !bytes.Equal(enc[1:], wantBytes) {
				t.Errorf("Append to a non-empty slice: %x", enc)
			}
			checkPrefixes(t, tc.typ, v)
		})
	}
}

// checkPrefixes parses every proper prefix of a chunk value. Each must fail,
// or, when the prefix is itself a complete chunk (a field that runs to the
// end of the chunk, or a list cut between elements), re-encode to exactly
// that prefix.
func checkPrefixes(t *testing.T, typ byte, v []byte) {
	t.Helper()
	for i := 0; i < len(v); i++ {
		p := v[:i:i]
		c, _, err := parseChunk(typ, p)
		if err != nil {
			continue
		}
		enc := c.Append(nil)
		if bytes.Equal(enc, AppendChunk(nil, typ, p)) {
			continue
		}
		// Only the lenient types may shorten; what they write reads back the same.
		c2, _, err := parseChunk(typ, enc[ChunkHeaderLen:])
		if !lenientTail(typ) || err != nil || !reflect.DeepEqual(c, c2) {
			t.Errorf("prefix %x parsed to %+v, which encodes to %x", p, c, enc)
		}
	}
}

// lenientTail reports the chunk types whose parser ignores trailing bytes
// (or, for the bitmap ack, trailing zero bytes), so a value may parse to
// something that encodes shorter.
func lenientTail(typ byte) bool {
	switch typ {
	case TypeBufferProbe, TypeFlowException, TypeCloseRequest, TypeCloseAck, TypeAckBitmap:
		return true
	}
	return false
}

// TestLenientTail pins down which trailing bytes are ignored.
func TestLenientTail(t *testing.T) {
	if c, err := ParseBufferProbe([]byte{5, 9, 9}); err != nil || c.FlowID != 5 {
		t.Errorf("BufferProbe with trailing bytes: %+v %v", c, err)
	}
	if c, err := ParseFlowException([]byte{5, 1, 9}); err != nil || c != (FlowException{5, 1}) {
		t.Errorf("FlowException with trailing bytes: %+v %v", c, err)
	}
	if _, err := ParseCloseAck([]byte{1}); err != nil {
		t.Errorf("CloseAck with a value: %v", err)
	}
	if _, err := ParseBufferProbe(nil); err != ErrTruncated {
		t.Errorf("empty BufferProbe: %v", err)
	}
}

// TestHandshakeChunksFromTraces checks the long handshake chunks field by
// field against the layouts of facts §3.8, on real chunks.
func TestHandshakeChunksFromTraces(t *testing.T) {
	first := func(scenario string, typ byte) []byte {
		ds := loadTrace(t, scenario)
		for _, d := range ds {
			for _, c := range d.Chunks {
				if c.Type == typ {
					return c.Value
				}
			}
		}
		t.Fatalf("%s: no chunk %#x", scenario, typ)
		return nil
	}

	v := first("a_unicast", TypeRHello) // MonaServer2
	rh, err := ParseRHello(v)
	if err != nil || len(rh.Tag) != 16 || len(rh.Cookie) != 64 || len(rh.Certificate) != 77 {
		t.Errorf("RHello: tag %d cookie %d cert %d, %v", len(rh.Tag), len(rh.Cookie), len(rh.Certificate), err)
	}
	checkPrefixes(t, TypeRHello, v)

	v = first("d_rtmfpcpp", TypeRHello) // rtmfp-cpp: 65-byte cookie
	if rh, err = ParseRHello(v); err != nil || len(rh.Tag) != 16 || len(rh.Cookie) != 65 {
		t.Errorf("rtmfp-cpp RHello: tag %d cookie %d, %v", len(rh.Tag), len(rh.Cookie), err)
	}

	v = first("a_unicast", TypeIIKeying) // librtmfp: 38 01 19 | ISID | 40 | 81 04 | 4c | 58
	ik, err := ParseIIKeying(v)
	if err != nil || ik.InitiatorSessionID != 0x02000000 || len(ik.Cookie) != 64 || len(ik.Certificate) != 132 ||
		len(ik.SKIC) != 76 || !bytes.Equal(ik.Signature, []byte("X")) || ik.Len() != 3+0x119 {
		t.Errorf("IIKeying: %#x cookie %d cert %d skic %d sig %x len %d, %v", ik.InitiatorSessionID,
			len(ik.Cookie), len(ik.Certificate), len(ik.SKIC), ik.Signature, ik.Len(), err)
	}
	checkPrefixes(t, TypeIIKeying, v)

	v = first("d_rtmfpcpp", TypeIIKeying) // rtmfp-cpp: 908-byte certificate
	if ik, err = ParseIIKeying(v); err != nil || len(ik.Certificate) != 908 {
		t.Errorf("rtmfp-cpp IIKeying: cert %d, %v", len(ik.Certificate), err)
	}

	v = first("a_unicast", TypeRIKeying) // MonaServer2: RSID | 81 0b | 58
	rk, err := ParseRIKeying(v)
	if err != nil || rk.ResponderSessionID != 1 || len(rk.SKRC) != 139 || !bytes.Equal(rk.Signature, []byte("X")) || rk.Len() != 3+146 {
		t.Errorf("RIKeying: %#x skrc %d sig %x, %v", rk.ResponderSessionID, len(rk.SKRC), rk.Signature, err)
	}
	checkPrefixes(t, TypeRIKeying, v)
}

func TestChunkTypesDistinct(t *testing.T) {
	seen := map[byte]bool{}
	for _, typ := range knownTypes {
		if seen[typ] || typ == TypePadding || typ == TypePadding0 {
			t.Errorf("type %#x repeated or reserved", typ)
		}
		seen[typ] = true
	}
}
