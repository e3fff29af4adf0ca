package flash

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// TestRecordedKeyAgreement recomputes, for all 23 recorded sessions, the
// public keys and shared secret from the logged private keys, and the packet
// keys, nonces and HMAC keys from the secret and the components on the wire.
func TestRecordedKeyAgreement(t *testing.T) {
	sessions := allSessions(t)
	if len(sessions) != 23 {
		t.Fatalf("%d recorded sessions, want 23", len(sessions))
	}
	for _, s := range sessions {
		t.Run(s.Name, func(t *testing.T) {
			g, err := lookupGroup(uint64(s.DHGroup))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.p.Bytes(), s.DHPrime) {
				t.Fatalf("group %d prime differs from the recorded one", s.DHGroup)
			}
			checked := 0
			for _, side := range []struct {
				priv, pub, far []byte
			}{
				{s.InitiatorDHPrivate, s.InitiatorDHPublic, s.InitiatorFarDHPublicSeen},
				{s.ResponderDHPrivate, s.ResponderDHPublic, s.ResponderFarDHPublicSeen},
			} {
				if side.priv == nil {
					continue
				}
				key, err := g.keyFromPrivate(new(big.Int).SetBytes(side.priv))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(key.pub, side.pub) {
					t.Errorf("public key from private differs")
				}
				k, err := key.sharedSecret(side.far)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(k, s.SharedSecret) {
					t.Errorf("shared secret differs")
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no private key recorded")
			}
			k := s.SharedSecret
			ini := deriveKeys(k, s.InitiatorSessionKeyComponent, s.ResponderSessionKeyComponent)
			res := deriveKeys(k, s.ResponderSessionKeyComponent, s.InitiatorSessionKeyComponent)
			if !bytes.Equal(ini.send[:16], s.InitiatorToResponderKey) || !bytes.Equal(res.recv[:16], s.InitiatorToResponderKey) {
				t.Errorf("initiator→responder key differs")
			}
			if !bytes.Equal(ini.recv[:16], s.ResponderToInitiatorKey) || !bytes.Equal(res.send[:16], s.ResponderToInitiatorKey) {
				t.Errorf("responder→initiator key differs")
			}
			if ini.nearNonce != res.farNonce || ini.farNonce != res.nearNonce {
				t.Errorf("nonces do not mirror")
			}
			if s.InitiatorNearNonce != nil {
				if !bytes.Equal(ini.nearNonce[:], s.InitiatorNearNonce) || !bytes.Equal(ini.farNonce[:], s.InitiatorFarNonce) ||
					!bytes.Equal(res.nearNonce[:], s.ResponderNearNonce) || !bytes.Equal(res.farNonce[:], s.ResponderFarNonce) {
					t.Errorf("nonces differ")
				}
				if !bytes.Equal(ini.send[:], s.InitiatorEncryptKeyFullOutput) || !bytes.Equal(ini.recv[:], s.InitiatorDecryptKeyFullOutput) {
					t.Errorf("full key outputs differ")
				}
				hs, hr := ini.hmacKeys(k)
				if !bytes.Equal(hs[:], s.IntegrityModes["initiator_to_responder"].HMACKey) ||
					!bytes.Equal(hr[:], s.IntegrityModes["responder_to_initiator"].HMACKey) {
					t.Errorf("HMAC keys differ")
				}
			}
			id, err := fingerprint(s.InitiatorCertificate)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(id[:], s.InitiatorPeerID) {
				t.Errorf("initiator peer ID %x, recorded %x", id, s.InitiatorPeerID)
			}
			for _, cert := range [][]byte{s.InitiatorCertificate, s.ResponderCertificate} {
				if _, err := parseCertificate(cert); err != nil {
					t.Errorf("certificate %x…: %v", cert[:8], err)
				}
			}
			for _, c := range [][]byte{s.InitiatorSessionKeyComponent, s.ResponderSessionKeyComponent} {
				if _, err := parseComponent(c); err != nil {
					t.Errorf("component %x…: %v", c[:8], err)
				}
			}
		})
	}
}

