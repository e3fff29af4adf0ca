package group

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// checkRoundTrip asserts the codec invariants: a decoded message encodes to
// Len bytes, the encoding decodes again, and encoding is then stable. When
// the input is canonical (it is in every seed), it is reproduced exactly.
func checkRoundTrip(t *testing.T, in []byte, dec func([]byte) (Message, error)) {
	m, err := dec(in)
	if err != nil {
		return
	}
	out := m.Append(nil)
	if len(out) != m.Len() {
		t.Fatalf("%T: Len %d, encoded %d bytes", m, m.Len(), len(out))
	}
	m2, err := dec(out)
	if err != nil {
		t.Fatalf("%T: re-encoding %x does not decode: %v", m, out, err)
	}
	if out2 := m2.Append(nil); !bytes.Equal(out, out2) {
		t.Fatalf("%T: unstable encoding %x then %x", m, out, out2)
	}
	if m.Type() != in[0] {
		t.Fatalf("%T: type %x from %x", m, m.Type(), in[0])
	}
}

func addSeeds(f *testing.F, gc bool) {
	for _, v := range messageVectors {
		if v.gc == gc {
			b, _ := hex.DecodeString(v.hex)
			f.Add(b)
		}
	}
}

func FuzzDecodeGC(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip(t, b, DecodeGC) })
}

func FuzzDecodeGR(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) { checkRoundTrip(t, b, DecodeGR) })
}

func FuzzReport(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTrip(t, b, func(b []byte) (Message, error) { return ParseReport(b) })
	})
}

func FuzzSpec(f *testing.F) {
	for _, s := range []string{traceSpec, "G:027f02010101000103010c050e74657374011b00",
		"G:01010103010C050E74657374011B00", "G:010c160e666d732e6d756c746963617374" + "2e6578616d706c6500070aef0102037530", osmfAuthSpec} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			return
		}
		if sp.String() != s || len(sp.GroupTxt()) > len(s) || s[:len(sp.GroupTxt())] != sp.GroupTxt() {
			t.Fatalf("text %q, GroupTxt %q", s, sp.GroupTxt())
		}
		_ = sp.GroupID()
		_ = sp.IPMulticastAddresses()
		_ = sp.Authorized()
		if w, err := ParseSpec(sp.WithoutAuthorizations()); err != nil || w.GroupID() != sp.GroupID() || len(w.Authorizations()) != 0 {
			t.Fatalf("without authorizations %q: %v", sp.WithoutAuthorizations(), err)
		}
		// Rebuilding from the parsed options in wire order gives a spec
		// with the same options.
		b := &SpecBuilder{}
		for _, o := range sp.Options() {
			if o.Type <= 0xFF {
				b.Option(byte(o.Type), o.Value)
			}
		}
		b.Version2(sp.Version() == 2)
		for _, o := range sp.Trailer() {
			if o.Type <= 0xFF {
				b.TrailerOption(byte(o.Type), o.Value)
			}
		}
		again, err := ParseSpec(b.Build().String())
		if err != nil {
			t.Fatalf("rebuilt spec does not parse: %v", err)
		}
		if again.Version() != sp.Version() {
			t.Fatalf("version %d → %d", sp.Version(), again.Version())
		}
	})
}
