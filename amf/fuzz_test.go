package amf

import (
	"bytes"
	"errors"
	"testing"
)

// checkError fails unless err is one of the package's sentinel errors.
func checkError(t *testing.T, err error) {
	t.Helper()
	for _, s := range []error{ErrTruncated, ErrMalformed, ErrLimit, ErrUnsupported} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error without a sentinel: %v", err)
}

// FuzzDecodeAMF0 checks that AMF0 decoding never panics, that whatever
// decodes re-encodes, that the re-encoding decodes to the same values and
// that a second round trip is a fixed point.
func FuzzDecodeAMF0(f *testing.F) {
	for _, v := range vectors() {
		if v.amf3 {
			f.Add(append([]byte{marker0AVMPlus}, v.in...))
		} else {
			f.Add(v.in)
		}
	}
	for _, v := range errVectors() {
		if !v.amf3 {
			f.Add(v.in)
		}
	}
	keep := Decoder{KeepAVMPlus: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, n, err := Decode(b); n > len(b) || (err == nil && n == 0) {
			t.Fatalf("Decode used %d of %d bytes (%v)", n, len(b), err)
		}
		vs, err := keep.DecodeAll(b)
		plain, perr := DecodeAll(b)
		if (err == nil) != (perr == nil) {
			t.Fatalf("KeepAVMPlus changes the outcome: %v / %v", err, perr)
		}
		if err != nil {
			checkError(t, err)
			return
		}
		b2, err := AppendAMF0(nil, vs...)
		if err != nil {
			t.Fatalf("re-encode %s: %v", render(vs), err)
		}
		vs2, err := keep.DecodeAll(b2)
		if err != nil {
			t.Fatalf("decode re-encoding % x: %v", b2, err)
		}
		if g, w := render(vs2), render(vs); g != w {
			t.Fatalf("round trip changed the values\n got %s\nwant %s", g, w)
		}
		b3, err := AppendAMF0(nil, vs2...)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("second round trip differs (%v)\n% x\n% x", err, b2, b3)
		}
		// Without the wrappers, AMF3 values are written as AMF0 where
		// possible; that must still work.
		b4, err := AppendAMF0(nil, plain...)
		if err != nil {
			t.Fatalf("re-encode plain %s: %v", render(plain), err)
		}
		if _, err := DecodeAll(b4); err != nil {
			t.Fatalf("decode plain re-encoding: %v", err)
		}
	})
}

// FuzzDecodeAMF3 is FuzzDecodeAMF0 for AMF3 sequences.
func FuzzDecodeAMF3(f *testing.F) {
	for _, v := range vectors() {
		if v.amf3 {
			f.Add(v.in)
		}
	}
	for _, v := range errVectors() {
		if v.amf3 {
			f.Add(v.in)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, n, err := DecodeAMF3(b); n > len(b) || (err == nil && n == 0) {
			t.Fatalf("DecodeAMF3 used %d of %d bytes (%v)", n, len(b), err)
		}
		vs, err := DecodeAMF3All(b)
		if err != nil {
			checkError(t, err)
			return
		}
		b2, err := AppendAMF3(nil, vs...)
		if err != nil {
			t.Fatalf("re-encode %s: %v", render(vs), err)
		}
		vs2, err := DecodeAMF3All(b2)
		if err != nil {
			t.Fatalf("decode re-encoding % x: %v", b2, err)
		}
		if g, w := render(vs2), render(vs); g != w {
			t.Fatalf("round trip changed the values\n got %s\nwant %s", g, w)
		}
		b3, err := AppendAMF3(nil, vs2...)
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("second round trip differs (%v)\n% x\n% x", err, b2, b3)
		}
		// Every decoded value can also be written in AMF0.
		b4, err := AppendAMF0(nil, vs...)
		if err != nil {
			t.Fatalf("AMF0 encoding %s: %v", render(vs), err)
		}
		if _, err := DecodeAll(b4); err != nil {
			t.Fatalf("decode AMF0 encoding: %v", err)
		}
	})
}
