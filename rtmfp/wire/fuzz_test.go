package wire

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
)

// traceSeeds returns a few real packet bodies (after the integrity prefix)
// from each recorded scenario.
func traceSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, s := range tracefile.Scenarios {
		ds := loadTrace(f, s)
		seen := map[byte]bool{}
		for _, d := range ds {
			if !d.IsRTMFP() || d.Integrity != "checksum" || len(d.Chunks) == 0 || seen[d.Chunks[0].Type] {
				continue
			}
			seen[d.Chunks[0].Type] = true
			out = append(out, d.Plain[2:])
		}
	}
	return out
}

// checkStable checks that a parsed chunk encodes to Len() bytes with a
// correct header, and that parsing that encoding and encoding again gives
// the same bytes (parse → encode → parse is stable).
func checkStable(t *testing.T, typ byte, c encoder) {
	t.Helper()
	enc := c.Append(nil)
	if len(enc) != c.Len() {
		t.Fatalf("type %#x: Len %d, Append wrote %d", typ, c.Len(), len(enc))
	}
	if len(enc) < ChunkHeaderLen || enc[0] != typ || int(enc[1])<<8|int(enc[2]) != len(enc)-ChunkHeaderLen {
		t.Fatalf("type %#x: bad chunk header in %x", typ, enc)
	}
	c2, _, err := parseChunk(typ, enc[ChunkHeaderLen:])
	if err != nil {
		t.Fatalf("type %#x: own encoding %x fails to parse: %v", typ, enc, err)
	}
	if enc2 := c2.Append(nil); !bytes.Equal(enc, enc2) {
		t.Fatalf("type %#x: unstable: %x then %x", typ, enc, enc2)
	}
}

// FuzzChunks runs the chunk loop over a packet body and every chunk parser
// on what it finds.
func FuzzChunks(f *testing.F) {
	for _, b := range traceSeeds(f) {
		f.Add(b)
	}
	for _, tc := range chunkVectors {
		f.Add(AppendChunk(nil, tc.typ, unhex(f, tc.value)))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, n, err := ParseHeader(body)
		if err == nil {
			if enc := h.Append(nil); !bytes.Equal(enc, body[:n]) {
				t.Fatalf("header %x re-encodes to %x", body[:n], enc)
			}
		}
		r := NewChunkReader(body)
		used := 0
		for r.Next() {
			used += ChunkHeaderLen + len(r.Value())
			c, known, err := parseChunk(r.Type(), r.Value())
			if known && err == nil {
				checkStable(t, r.Type(), c)
			}
		}
		if used+len(r.Rest()) != len(body) {
			t.Fatalf("chunks %d + rest %d != %d", used, len(r.Rest()), len(body))
		}
		if r.Err() == nil && len(r.Rest()) >= ChunkHeaderLen && r.Rest()[0] != 0xff && r.Rest()[0] != 0 {
			t.Fatalf("stopped cleanly before a chunk: %x", r.Rest())
		}
	})
}

// FuzzChunk feeds one chunk value to the parser its type byte selects.
func FuzzChunk(f *testing.F) {
	for _, tc := range chunkVectors {
		f.Add(tc.typ, unhex(f, tc.value))
	}
	f.Fuzz(func(t *testing.T, typ byte, v []byte) {
		if typ >= 0x80 {
			typ = knownTypes[int(typ)%len(knownTypes)] // steer most inputs to a parser
		}
		c, known, err := parseChunk(typ, v)
		if !known || err != nil {
			return
		}
		checkStable(t, typ, c)
		if !lenientTail(typ) && !bytes.Equal(c.Append(nil)[ChunkHeaderLen:], v) && hasMinimalVLUs(typ, v) {
			t.Fatalf("type %#x: %x re-encodes to %x", typ, v, c.Append(nil))
		}
	})
}