// TestRecordedLayouts checks that the recorded librtmfp/MonaServer handshakes
// have the layouts this package produces.
func TestRecordedLayouts(t *testing.T) {
	for _, s := range allSessions(t) {
		if s.Initiator.Software == "rtmfp-cpp" {
			continue
		}
		skic := s.InitiatorSessionKeyComponent
		if len(skic) != 76 || !bytes.Equal(skic[:5], []byte{0x02, 0x1d, 0x02, 0x41, 0x0e}) ||
			!bytes.Equal(skic[69:], []byte{0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02}) {
			t.Errorf("%s: SKIC %x", s.Name, skic)
		}
		if !bytes.Equal(s.InitiatorCertificate[:4], []byte{0x81, 0x02, 0x1d, 0x02}) || len(s.InitiatorCertificate) != 132 {
			t.Errorf("%s: initiator certificate %x…", s.Name, s.InitiatorCertificate[:8])
		}
		skrc := s.ResponderSessionKeyComponent
		if len(s.ResponderCertificate) == 77 {
			want := []byte{0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x81, 0x02, 0x0d, 0x02}
			if len(skrc) != 139 || !bytes.Equal(skrc[:11], want) {
				t.Errorf("%s: server SKRC %x…", s.Name, skrc[:11])
			}
		} else if len(skrc) != 73 || !bytes.Equal(skrc[:9], []byte{0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x41, 0x0e}) {
			t.Errorf("%s: peer SKRC %x…", s.Name, skrc[:9])
		}
	}
}

// TestRecordedDatagrams opens every recorded datagram with a codec built
// from its key and checks the plaintext, then seals the plaintext body
// again and checks that the wire bytes come out (CBC with a zero IV and
// fixed padding is deterministic).
func TestRecordedDatagrams(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	startup := p.StartupCodec()
	for _, sc := range tracefile.Scenarios {
		t.Run(sc, func(t *testing.T) {
			sessions := traceKeys(t, sc).Sessions
			n := 0
			for i := range traceDatagrams(t, sc) {
				d := &traceDatagrams(t, sc)[i]
				if !d.IsRTMFP() {
					continue
				}
				n++
				c := datagramCodec(t, sessions, d)
				pkt := bytes.Clone(d.Wire[4:])
				body, err := c.Open(pkt)
				if err != nil {
					t.Fatalf("datagram %d: %v", d.Index, err)
				}
				pre := prefixLen(d)
				if !bytes.Equal(body, d.Plain[pre:]) {
					t.Fatalf("datagram %d: body differs", d.Index)
				}
				if d.KeyKind == "default" {
					if b, err := startup.Open(bytes.Clone(d.Wire[4:])); err != nil || !bytes.Equal(b, body) {
						t.Fatalf("datagram %d: the startup codec cannot open it: %v", d.Index, err)
					}
				}
				if d.SSeq != nil {
					c.nextSeq = *d.SSeq
				}
				sealed := c.Seal(nil, d.Plain[pre:len(d.Plain)-d.PaddingLen])
				if !bytes.Equal(sealed, d.Wire[4:]) {
					t.Fatalf("datagram %d: Seal differs from the wire", d.Index)
				}
			}
			t.Logf("%d datagrams", n)
			if n == 0 {
				t.Fatal("no datagrams")
			}
		})
	}
}

// firstDatagram returns the plaintext and wire of the first datagram
// protected with key.
func firstDatagram(t *testing.T, scenario string, key []byte) *tracefile.Datagram {
	t.Helper()
	for i, d := range traceDatagrams(t, scenario) {
		if bytes.Equal(d.Key, key) {
			return &traceDatagrams(t, scenario)[i]
		}
	}
	t.Fatalf("%s: no datagram with key %x", scenario, key)
	return nil
}

// checkAgainstTrace opens the first recorded datagram of each direction of
// session s with the session crypto of one side and re-seals it.
func checkAgainstTrace(t *testing.T, scenario string, s *tracefile.Session, sc *profile.SessionCrypto, initiatorSide bool) {
	t.Helper()
	sendKey, recvKey := s.InitiatorToResponderKey, s.ResponderToInitiatorKey
	if !initiatorSide {
		sendKey, recvKey = recvKey, sendKey
	}
	in := firstDatagram(t, scenario, recvKey)
	body, err := sc.Recv.Open(bytes.Clone(in.Wire[4:]))
	if err != nil || !bytes.Equal(body, in.Plain[prefixLen(in):]) {
		t.Errorf("%s: cannot open datagram %d with the derived receive key: %v", s.Name, in.Index, err)
	}
	out := firstDatagram(t, scenario, sendKey)
	if in.SSeq != nil || out.SSeq != nil {
		return // the sequence numbers would have to match too
	}
	pre := prefixLen(out)
	if got := sc.Send.Seal(nil, out.Plain[pre:len(out.Plain)-out.PaddingLen]); !bytes.Equal(got, out.Wire[4:]) {
		t.Errorf("%s: derived send key does not reproduce datagram %d", s.Name, out.Index)
	}
}

