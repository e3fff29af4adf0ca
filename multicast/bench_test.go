package multicast

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

func BenchmarkParseFragment(b *testing.B) {
	in := Fragment{Marker: TypeFragmentFirst, ID: 123456, Count: 3, MediaType: 9, Payload: make([]byte, 959)}.Append(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseFragment(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFragmentAndReassemble(b *testing.B) {
	m := media.Message{Type: media.TypeVideo, Payload: bytes.Repeat([]byte{1}, 4000)}
	fr := &Fragmenter{}
	r := NewReassembler(ReassemblerConfig{})
	var frags []Fragment
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Payload)))
	for b.Loop() {
		frags, _ = fr.Fragment(frags[:0], m)
		for _, f := range frags {
			r.Add(f)
		}
		if _, _, ok := r.Pop(); !ok {
			b.Fatal("no message")
		}
	}
}

func BenchmarkFragmentsMapHas(b *testing.B) {
	m, _ := FullFragmentsMap(1, 8001)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !m.Has(uint64(i%8000) + 1) {
			b.Fatal("missing")
		}
	}
}
