package wire

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// received expands an ack into the set of sequence numbers it says were
// received after CumulativeAck.
func received(a Ack) map[uint64]bool {
	m := map[uint64]bool{}
	pos := a.CumulativeAck
	for _, r := range a.Ranges {
		pos += r.Holes
		for i := uint64(1); i <= r.Received; i++ {
			m[pos+i] = true
		}
		pos += r.Received
	}
	return m
}

// The doc example: CumulativeAck 10, ranges {2,3} {1,1}.
func TestAckSemantics(t *testing.T) {
	a := Ack{FlowID: 1, BufferBlocksAvailable: 1, CumulativeAck: 10, Ranges: []AckRange{{2, 3}, {1, 1}}}
	got := received(a)
	for s, want := range map[uint64]bool{11: false, 12: false, 13: true, 14: true, 15: true, 16: false, 17: true, 18: false} {
		if got[s] != want {
			t.Errorf("seq %d received %v, want %v", s, got[s], want)
		}
	}
	// Ranges: pairs minus one.
	if enc := a.AppendRanges(nil); !bytes.Equal(enc, unhex(t, "51 0007 01 01 0a 01 02 00 00")) {
		t.Errorf("ranges %x", enc)
	}
	// Bitmap: bit i is C+2+i. 13,14,15 → bits 1,2,3; 17 → bit 5.
	if enc := a.AppendBitmap(nil); !bytes.Equal(enc, unhex(t, "50 0004 01 01 0a 2e")) {
		t.Errorf("bitmap %x", enc)
	}
}

func TestAckBitmapBitOrder(t *testing.T) {
	// Only C+2 received: bit 0 of the first byte.
	a, err := ParseAckBitmap(unhex(t, "01 01 64 01"))
	if err != nil || len(a.Ranges) != 1 || a.Ranges[0] != (AckRange{1, 1}) || !received(a)[102] {
		t.Errorf("bit 0: %+v %v", a, err)
	}
	// Only C+9: bit 7 of the first byte. C+10: bit 0 of the second.
	a, _ = ParseAckBitmap(unhex(t, "01 01 64 80 01"))
	if got := received(a); len(got) != 2 || !got[109] || !got[110] {
		t.Errorf("bits 7 and 8: %v", got)
	}
	// All ones then zeros: one range; trailing zero bytes describe nothing.
	a, _ = ParseAckBitmap(unhex(t, "01 01 64 ff 00 00"))
	if len(a.Ranges) != 1 || a.Ranges[0] != (AckRange{1, 8}) {
		t.Errorf("ff 00 00: %+v", a.Ranges)
	}
	// An empty bitmap is a plain cumulative ack.
	a, err = ParseAckBitmap(unhex(t, "01 01 64"))
	if err != nil || len(a.Ranges) != 0 || a.CumulativeAck != 100 {
		t.Errorf("empty bitmap: %+v %v", a, err)
	}
}

func TestAckRangesErrors(t *testing.T) {
	max10 := vlu.Append(nil, ^uint64(0))
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"half pair", unhex(t, "01 01 05 00"), ErrTruncated},
		{"cut VLU", unhex(t, "01 01 05 00 81"), ErrTruncated},
		{"holes count overflows", append(unhex(t, "01 01 05"), append(max10, 0)...), ErrAckOverflow},
		{"received count overflows", append(unhex(t, "01 01 05 00"), max10...), ErrAckOverflow},
		{"range passes 2^64-1", append(append(unhex(t, "01 01"), vlu.Append(nil, ^uint64(0)-3)...), 0, 5), ErrAckOverflow},
		{"bad VLU", unhex(t, "01 01 ffffffffffffffffffff7f"), ErrBadVLU},
	}
	for _, tc := range tests {
		a := Ack{Ranges: make([]AckRange, 3, 8)}
		if err := ParseAckInto(TypeAckRanges, tc.in, &a); err != tc.err {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
		if a.FlowID != 0 || len(a.Ranges) != 0 || cap(a.Ranges) != 8 {
			t.Errorf("%s: after error %+v cap %d", tc.name, a, cap(a.Ranges))
		}
	}
	if err := ParseAckInto(TypeUserData, []byte{1, 1, 1}, &Ack{}); err != ErrNotAck {
		t.Errorf("wrong type: %v", err)
	}
	// A bitmap that reaches past 2^64-1.
	if _, err := ParseAckBitmap(append(append(unhex(t, "01 01"), vlu.Append(nil, ^uint64(0)-5)...), 0xff)); err != ErrAckOverflow {
		t.Errorf("bitmap overflow: %v", err)
	}
}