// TestRecordedInitiator replays the librtmfp initiator of every a–c session
// through this package's Initiator: with the recorded static private key and
// the recorded 64 random bytes it must produce the recorded certificate, peer
// ID and SKIC byte for byte, and with the recorded SKRC the recorded keys.
func TestRecordedInitiator(t *testing.T) {
	for _, scenario := range tracefile.Scenarios[:3] {
		for i := range traceKeys(t, scenario).Sessions {
			s := &traceKeys(t, scenario).Sessions[i]
			t.Run(s.Name, func(t *testing.T) {
				p, err := New(Config{StaticPrivateKey: s.InitiatorDHPrivate})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p.StaticCertificate(), s.InitiatorCertificate) {
					t.Fatalf("static certificate differs from the recorded one")
				}
				if id := p.PeerID(); !bytes.Equal(id[:], s.InitiatorPeerID) {
					t.Fatalf("peer ID %v", id)
				}
				p.rand = fixedReader(s.InitiatorSessionKeyComponent[5:69])
				epd := URLEPD("live")
				if len(s.ResponderCertificate) != 77 {
					id, _ := fingerprint(s.ResponderCertificate)
					epd = PeerEPD(id)
				}
				in, err := p.NewInitiator(epd)
				if err != nil {
					t.Fatal(err)
				}
				cert, skic, err := in.Keying(s.ResponderCertificate)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(cert, s.InitiatorCertificate) || !bytes.Equal(skic, s.InitiatorSessionKeyComponent) {
					t.Fatalf("Keying gave\ncert %x\nskic %x", cert, skic)
				}
				sc, err := in.Finish(s.ResponderSessionKeyComponent)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(sc.FarCertificate, s.ResponderCertificate) {
					t.Errorf("far certificate differs")
				}
				checkAgainstTrace(t, scenario, s, sc, true)
			})
		}
	}
}

// TestRecordedPeerResponder replays the librtmfp P2P responders (b, c)
// through Respond: with the responder's recorded static key and the recorded
// 64 random bytes, Respond must produce the recorded 73-byte SKRC and keys.
func TestRecordedPeerResponder(t *testing.T) {
	n := 0
	for _, scenario := range tracefile.Scenarios[1:3] {
		for i := range traceKeys(t, scenario).Sessions {
			s := &traceKeys(t, scenario).Sessions[i]
			if s.ResponderDHPrivate == nil {
				continue
			}
			n++
			t.Run(s.Name, func(t *testing.T) {
				p, err := New(Config{StaticPrivateKey: s.ResponderDHPrivate})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p.StaticCertificate(), s.ResponderCertificate) {
					t.Fatalf("static certificate differs from the recorded responder certificate")
				}
				epd, err := p.ParseEPD(PeerEPD(p.PeerID()))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p.ResponderCertificate(epd), s.ResponderCertificate) {
					t.Fatal("ResponderCertificate for our peer ID is not the static certificate")
				}
				p.rand = fixedReader(s.ResponderSessionKeyComponent[9:73])
				skrc, sc, err := p.Respond(s.ResponderCertificate, s.InitiatorCertificate, s.InitiatorSessionKeyComponent)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(skrc, s.ResponderSessionKeyComponent) {
					t.Fatalf("SKRC %x", skrc)
				}
				if !bytes.Equal(sc.FarPeerID[:], s.InitiatorPeerID) {
					t.Errorf("far peer ID %v", sc.FarPeerID)
				}
				checkAgainstTrace(t, scenario, s, sc, false)
			})
		}
	}
	if n != 4 {
		t.Fatalf("%d P2P sessions, want 4", n)
	}
}

// clientSession derives the initiator side of a recorded client from its
// logged private key and the SKRC our responder produced, the way the client
// would (K from the ephemeral key in the SKRC).
func clientKeys(t *testing.T, s *tracefile.Session, skrc []byte) sessionKeys {
	t.Helper()
	g, _ := lookupGroup(uint64(s.DHGroup))
	key, err := g.keyFromPrivate(new(big.Int).SetBytes(s.InitiatorDHPrivate))
	if err != nil {
		t.Fatal(err)
	}
	comp, err := parseComponent(skrc)
	if err != nil {
		t.Fatal(err)
	}
	far, ok := comp.ephemeralKey(uint64(s.DHGroup))
	if !ok {
		t.Fatalf("SKRC has no group-%d key", s.DHGroup)
	}
	k, err := key.sharedSecret(far)
	if err != nil {
		t.Fatal(err)
	}
	return deriveKeys(k, s.InitiatorSessionKeyComponent, skrc)
}

