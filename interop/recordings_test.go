package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// The recordings of librtmfp peers meeting through rtmfpd (SOURCE.md,
// scenarios f, g and h) and their roles.
const (
	p2pScenario          = "f_librtmfp_p2p_rtmfpd"
	netgroupScenario     = "g_librtmfp_netgroup_rtmfpd"
	groupPublishScenario = "h_librtmfp_group_publish_rtmfpd"

	rolePeerPublisher = "peer-publisher"
	rolePeerPlayer    = "peer-player"
)

// peerScenarios lists them with the number of sessions each holds.
var peerScenarios = []struct {
	name     string
	sessions int
}{{p2pScenario, 3}, {netgroupScenario, 3}, {groupPublishScenario, 2}}

// TestRecordingsDecrypt opens every datagram of f, g and h with our codec
// and the key of its session and direction, parses its header and chunks,
// and checks that the sender used the mode of its role in the session
// (RFC 7016 §2.2.4): peers answer as responders in their P2P sessions, and
// rtmfpd is the initiator of the session it opens to a group member.
func TestRecordingsDecrypt(t *testing.T) {
	for _, sc := range peerScenarios {
		t.Run(sc.name, func(t *testing.T) {
			tr := loadRecording(t, sc.name, sc.sessions)
			codecs := map[string]*flash.Codec{}
			perSession := map[string]int{}
			for i := range tr.ds {
				d := &tr.ds[i]
				w := d.Wire
				if !d.IsRTMFP() || len(w) < 4+16 || (len(w)-4)%16 != 0 {
					t.Fatalf("#%d: %d-byte datagram (%s)", i, len(w), d.Note)
				}
				sid := binary.BigEndian.Uint32(w[0:]) ^ binary.BigEndian.Uint32(w[4:]) ^ binary.BigEndian.Uint32(w[8:])
				if sid != d.SessionID {
					t.Fatalf("#%d: scrambled session ID gives %#x, recorded %#x", i, sid, d.SessionID)
				}
				key := tr.expectedKey(d)
				if key == nil || !bytes.Equal(d.Key, key) {
					t.Fatalf("#%d (%s→%s, session ID %#x) recorded with key %x, its session's key is %x", i, d.RoleSrc, d.RoleDst, d.SessionID, d.Key, key)
				}
				c := codecs[string(key)]
				if c == nil {
					var err error
					if c, err = flash.NewCodec(key, flash.Integrity{}); err != nil {
						t.Fatal(err)
					}
					codecs[string(key)] = c
				}
				body, err := c.Open(bytes.Clone(w[4:]))
				if err != nil {
					t.Fatalf("#%d (%s→%s): %v", i, d.RoleSrc, d.RoleDst, err)
				}
				if len(d.Plain) < 2 || !bytes.Equal(body, d.Plain[2:]) {
					t.Fatalf("#%d: decrypted body differs from the recorded plaintext", i)
				}
				s := tr.sessionOf(d)
				if err := checkBody(d, body, s != nil && d.RoleSrc == s.Responder.Role); err != nil {
					t.Fatalf("#%d (%s→%s): %v", i, d.RoleSrc, d.RoleDst, err)
				}
				if s != nil {
					dir := "→"
					if d.RoleSrc == s.Responder.Role {
						dir = "←"
					}
					perSession[s.Name+" "+dir]++
				}
			}
			for _, s := range tr.keys.Sessions {
				if perSession[s.Name+" →"] == 0 || perSession[s.Name+" ←"] == 0 {
					t.Errorf("session %s: %d datagrams from the initiator, %d from the responder", s.Name, perSession[s.Name+" →"], perSession[s.Name+" ←"])
				}
				t.Logf("%-30s %4d → %4d ←", s.Name, perSession[s.Name+" →"], perSession[s.Name+" ←"])
			}
		})
	}
}