// hasMinimalVLUs is a coarse filter: a VLU byte 0x80 (a leading zero group)
// makes an encoding non-canonical, and ranges past MaxAckRanges are dropped.
// Inputs with neither must round-trip byte for byte.
func hasMinimalVLUs(typ byte, v []byte) bool {
	if typ == TypeAckRanges {
		return false // counted precisely in FuzzAck
	}
	return !bytes.Contains(v, []byte{0x80})
}

func FuzzHeader(f *testing.F) {
	for _, s := range []string{"0b 1234", "4e b855 b854", "05 0102", "01", "00", "8d 0102"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			return
		}
		if n > len(b) || h.Len() != n || !bytes.Equal(h.Append(nil), b[:n]) {
			t.Fatalf("%x: %+v n=%d re-encodes to %x", b, h, n, h.Append(nil))
		}
	})
}

func FuzzAddress(f *testing.F) {
	for _, s := range []string{"02 7f000001 b422", "81 fd000000000000000000000000000002 ebbe", "00 00000000 0000", "7f 0a000001 0001"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, n, err := ParseAddress(b)
		if err != nil {
			return
		}
		if n > len(b) || a.Len() != n || !bytes.Equal(a.Append(nil), b[:n]) {
			t.Fatalf("%x: %+v n=%d re-encodes to %x", b, a, n, a.Append(nil))
		}
	})
}

func FuzzAck(f *testing.F) {
	for _, tc := range chunkVectors {
		if tc.typ == TypeAckBitmap || tc.typ == TypeAckRanges {
			f.Add(tc.typ == TypeAckBitmap, unhex(f, tc.value))
		}
	}
	var a Ack // reused across runs, as the engine would
	f.Fuzz(func(t *testing.T, bitmap bool, v []byte) {
		typ := TypeAckRanges
		if bitmap {
			typ = TypeAckBitmap
		}
		if err := ParseAckInto(typ, v, &a); err != nil {
			return
		}
		if len(a.Ranges) > MaxAckRanges {
			t.Fatalf("%d ranges", len(a.Ranges))
		}
		var span uint64 = 0
		for _, r := range a.Ranges {
			if r.Holes == 0 || r.Received == 0 {
				t.Fatalf("zero count in %+v", a.Ranges)
			}
			span += r.Holes + r.Received // cannot wrap: the parser checked
		}
		if a.CumulativeAck+span < a.CumulativeAck {
			t.Fatalf("ranges pass 2^64-1: %+v", a)
		}
		for _, enc := range [][]byte{a.AppendRanges(nil), a.AppendBitmap(nil)} {
			if span > MaxAckBitmapBits+1 && enc[0] == TypeAckBitmap {
				continue // the bitmap cannot hold it all
			}
			back, err := ParseAck(enc[0], enc[ChunkHeaderLen:])
			if err != nil || !ackEqual(a, back) {
				t.Fatalf("%+v as %x reads back %+v, %v", a, enc, back, err)
			}
		}
		if a.RangesLen() != len(a.AppendRanges(nil)) || a.BitmapLen() != len(a.AppendBitmap(nil)) {
			t.Fatalf("Len mismatch for %+v", a)
		}
	})
}

func FuzzUserDataOptions(f *testing.F) {
	for _, s := range []string{"05 00 54430400 00", "05 00 54430401 02 0a 02 00", "00", "02 05 01 00", "03 c000 01 00"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseUserDataOptions(b)
		if err != nil {
			return
		}
		enc := o.Append(nil)
		if len(enc) != o.Len() {
			t.Fatalf("Len %d, wrote %d", o.Len(), len(enc))
		}
		o2, err := ParseUserDataOptions(enc)
		if err != nil || !bytes.Equal(o2.Metadata, o.Metadata) || (o2.Metadata == nil) != (o.Metadata == nil) ||
			o2.ReturnAssociation != o.ReturnAssociation || o2.HasReturnAssociation != o.HasReturnAssociation {
			t.Fatalf("%x → %+v → %x → %+v %v", b, o, enc, o2, err)
		}
	})
}