func TestAckRangesCap(t *testing.T) {
	v := unhex(t, "01 01 00")
	for i := 0; i < MaxAckRanges+10; i++ {
		v = append(v, 0, 0)
	}
	a, err := ParseAckRanges(v)
	if err != nil || len(a.Ranges) != MaxAckRanges {
		t.Fatalf("ranges: %d %v", len(a.Ranges), err)
	}
	// Alternating bits give one range per two bits.
	bm := unhex(t, "01 01 00")
	for i := 0; i < MaxAckRanges; i++ {
		bm = append(bm, 0x55)
	}
	a, err = ParseAckBitmap(bm)
	if err != nil || len(a.Ranges) != MaxAckRanges {
		t.Fatalf("bitmap: %d %v", len(a.Ranges), err)
	}
	// What was kept re-encodes and reads back the same.
	back, err := ParseAckBitmap(a.AppendBitmap(nil)[ChunkHeaderLen:])
	if err != nil || !ackEqual(a, back) {
		t.Errorf("truncated bitmap does not read back: %v", err)
	}
}

func TestParseAckIntoReuses(t *testing.T) {
	v := unhex(t, "05 7f 0a 01 02 00 00")
	a := Ack{Ranges: make([]AckRange, 0, 4)}
	p := &a.Ranges[:1][0]
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseAckInto(TypeAckRanges, v, &a); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || &a.Ranges[0] != p || len(a.Ranges) != 2 {
		t.Errorf("allocs %v, reused %v, ranges %+v", allocs, &a.Ranges[0] == p, a.Ranges)
	}
}

func TestAckEncodeZeroCounts(t *testing.T) {
	// Zero counts are written as 1.
	a := Ack{FlowID: 1, BufferBlocksAvailable: 1, CumulativeAck: 1, Ranges: []AckRange{{0, 0}}}
	if enc := a.AppendRanges(nil); !bytes.Equal(enc, unhex(t, "51 0005 01 01 01 00 00")) || a.RangesLen() != len(enc) {
		t.Errorf("ranges %x", enc)
	}
	if enc := a.AppendBitmap(nil); !bytes.Equal(enc, unhex(t, "50 0004 01 01 01 01")) || a.BitmapLen() != len(enc) {
		t.Errorf("bitmap %x", enc)
	}
}

func TestAckBitmapLimit(t *testing.T) {
	// A received run far beyond what a chunk can hold is cut at the limit.
	a := Ack{FlowID: 1, BufferBlocksAvailable: 1, Ranges: []AckRange{{1, 1}, {1 << 40, 5}}}
	enc := a.AppendBitmap(nil)
	if a.BitmapLen() != len(enc) || len(enc) != ChunkHeaderLen+3+1 {
		t.Errorf("far range: len %d BitmapLen %d", len(enc), a.BitmapLen())
	}
	a = Ack{FlowID: 1, BufferBlocksAvailable: 1, Ranges: []AckRange{{1, ^uint64(0)}, {^uint64(0), ^uint64(0)}}}
	enc = a.AppendBitmap(nil)
	if a.BitmapLen() != len(enc) || len(enc)-ChunkHeaderLen > MaxChunkValueLen {
		t.Errorf("huge ranges: len %d BitmapLen %d", len(enc), a.BitmapLen())
	}
	back, err := ParseAckBitmap(enc[ChunkHeaderLen:])
	if err != nil || len(back.Ranges) != 1 || back.Ranges[0].Received != MaxAckBitmapBits {
		t.Errorf("huge ranges read back %+v %v", back.Ranges, err)
	}
}
