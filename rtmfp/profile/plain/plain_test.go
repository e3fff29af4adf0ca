package plain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

func TestCodecRoundTripAndCorruption(t *testing.T) {
	c := NewCodec(42)
	for _, n := range []int{0, 1, 3, 4, 5, 100, 1200} {
		body := bytes.Repeat([]byte{0x5a}, n)
		pkt := c.Seal([]byte("pre"), body)[3:]
		if len(pkt) < 8 || len(pkt) > n+c.Overhead() {
			t.Fatalf("%d-byte body sealed into %d bytes", n, len(pkt))
		}
		got, err := c.Open(pkt)
		if err != nil || !bytes.HasPrefix(got, body) || len(got) != len(pkt)-4 {
			t.Fatalf("%d-byte body: %x %v", n, got, err)
		}
		for _, b := range got[n:] {
			if b != 0xff {
				t.Fatalf("padding %x", got[n:])
			}
		}
		for i := range pkt {
			bad := bytes.Clone(pkt)
			bad[i] ^= 0x10
			if _, err := c.Open(bad); !errors.Is(err, profile.ErrIntegrity) {
				t.Fatalf("byte %d corrupted: %v", i, err)
			}
		}
		if _, err := NewCodec(43).Open(pkt); !errors.Is(err, profile.ErrIntegrity) {
			t.Fatal("other key accepted")
		}
	}
	if _, err := c.Open(make([]byte, 7)); !errors.Is(err, profile.ErrIntegrity) {
		t.Fatal("7-byte packet accepted")
	}
	buf := make([]byte, 0, 64)
	if a := testing.AllocsPerRun(20, func() {
		_, _ = c.Open(c.Seal(buf[:0], []byte("hello")))
	}); a != 0 {
		t.Errorf("%.0f allocations per Seal+Open", a)
	}
}

func peerEPD(p *Profile) []byte {
	id := p.PeerID()
	return vlu.AppendOption(nil, optFingerprint, id[:])
}

func handshake(t *testing.T, ip, rp *Profile, epd []byte) (*profile.SessionCrypto, *profile.SessionCrypto, []byte) {
	t.Helper()
	in, err := ip.NewInitiator(epd)
	if err != nil {
		t.Fatal(err)
	}
	e, err := rp.ParseEPD(epd)
	if err != nil {
		t.Fatal(err)
	}
	rc := rp.ResponderCertificate(e)
	icert, skic, err := in.Keying(rc)
	if err != nil {
		t.Fatal(err)
	}
	skrc, rsc, err := rp.Respond(rc, icert, skic)
	if err != nil {
		t.Fatal(err)
	}
	isc, err := in.Finish(skrc)
	if err != nil {
		t.Fatal(err)
	}
	return isc, rsc, rc
}

func TestHandshakes(t *testing.T) {
	a, b := New("alice"), New("bob")
	for _, c := range []struct {
		name   string
		epd    []byte
		static bool
	}{
		{"server", vlu.AppendOption(nil, optAncillary, []byte("rtmfp://host/app")), false},
		{"peer", peerEPD(b), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			isc, rsc, rc := handshake(t, a, b, c.epd)
			if bytes.Equal(rc, b.StaticCertificate()) != c.static {
				t.Fatal("wrong responder certificate")
			}
			for _, pair := range [][2]profile.PacketCodec{{isc.Send, rsc.Recv}, {rsc.Send, isc.Recv}} {
				got, err := pair[1].Open(pair[0].Seal(nil, []byte("\x89\x00\x01data")))
				if err != nil || !bytes.HasPrefix(got, []byte("\x89\x00\x01data")) {
					t.Fatalf("session packet: %v", err)
				}
			}
			if _, err := isc.Recv.Open(isc.Send.Seal(nil, []byte("x"))); err == nil {
				t.Error("both directions share a key")
			}
			if _, err := a.StartupCodec().Open(isc.Send.Seal(nil, []byte("x"))); err == nil {
				t.Error("startup codec opens a session packet")
			}
			if rsc.FarPeerID != a.PeerID() || !bytes.Equal(isc.NearNonce, rsc.FarNonce) || !bytes.Equal(isc.FarNonce, rsc.NearNonce) {
				t.Error("sides disagree")
			}
			if id, _ := a.Fingerprint(rc); isc.FarPeerID != id {
				t.Error("initiator's far peer ID")
			}
		})
	}
	// Two handshakes between the same endpoints get different keys.
	epd := vlu.AppendOption(nil, optAncillary, []byte("x"))
	s1, _, _ := handshake(t, a, b, epd)
	_, r2, _ := handshake(t, a, b, epd)
	if _, err := r2.Recv.Open(s1.Send.Seal(nil, []byte("x"))); err == nil {
		t.Error("two sessions share a key")
	}
}

