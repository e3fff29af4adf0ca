package vlu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
)

// Known encodings from RFC 7016 §2.1.2 and from recorded Flash traffic.
var vluCases = []struct {
	v   uint64
	hex string
}{
	{0, "00"},
	{1, "01"},
	{127, "7f"},
	{128, "8100"},
	{130, "8102"},
	{132, "8104"},
	{139, "810b"},
	{16383, "ff7f"},
	{16384, "818000"},
	{65407, "83fe7f"},
	{2000001, "fa8901"},
	{math.MaxUint64, "81ffffffffffffffff7f"},
}

func TestVLUKnownAnswers(t *testing.T) {
	for _, c := range vluCases {
		want, _ := hex.DecodeString(c.hex)
		got := Append(nil, c.v)
		if !bytes.Equal(got, want) {
			t.Errorf("Append(%d) = %x, want %s", c.v, got, c.hex)
		}
		if Len(c.v) != len(want) {
			t.Errorf("Len(%d) = %d, want %d", c.v, Len(c.v), len(want))
		}
		v, n, err := Parse(append(want, 0xAA))
		if err != nil || v != c.v || n != len(want) {
			t.Errorf("Parse(%s) = %d, %d, %v", c.hex, v, n, err)
		}
		for i := range len(want) {
			if _, _, err := Parse(want[:i]); !errors.Is(err, ErrTruncated) {
				t.Errorf("Parse(%x) err = %v, want ErrTruncated", want[:i], err)
			}
		}
	}
}

func TestVLUOverflow(t *testing.T) {
	for _, h := range []string{
		"82808080808080808000", // 2^64 needs 65 bits
		"8080808080808080808000",
	} {
		b, _ := hex.DecodeString(h)
		if _, _, err := Parse(b); !errors.Is(err, ErrOverflow) {
			t.Errorf("Parse(%s) err = %v, want ErrOverflow", h, err)
		}
	}
}

func TestOptionListKnownAnswers(t *testing.T) {
	// A Flash server certificate's head and a user data option list as recorded.
	b, _ := hex.DecodeString("0500544304000" + "2" + "0a0200ff")
	opts, n, err := ParseOptionList(b)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(b)-1 {
		t.Fatalf("consumed %d, want %d", n, len(b)-1)
	}
	if len(opts) != 2 || opts[0].Type != 0 || !bytes.Equal(opts[0].Value, []byte("TC\x04\x00")) ||
		opts[1].Type != 0x0a || !bytes.Equal(opts[1].Value, []byte{2}) {
		t.Fatalf("options = %+v", opts)
	}
	var enc []byte
	for _, o := range opts {
		if o.Len() != len(o.Append(nil)) {
			t.Fatalf("Len mismatch for %+v", o)
		}
		enc = o.Append(enc)
	}
	enc = AppendMarker(enc)
	if !bytes.Equal(enc, b[:n]) {
		t.Fatalf("re-encoded %x, want %x", enc, b[:n])
	}
	if v, ok := Find(b, 0x0a); !ok || !bytes.Equal(v, []byte{2}) {
		t.Fatalf("Find = %x, %v", v, ok)
	}
	if _, _, err := ParseOptionList(b[:3]); err == nil {
		t.Fatal("truncated list parsed")
	}
	if _, _, err := ParseOptionList(b[:6]); !errors.Is(err, ErrMissingMarker) {
		t.Fatalf("unterminated list err = %v", err)
	}
}

func TestOptionsSkipsMarkers(t *testing.T) {
	b := AppendOption(nil, 1, []byte{9})
	b = AppendMarker(b)
	b = AppendOption(b, 2, nil)
	it := NewOptions(b)
	var types []uint64
	for it.Next() {
		types = append(types, it.Option().Type)
	}
	if it.Err() != nil || len(types) != 2 || types[1] != 2 || !it.Marker() {
		t.Fatalf("types %v err %v", types, it.Err())
	}
}

func BenchmarkParse(b *testing.B) {
	enc := Append(nil, 2000001)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzVLU(f *testing.F) {
	for _, c := range vluCases {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Parse(b)
		if err != nil {
			return
		}
		if n > MaxLen || n > len(b) {
			t.Fatalf("n = %d for %x", n, b)
		}
		// A VLU may carry redundant leading 0x80 bytes; the canonical
		// encoding must parse back to the same value.
		enc := Append(nil, v)
		v2, n2, err := Parse(enc)
		if err != nil || v2 != v || n2 != len(enc) || len(enc) > n {
			t.Fatalf("round trip of %d: %x -> %d, %d, %v", v, enc, v2, n2, err)
		}
	})
}

func FuzzOptionList(f *testing.F) {
	f.Add([]byte{0x05, 0x00, 'T', 'C', 0x04, 0x00, 0x02, 0x0a, 0x02, 0x00})
	f.Add([]byte{0x02, 0x15, 0x02, 0x00})
	f.Add([]byte{0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		opts, n, err := ParseOptionList(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		var enc []byte
		for _, o := range opts {
			enc = o.Append(enc)
		}
		enc = AppendMarker(enc)
		opts2, n2, err := ParseOptionList(enc)
		if err != nil || n2 != len(enc) || len(opts2) != len(opts) {
			t.Fatalf("re-parse: %v %d %d", err, n2, len(opts2))
		}
		for i := range opts {
			if opts[i].Type != opts2[i].Type || !bytes.Equal(opts[i].Value, opts2[i].Value) {
				t.Fatalf("option %d differs", i)
			}
		}
	})
}
