package interop

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// handshakeChunk returns the value of the first chunk of type typ in
// datagram i.
func handshakeChunk(t *testing.T, tr *trace, i int, typ byte) []byte {
	t.Helper()
	for _, c := range tr.ds[i].Chunks {
		if c.Type == typ {
			return c.Value
		}
	}
	t.Fatalf("#%d has no chunk %#x", i, typ)
	return nil
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// TestTraceHandshake checks each librtmfp↔rtmfpd handshake as it went over
// the wire (RFC 7016 §3.5.1, RFC 7425 §4): librtmfp's IHello names only the
// application path, rtmfpd's RHello cookie comes back in the IIKeying, the
// session IDs each side chose are the ones the other side then used, and
// the session keys follow from the logged Diffie-Hellman private key and the
// two session key components seen on the wire.
func TestTraceHandshake(t *testing.T) {
	tr := loadTrace(t)
	for _, role := range []string{rolePublisher, rolePlayer} {
		t.Run(role, func(t *testing.T) {
			s := tr.session(t, role)
			checkHandshake(t, tr, s)
			checkKeys(t, s)
		})
	}
}

func checkHandshake(t *testing.T, tr *trace, s *tracefile.Session) {
	ik := s.IIKeyingDatagramIndex
	// The IHello and RHello are the startup packets of this client before
	// its IIKeying.
	var ihello, rhello []byte
	for i := range ik {
		d := &tr.ds[i]
		if d.SessionID != 0 {
			continue
		}
		if d.RoleSrc == s.Initiator.Role && ihello == nil {
			ihello = handshakeChunk(t, tr, i, wire.TypeIHello)
		}
		if d.RoleDst == s.Initiator.Role {
			rhello = handshakeChunk(t, tr, i, wire.TypeRHello)
		}
	}
	if ihello == nil || rhello == nil {
		t.Fatal("IHello or RHello missing before the IIKeying")
	}
	ih, err := wire.ParseIHello(ihello)
	if err != nil {
		t.Fatal(err)
	}
	// librtmfp's endpoint discriminator: option 0x0A (ancillary data) with
	// only the application path of rtmfp://127.0.0.1:PORT/live/test.
	if !bytes.Equal(ih.EPD, []byte("\x05\x0alive")) {
		t.Errorf("IHello EPD %x", ih.EPD)
	}
	rh, err := wire.ParseRHello(rhello)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rh.Tag, ih.Tag) {
		t.Errorf("RHello tag %x does not echo the IHello tag %x", rh.Tag, ih.Tag)
	}
	if !bytes.Equal(rh.Certificate, s.ResponderCertificate) {
		t.Error("RHello certificate differs from the recorded responder certificate")
	}
	ii, err := wire.ParseIIKeying(handshakeChunk(t, tr, ik, wire.TypeIIKeying))
	if err != nil {
		t.Fatal(err)
	}
	ri, err := wire.ParseRIKeying(handshakeChunk(t, tr, s.RIKeyingDatagramIndex, wire.TypeRIKeying))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ii.Cookie, rh.Cookie) || !bytes.Equal(ii.Cookie, s.Cookie) {
		t.Errorf("IIKeying cookie %x, RHello cookie %x", ii.Cookie, rh.Cookie)
	}
	if ii.InitiatorSessionID != s.Initiator.SessionID || ri.ResponderSessionID != s.Responder.SessionID {
		t.Errorf("keying session IDs %#x/%#x, recorded %#x/%#x",
			ii.InitiatorSessionID, ri.ResponderSessionID, s.Initiator.SessionID, s.Responder.SessionID)
	}
	if !bytes.Equal(ii.SKIC, s.InitiatorSessionKeyComponent) || !bytes.Equal(ri.SKRC, s.ResponderSessionKeyComponent) {
		t.Error("session key components differ from the recorded ones")
	}
	// The RIKeying goes to the client in the client's session ID, and
	// everything after it in the session ID the other side chose.
	if d := tr.ds[s.RIKeyingDatagramIndex]; d.SessionID != s.Initiator.SessionID {
		t.Errorf("RIKeying sent with session ID %#x, want the initiator's %#x", d.SessionID, s.Initiator.SessionID)
	}
	seen := map[string]int{}
	for i := s.RIKeyingDatagramIndex + 1; i < len(tr.ds); i++ {
		d := &tr.ds[i]
		switch {
		case d.RoleSrc == s.Initiator.Role:
			if d.SessionID != s.Responder.SessionID {
				t.Fatalf("#%d: client sent session ID %#x, server chose %#x", i, d.SessionID, s.Responder.SessionID)
			}
			seen["to server"]++
		case d.RoleDst == s.Initiator.Role:
			if d.SessionID != s.Initiator.SessionID {
				t.Fatalf("#%d: server sent session ID %#x, client chose %#x", i, d.SessionID, s.Initiator.SessionID)
			}
			seen["to client"]++
		}
	}
	if seen["to server"] == 0 || seen["to client"] == 0 {
		t.Errorf("session traffic %v", seen)
	}
	// The far key librtmfp used is rtmfpd's ephemeral key from the
	// responder component (option 0x0D, group 2); librtmfp's own key is
	// the static one of its certificate.
	if !bytes.Contains(ri.SKRC, s.InitiatorFarDHPublicSeen) {
		t.Error("the DH public key librtmfp used is not in rtmfpd's responder component")
	}
	if !bytes.Contains(ii.Certificate, s.InitiatorDHPublic) {
		t.Error("librtmfp's DH public key is not in its certificate")
	}
	id := sha256.Sum256(ii.Certificate)
	if !bytes.Equal(id[:], s.InitiatorPeerID) {
		t.Errorf("peer ID %x, SHA-256 of the certificate %x", s.InitiatorPeerID, id)
	}
}

// checkKeys recomputes the shared secret and both session keys (RFC 7425
// §4.6: HMAC-SHA256 of the two components, keyed with the secret).
func checkKeys(t *testing.T, s *tracefile.Session) {
	if s.DHGroup != 2 || s.DHGenerator != 2 || len(s.DHPrime) != 128 {
		t.Fatalf("DH group %d generator %d, %d-byte prime", s.DHGroup, s.DHGenerator, len(s.DHPrime))
	}
	p := new(big.Int).SetBytes(s.DHPrime)
	x := new(big.Int).SetBytes(s.InitiatorDHPrivate)
	pub := new(big.Int).Exp(big.NewInt(2), x, p)
	if pub.Cmp(new(big.Int).SetBytes(s.InitiatorDHPublic)) != 0 {
		t.Fatal("logged private key does not give the logged public key")
	}
	secret := new(big.Int).Exp(new(big.Int).SetBytes(s.InitiatorFarDHPublicSeen), x, p).Bytes()
	if !bytes.Equal(secret, s.SharedSecret) {
		t.Fatal("shared secret does not follow from the logged keys")
	}
	ic, rc := s.InitiatorSessionKeyComponent, s.ResponderSessionKeyComponent
	i2r := hmacSHA256(secret, hmacSHA256(rc, ic))[:16]
	r2i := hmacSHA256(secret, hmacSHA256(ic, rc))[:16]
	if !bytes.Equal(i2r, s.InitiatorToResponderKey) || !bytes.Equal(r2i, s.ResponderToInitiatorKey) {
		t.Fatalf("recomputed keys %x / %x, logged %x / %x", i2r, r2i, s.InitiatorToResponderKey, s.ResponderToInitiatorKey)
	}
}