// TestRespondToRecordedFlashClients feeds the recorded librtmfp IIKeying of
// every client→server session to Respond and checks the SKRC layout
// librtmfp insists on, and that the recorded client (its logged private key)
// derives the keys our session uses.
func TestRespondToRecordedFlashClients(t *testing.T) {
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, scenario := range tracefile.Scenarios[:3] {
		for i := range traceKeys(t, scenario).Sessions {
			s := &traceKeys(t, scenario).Sessions[i]
			if len(s.ResponderCertificate) != 77 {
				continue
			}
			skrc, sc, err := srv.Respond(srv.ServerCertificate(), s.InitiatorCertificate, s.InitiatorSessionKeyComponent)
			if err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			want, _ := hex.DecodeString("031a0000021e0081020d02")
			if len(skrc) != 139 || !bytes.Equal(skrc[:11], want) {
				t.Fatalf("%s: SKRC %x…", s.Name, skrc[:16])
			}
			ck := clientKeys(t, s, skrc)
			cs, _ := NewCodec(ck.send[:16], Integrity{})
			cr, _ := NewCodec(ck.recv[:16], Integrity{})
			roundTrip(t, cs, sc.Recv)
			roundTrip(t, sc.Send, cr)
			if !bytes.Equal(sc.FarNonce, ck.nearNonce[:]) || !bytes.Equal(sc.NearNonce, ck.farNonce[:]) {
				t.Errorf("%s: nonces do not mirror", s.Name)
			}
		}
	}
}

// TestRespondToRecordedRtmfpCpp feeds rtmfp-cpp's IIKeying (a 908-byte
// certificate with keys for groups 16, 14 and 2, group 16 selected, HMAC and
// sequence numbers requested) to Respond with the recorded tcserver private
// key: the ephemeral public key and the secret must be the recorded ones, and
// the negotiated protection must be HMAC and sequence numbers both ways.
func TestRespondToRecordedRtmfpCpp(t *testing.T) {
	for i := range traceKeys(t, "d_rtmfpcpp").Sessions {
		s := &traceKeys(t, "d_rtmfpcpp").Sessions[i]
		srv, err := New(Config{ExponentBits: 480})
		if err != nil {
			t.Fatal(err)
		}
		srv.rand = fixedReader(s.ResponderDHPrivate)
		skrc, sc, err := srv.Respond(srv.ServerCertificate(), s.InitiatorCertificate, s.InitiatorSessionKeyComponent)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if !bytes.Equal(skrc[:7], []byte{0x03, 0x1a, 0x07, 0x0a, 0x02, 0x1e, 0x07}) {
			t.Errorf("%s: negotiation options %x", s.Name, skrc[:7])
		}
		comp, err := parseComponent(skrc)
		if err != nil {
			t.Fatal(err)
		}
		if pub, _ := comp.ephemeralKey(16); !bytes.Equal(pub, s.ResponderDHPublic) {
			t.Fatalf("%s: ephemeral key is not the recorded one", s.Name)
		}
		ck := clientKeys(t, s, skrc)
		hs, hr := ck.hmacKeys(s.SharedSecret)
		cs, _ := NewCodec(ck.send[:16], Integrity{HMACKey: hs[:], HMACLength: 16, Sequence: true})
		cr, _ := NewCodec(ck.recv[:16], Integrity{HMACKey: hr[:], HMACLength: 10, Sequence: true})
		roundTrip(t, cs, sc.Recv)
		roundTrip(t, sc.Send, cr)
	}
}

// roundTrip seals a few bodies with a and opens them with b.
func roundTrip(t *testing.T, a, b profile.PacketCodec) {
	t.Helper()
	for _, n := range []int{0, 1, 13, 14, 15, 16, 100, 1180} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i*7 + n)
		}
		pkt := a.Seal(nil, body)
		if len(pkt) < 8 || len(pkt) > len(body)+a.Overhead() {
			t.Fatalf("sealed %d bytes into %d (overhead %d)", n, len(pkt), a.Overhead())
		}
		got, err := b.Open(pkt)
		if err != nil {
			t.Fatalf("open %d-byte body: %v", n, err)
		}
		if !bytes.Equal(got[:n], body) {
			t.Fatalf("%d-byte body differs", n)
		}
		for _, c := range got[n:] {
			if c != 0xff {
				t.Fatalf("padding %x", got[n:])
			}
		}
	}
	if _, err := b.Open(make([]byte, 15)); !errors.Is(err, profile.ErrIntegrity) {
		t.Fatalf("15-byte packet: %v", err)
	}
}