func TestDeterministicIdentity(t *testing.T) {
	if x1, x2 := New("x"), New("x"); x1.PeerID() != x2.PeerID() || New("x").PeerID() == New("y").PeerID() {
		t.Fatal("peer IDs are not a function of the name")
	}
	a, b := New("a"), New("b")
	s1, _, _ := handshake(t, a, b, vlu.AppendOption(nil, optAncillary, []byte("x")))
	a2, b2 := New("a"), New("b")
	s2, _, _ := handshake(t, a2, b2, vlu.AppendOption(nil, optAncillary, []byte("x")))
	if !bytes.Equal(s1.Send.Seal(nil, []byte("abc")), s2.Send.Seal(nil, []byte("abc"))) {
		t.Fatal("the same handshake sequence gave different keys")
	}
}

func TestErrors(t *testing.T) {
	a, b := New("a"), New("b")
	in, _ := a.NewInitiator(peerEPD(a))
	if _, _, err := in.Keying(b.StaticCertificate()); !errors.Is(err, errNotSelected) {
		t.Errorf("wrong peer: %v", err)
	}
	in, _ = a.NewInitiator(vlu.AppendOption(nil, optHostname, []byte("h")))
	if _, _, err := in.Keying(b.ServerCertificate()); !errors.Is(err, errNotSelected) {
		t.Errorf("hostname: %v", err)
	}
	if _, err := in.Finish([]byte{1, 0x0e}); !errors.Is(err, errOrder) {
		t.Errorf("Finish first: %v", err)
	}
	if _, _, err := b.Respond(a.ServerCertificate(), a.StaticCertificate(), []byte{1, 0x0e}); !errors.Is(err, errNotOurs) {
		t.Errorf("foreign certificate: %v", err)
	}
	if _, _, err := b.Respond(b.ServerCertificate(), []byte{0x05}, []byte{1, 0x0e}); !errors.Is(err, errCertificate) {
		t.Errorf("bad certificate: %v", err)
	}
	if _, _, err := b.Respond(b.ServerCertificate(), a.StaticCertificate(), nil); !errors.Is(err, errComponent) {
		t.Errorf("empty component: %v", err)
	}
	for _, epd := range [][]byte{nil, {0x02, 0x33, 0x01}, {0x03, 0x0f, 1, 2}} {
		if _, err := ParseEPD(epd); err == nil {
			t.Errorf("EPD %x accepted", epd)
		}
	}
}

func FuzzOpen(f *testing.F) {
	c := NewCodec(7)
	f.Add(c.Seal(nil, []byte("\x89\x00\x01\x10\x00\x02ab")))
	f.Add(c.Seal(nil, nil))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		orig := bytes.Clone(pkt)
		body, err := c.Open(pkt)
		if !bytes.Equal(pkt, orig) {
			t.Fatal("Open modified the packet")
		}
		if err != nil {
			return
		}
		if !bytes.Equal(c.Seal(nil, body), orig) {
			t.Fatal("accepted packet does not seal back to itself")
		}
	})
}

func FuzzParseEPD(f *testing.F) {
	f.Add([]byte("\x05\x0alive"))
	f.Add(vlu.AppendOption(nil, optFingerprint, make([]byte, 32)))
	f.Add([]byte("\x02\x00h\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEPD(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Raw, b) {
			t.Fatal("Raw is not the input")
		}
		p := New("fuzz")
		if in, err := p.NewInitiator(b); err != nil || in == nil {
			t.Fatal("NewInitiator refused a parsed EPD")
		}
		_ = p.ResponderCertificate(e)
	})
}

// TestSealLongEnough: with its 4-byte session ID field, every packet is at
// least the 20 bytes an endpoint accepts; shorter ones (a lone close
// request) were dropped, so sessions of this profile never closed.
func TestSealLongEnough(t *testing.T) {
	c := NewCodec(7)
	for n := range 40 {
		if got := 4 + len(c.Seal(nil, make([]byte, n))); got < 20 {
			t.Errorf("a %d-byte body makes a %d-byte datagram", n, got)
		}
	}
}