// TestRecordingsHandshakes checks every handshake of f, g and h as it went
// over the wire (RFC 7016 §3.5.1, RFC 7425 §4): the RHello cookie comes back
// in the IIKeying, the certificates are the recorded ones and hash to the
// peer IDs, the session IDs each side chose are the ones the other side then
// used, and the session keys follow from whichever side's Diffie-Hellman
// private key was logged and the two components seen on the wire.
func TestRecordingsHandshakes(t *testing.T) {
	for _, sc := range peerScenarios {
		tr := loadRecording(t, sc.name, sc.sessions)
		for i := range tr.keys.Sessions {
			s := &tr.keys.Sessions[i]
			t.Run(sc.name+"/"+s.Name, func(t *testing.T) {
				checkPeerHandshake(t, tr, s)
				checkEitherSideKeys(t, s)
			})
		}
	}
}

func checkPeerHandshake(t *testing.T, tr *trace, s *tracefile.Session) {
	ik, rk := s.IIKeyingDatagramIndex, s.RIKeyingDatagramIndex
	if ik < 0 || rk <= ik || rk >= len(tr.ds) {
		t.Fatalf("IIKeying #%d, RIKeying #%d", ik, rk)
	}
	if d := tr.ds[ik]; d.RoleSrc != s.Initiator.Role || d.RoleDst != s.Responder.Role || d.Src != s.Initiator.Addr || d.Dst != s.Responder.Addr {
		t.Fatalf("IIKeying goes %s (%s) → %s (%s)", d.RoleSrc, d.Src, d.RoleDst, d.Dst)
	}
	if d := tr.ds[rk]; d.RoleSrc != s.Responder.Role || d.RoleDst != s.Initiator.Role || d.SessionID != s.Initiator.SessionID {
		t.Fatalf("RIKeying goes %s → %s in session ID %#x", d.RoleSrc, d.RoleDst, d.SessionID)
	}
	ii, err := wire.ParseIIKeying(handshakeChunk(t, tr, ik, wire.TypeIIKeying))
	if err != nil {
		t.Fatal(err)
	}
	ri, err := wire.ParseRIKeying(handshakeChunk(t, tr, rk, wire.TypeRIKeying))
	if err != nil {
		t.Fatal(err)
	}
	// The RHello that gave the cookie came from the responder.
	var rhello *wire.RHello
	for i := range ik {
		d := &tr.ds[i]
		if d.SessionID != 0 || d.RoleSrc != s.Responder.Role || d.RoleDst != s.Initiator.Role {
			continue
		}
		for _, c := range d.Chunks {
			if c.Type != wire.TypeRHello {
				continue
			}
			rh, err := wire.ParseRHello(c.Value)
			if err != nil {
				t.Fatalf("#%d: %v", i, err)
			}
			if bytes.Equal(rh.Cookie, ii.Cookie) {
				rhello = &rh
			}
		}
	}
	if rhello == nil || !bytes.Equal(ii.Cookie, s.Cookie) {
		t.Fatal("no RHello from the responder with the IIKeying's cookie")
	}
	if !bytes.Equal(rhello.Certificate, s.ResponderCertificate) || !bytes.Equal(ii.Certificate, s.InitiatorCertificate) {
		t.Error("certificates differ from the recorded ones")
	}
	if id := sha256.Sum256(ii.Certificate); !bytes.Equal(id[:], s.InitiatorPeerID) {
		t.Errorf("initiator peer ID %x, SHA-256 of its certificate %x", s.InitiatorPeerID, id)
	}
	if ii.InitiatorSessionID != s.Initiator.SessionID || ri.ResponderSessionID != s.Responder.SessionID {
		t.Errorf("keying session IDs %#x/%#x, recorded %#x/%#x",
			ii.InitiatorSessionID, ri.ResponderSessionID, s.Initiator.SessionID, s.Responder.SessionID)
	}
	if !bytes.Equal(ii.SKIC, s.InitiatorSessionKeyComponent) || !bytes.Equal(ri.SKRC, s.ResponderSessionKeyComponent) {
		t.Error("session key components differ from the recorded ones")
	}
	// Each side's public key is in its certificate or component, and is
	// the key the other side used.
	iWire := append(bytes.Clone(ii.Certificate), ii.SKIC...)
	rWire := append(bytes.Clone(rhello.Certificate), ri.SKRC...)
	for _, c := range []struct {
		name       string
		key, where []byte
	}{
		{"initiator's public key", s.InitiatorDHPublic, iWire},
		{"responder's public key", s.ResponderDHPublic, rWire},
		{"public key the initiator used", s.InitiatorFarDHPublicSeen, rWire},
		{"public key the responder used", s.ResponderFarDHPublicSeen, iWire},
	} {
		if len(c.key) > 0 && !bytes.Contains(c.where, c.key) {
			t.Errorf("%s is not on the wire", c.name)
		}
	}
	// After the keying, each side sent in the session ID the other chose.
	for i := rk + 1; i < len(tr.ds); i++ {
		d := &tr.ds[i]
		if tr.sessionOf(d) != s {
			continue
		}
		if d.RoleSrc == s.Initiator.Role && d.SessionID != s.Responder.SessionID ||
			d.RoleSrc == s.Responder.Role && d.SessionID != s.Initiator.SessionID {
			t.Fatalf("#%d: %s sent session ID %#x", i, d.RoleSrc, d.SessionID)
		}
	}
}

