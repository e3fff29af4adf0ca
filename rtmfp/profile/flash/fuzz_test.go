package flash

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// FuzzOpen feeds arbitrary packets to codecs of every integrity form: Open
// must never panic; a packet it accepts must seal back to itself (for the
// forms without sequence numbers) and a failed one must be left unchanged.
func FuzzOpen(f *testing.F) {
	s, _ := NewCodec(testKey, Integrity{})
	f.Add(uint8(0), s.Seal(nil, []byte("\x0b\x00\x01\x30\x00\x02ab")))
	for _, sc := range tracefile.Scenarios {
		dgs := traceDatagrams(f, sc)
		for _, i := range []int{0, 1, len(dgs) / 2} {
			if dgs[i].IsRTMFP() {
				f.Add(uint8(0), bytes.Clone(dgs[i].Wire[4:]))
			}
		}
	}
	for i, m := range integrityModes {
		s, _ := NewCodec(testKey, m.in)
		f.Add(uint8(i), s.Seal(nil, []byte("\x89\x00\x01\x10\x00\x01x")))
	}
	f.Fuzz(func(t *testing.T, mode uint8, pkt []byte) {
		m := integrityModes[int(mode)%len(integrityModes)]
		c, err := NewCodec(testKey, m.in)
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(pkt)
		body, err := c.Open(pkt)
		if err != nil {
			if !errors.Is(err, profile.ErrIntegrity) && !errors.Is(err, profile.ErrReplay) {
				t.Fatalf("unexpected error %v", err)
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatal("failed Open changed the packet")
			}
			return
		}
		if m.in.Sequence {
			return
		}
		if again := c.Seal(nil, body); !bytes.Equal(again, orig) {
			t.Fatal("accepted packet does not seal back to itself")
		}
	})
}

// FuzzCertificate parses arbitrary certificates: no panic, and the
// fingerprint is the SHA-256 of a prefix of the input.
func FuzzCertificate(f *testing.F) {
	for _, s := range allSessions(f) {
		f.Add(bytes.Clone(s.InitiatorCertificate))
		f.Add(bytes.Clone(s.ResponderCertificate))
	}
	f.Add([]byte("\x01\x0a\x00\x02\x15\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, ferr := fingerprint(b)
		c, err := parseCertificate(b)
		if err != nil {
			return
		}
		if ferr != nil || id != c.fingerprint {
			t.Fatal("fingerprint disagrees with parseCertificate")
		}
		if !bytes.HasPrefix(b, c.canonical) {
			t.Fatal("canonical part is not a prefix")
		}
		if c.isStatic() == (len(c.groups) > 0) {
			t.Fatal("certificate both static and ephemeral")
		}
		for _, k := range c.static {
			if got, ok := c.staticKey(k.group); !ok || len(got) == 0 {
				t.Fatal("static key lookup")
			}
		}
	})
}

// FuzzComponent parses arbitrary session key components and runs them
// through Respond (as initiator component) and Finish (as responder
// component): errors only, never a panic.
func FuzzComponent(f *testing.F) {
	for _, s := range allSessions(f) {
		f.Add(bytes.Clone(s.InitiatorSessionKeyComponent))
		f.Add(bytes.Clone(s.ResponderSessionKeyComponent))
	}
	srv, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	cli, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseComponent(b)
		if err != nil {
			return
		}
		if _, err := (policy{hmacLen: 10}).negotiate(c); err != nil {
			return
		}
		if _, sc, err := srv.Respond(srv.StaticCertificate(), cli.StaticCertificate(), b); err == nil && sc == nil {
			t.Fatal("Respond returned no session and no error")
		}
		in, _ := cli.NewInitiator(PeerEPD(srv.PeerID()))
		if _, _, err := in.Keying(srv.StaticCertificate()); err != nil {
			t.Fatal(err)
		}
		if sc, err := in.Finish(b); err == nil && sc == nil {
			t.Fatal("Finish returned no session and no error")
		}
	})
}