// checkEitherSideKeys recomputes the shared secret from each logged private
// key and both session keys from it (RFC 7425 §4.6).
func checkEitherSideKeys(t *testing.T, s *tracefile.Session) {
	if s.DHGroup != 2 || s.DHGenerator != 2 || len(s.DHPrime) != 128 {
		t.Fatalf("DH group %d generator %d, %d-byte prime", s.DHGroup, s.DHGenerator, len(s.DHPrime))
	}
	p := new(big.Int).SetBytes(s.DHPrime)
	sides := 0
	for _, side := range []struct {
		name           string
		priv, pub, far []byte
	}{
		{s.Initiator.Role, s.InitiatorDHPrivate, s.InitiatorDHPublic, s.InitiatorFarDHPublicSeen},
		{s.Responder.Role, s.ResponderDHPrivate, s.ResponderDHPublic, s.ResponderFarDHPublicSeen},
	} {
		if len(side.priv) == 0 {
			continue
		}
		sides++
		x := new(big.Int).SetBytes(side.priv)
		if new(big.Int).Exp(big.NewInt(2), x, p).Cmp(new(big.Int).SetBytes(side.pub)) != 0 {
			t.Fatalf("%s: logged private key does not give the logged public key", side.name)
		}
		if secret := new(big.Int).Exp(new(big.Int).SetBytes(side.far), x, p).Bytes(); !bytes.Equal(secret, s.SharedSecret) {
			t.Fatalf("%s: shared secret does not follow from the logged keys", side.name)
		}
	}
	if sides == 0 {
		t.Fatal("neither side's private key was logged")
	}
	ic, rc := s.InitiatorSessionKeyComponent, s.ResponderSessionKeyComponent
	i2r := hmacSHA256(s.SharedSecret, hmacSHA256(rc, ic))[:16]
	r2i := hmacSHA256(s.SharedSecret, hmacSHA256(ic, rc))[:16]
	if !bytes.Equal(i2r, s.InitiatorToResponderKey) || !bytes.Equal(r2i, s.ResponderToInitiatorKey) {
		t.Fatalf("recomputed keys %x / %x, logged %x / %x", i2r, r2i, s.InitiatorToResponderKey, s.ResponderToInitiatorKey)
	}
}

// sourceMedia reads testdata/media/test_6s.flv, the file every publisher of
// these recordings sent.
func sourceMedia(t *testing.T) []media.Message {
	t.Helper()
	dir, err := tracefile.Dir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := flv.ReadFile(filepath.Join(dir, "..", "media", "test_6s.flv"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 200 {
		t.Fatalf("%d tags in test_6s.flv", len(out))
	}
	return out
}
