package flash

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

func newProfile(t testing.TB, cfg Config) *Profile {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type handshakeResult struct {
	skic, skrc, responderCert []byte
	ini, resp                 *profile.SessionCrypto
}

// handshake runs a complete key agreement between two profiles in memory.
func handshake(t testing.TB, ip, rp profile.Profile, epd []byte) handshakeResult {
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
	return handshakeResult{skic: skic, skrc: skrc, responderCert: rc, ini: isc, resp: rsc}
}

// checkSessions checks that two ends of a session agree on everything.
func checkSessions(t *testing.T, ip, rp profile.Profile, h handshakeResult) {
	t.Helper()
	roundTrip(t, h.ini.Send, h.resp.Recv)
	roundTrip(t, h.resp.Send, h.ini.Recv)
	if !bytes.Equal(h.ini.NearNonce, h.resp.FarNonce) || !bytes.Equal(h.ini.FarNonce, h.resp.NearNonce) || len(h.ini.NearNonce) != 32 {
		t.Error("nonces do not mirror")
	}
	if !bytes.Equal(h.ini.NearComponent, h.resp.FarComponent) || !bytes.Equal(h.ini.FarComponent, h.resp.NearComponent) {
		t.Error("components do not mirror")
	}
	if h.resp.FarPeerID != ip.PeerID() {
		t.Error("responder sees the wrong initiator peer ID")
	}
	if id, _ := ip.Fingerprint(h.responderCert); h.ini.FarPeerID != id || !bytes.Equal(h.ini.FarCertificate, h.responderCert) {
		t.Error("initiator sees the wrong responder certificate")
	}
}

func TestHandshakeClientServer(t *testing.T) {
	cli, srv := newProfile(t, Config{}), newProfile(t, Config{})
	h := handshake(t, cli, srv, URLEPD("rtmfp://127.0.0.1/live"))
	if !bytes.Equal(h.responderCert, srv.ServerCertificate()) || len(h.responderCert) != 77 {
		t.Fatal("server did not answer with its 77-byte certificate")
	}
	rc := h.responderCert
	if !bytes.Equal(rc[:4], []byte{0x01, 0x0a, 0x41, 0x0e}) || !bytes.Equal(rc[68:], []byte{2, 0x15, 2, 2, 0x15, 5, 2, 0x15, 0x0e}) {
		t.Errorf("server certificate %x", rc)
	}
	if len(h.skic) != 76 || !bytes.Equal(h.skic[:5], []byte{2, 0x1d, 2, 0x41, 0x0e}) ||
		!bytes.Equal(h.skic[69:], []byte{3, 0x1a, 2, 0x0a, 2, 0x1e, 2}) {
		t.Errorf("SKIC %x", h.skic)
	}
	if len(h.skrc) != 139 || !bytes.Equal(h.skrc[:11], []byte{3, 0x1a, 0, 0, 2, 0x1e, 0, 0x81, 2, 0x0d, 2}) {
		t.Errorf("SKRC %x…", h.skrc[:11])
	}
	if c := cli.StaticCertificate(); len(c) != 132 || !bytes.Equal(c[:4], []byte{0x81, 2, 0x1d, 2}) {
		t.Errorf("static certificate %x…", c[:4])
	}
	checkSessions(t, cli, srv, h)
}

func TestHandshakePeerToPeer(t *testing.T) {
	a, b := newProfile(t, Config{}), newProfile(t, Config{})
	h := handshake(t, a, b, PeerEPD(b.PeerID()))
	if !bytes.Equal(h.responderCert, b.StaticCertificate()) {
		t.Fatal("peer did not answer with its static certificate")
	}
	if len(h.skrc) != 73 || !bytes.Equal(h.skrc[:9], []byte{3, 0x1a, 0, 0, 2, 0x1e, 0, 0x41, 0x0e}) {
		t.Errorf("SKRC %x", h.skrc)
	}
	checkSessions(t, a, b, h)
}

// TestNegotiationMatrix runs every combination of what the initiator and the
// responder request, and checks which protections each codec applies.
func TestNegotiationMatrix(t *testing.T) {
	type req struct{ hmac, seq bool }
	reqs := []req{{}, {hmac: true}, {seq: true}, {true, true}}
	for _, ir := range reqs {
		for _, rr := range reqs {
			for _, p2p := range []bool{false, true} {
				name := fmt.Sprintf("ini%+v/resp%+v/p2p=%v", ir, rr, p2p)
				t.Run(name, func(t *testing.T) {
					ip := newProfile(t, Config{RequestHMAC: ir.hmac, RequestSequence: ir.seq, HMACLength: 12})
					rp := newProfile(t, Config{RequestHMAC: rr.hmac, RequestSequence: rr.seq, HMACLength: 20})
					epd := URLEPD("live")
					if p2p {
						epd = PeerEPD(rp.PeerID())
					}
					h := handshake(t, ip, rp, epd)
					checkSessions(t, ip, rp, h)
					modes := func(c profile.PacketCodec) (int, bool) {
						x := c.(*Codec)
						return x.hmacLen, x.seq
					}
					want := func(on bool, n int) int {
						if on {
							return n
						}
						return 0
					}
					// initiator → responder: what the responder asked for.
					if hl, sq := modes(h.ini.Send); hl != want(rr.hmac, 12) || sq != rr.seq {
						t.Errorf("initiator sends hmac %d seq %v", hl, sq)
					}
					if hl, sq := modes(h.resp.Recv); hl != want(rr.hmac, 12) || sq != rr.seq {
						t.Errorf("responder receives hmac %d seq %v", hl, sq)
					}
					// responder → initiator: what the initiator asked for.
					if hl, sq := modes(h.resp.Send); hl != want(ir.hmac, 20) || sq != ir.seq {
						t.Errorf("responder sends hmac %d seq %v", hl, sq)
					}
					if hl, sq := modes(h.ini.Recv); hl != want(ir.hmac, 20) || sq != ir.seq {
						t.Errorf("initiator receives hmac %d seq %v", hl, sq)
					}
					if ir == (req{}) && rr == (req{}) && !bytes.HasPrefix(h.skrc, []byte{3, 0x1a, 0, 0, 2, 0x1e, 0}) {
						t.Errorf("SKRC without requests %x…", h.skrc[:8])
					}
				})
			}
		}
	}
}

// rtmfpCppInitiator builds an initiator the way rtmfp-cpp's clients do: a
// certificate with static keys for groups 16, 14 and 2, a component that
// selects one group and asks for 16-byte HMACs and sequence numbers.
type rtmfpCppInitiator struct {
	keys map[int]*dhKey
	cert []byte
}

func newRtmfpCppInitiator(t testing.TB) *rtmfpCppInitiator {
	r := &rtmfpCppInitiator{keys: map[int]*dhKey{}}
	for _, id := range []int{group16, group14, group2} {
		k, err := groups[id].generateKey(rand.Reader, 0)
		if err != nil {
			t.Fatal(err)
		}
		r.keys[id] = k
		r.cert = vlu.AppendOption(r.cert, certStaticKey, append(vlu.Append(nil, uint64(id)), k.pub...))
	}
	return r
}

func (r *rtmfpCppInitiator) skic(group int) []byte {
	c := vlu.AppendOption(nil, compGroupSelect, vlu.Append(nil, uint64(group)))
	c = vlu.AppendOption(c, compExtraRandomness, make([]byte, 64))
	c = vlu.AppendOption(c, compHMAC, []byte{7, 16})
	return vlu.AppendOption(c, compSequence, []byte{7})
}

func TestRtmfpCppInitiator(t *testing.T) {
	srv := newProfile(t, Config{})
	cpp := newRtmfpCppInitiator(t)
	if len(cpp.cert) != 908 {
		t.Fatalf("rtmfp-cpp style certificate is %d bytes, recorded ones are 908", len(cpp.cert))
	}
	for _, group := range []int{group14, group16, group2} {
		skic := cpp.skic(group)
		skrc, sc, err := srv.Respond(srv.ServerCertificate(), cpp.cert, skic)
		if err != nil {
			t.Fatalf("group %d: %v", group, err)
		}
		if !bytes.HasPrefix(skrc, []byte{3, 0x1a, 7, 10, 2, 0x1e, 7}) {
			t.Errorf("group %d: SKRC negotiation %x", group, skrc[:7])
		}
		comp, err := parseComponent(skrc)
		if err != nil {
			t.Fatal(err)
		}
		pub, ok := comp.ephemeralKey(uint64(group))
		if !ok || len(pub) != groups[group].size {
			t.Fatalf("group %d: no ephemeral key of that group in the SKRC", group)
		}
		k, err := cpp.keys[group].sharedSecret(pub)
		if err != nil {
			t.Fatal(err)
		}
		keys := deriveKeys(k, skic, skrc)
		hs, hr := keys.hmacKeys(k)
		cs, _ := NewCodec(keys.send[:16], Integrity{HMACKey: hs[:], HMACLength: 16, Sequence: true})
		cr, _ := NewCodec(keys.recv[:16], Integrity{HMACKey: hr[:], HMACLength: 10, Sequence: true})
		roundTrip(t, cs, sc.Recv)
		roundTrip(t, sc.Send, cr)
		if id, _ := fingerprint(cpp.cert); sc.FarPeerID != id {
			t.Error("far peer ID")
		}
	}
	// A group nobody computes, and a group the certificate has no key for.
	for _, group := range []int{3, group5} {
		if _, _, err := srv.Respond(srv.ServerCertificate(), cpp.cert, cpp.skic(group)); !errors.Is(err, errDHGroup) {
			t.Errorf("group %d: %v", group, err)
		}
	}
	// As a peer (static certificate) only group 2 is possible.
	if _, _, err := srv.Respond(srv.StaticCertificate(), cpp.cert, cpp.skic(group14)); !errors.Is(err, errDHGroup) {
		t.Errorf("static responder, group 14: %v", err)
	}
	if _, _, err := srv.Respond(srv.StaticCertificate(), cpp.cert, cpp.skic(group2)); err != nil {
		t.Errorf("static responder, group 2: %v", err)
	}
}

// TestInitiatorGroupChoice offers server certificates with various group
// lists: the initiator picks the strongest common group, which with a
// group-2 identity is group 2.
func TestInitiatorGroupChoice(t *testing.T) {
	p := newProfile(t, Config{})
	cert := func(gs ...uint64) []byte {
		c := vlu.AppendOption(nil, certAcceptsAncillary, nil)
		for _, g := range gs {
			c = vlu.AppendOption(c, certSupportedGroup, vlu.Append(nil, g))
		}
		return vlu.AppendOption(c, certExtraRandomness, make([]byte, 64))
	}
	for _, c := range []struct {
		groups []uint64
		ok     bool
	}{
		{[]uint64{16, 14, 2}, true}, {[]uint64{2}, true}, {[]uint64{14}, false}, {[]uint64{5, 14}, false},
	} {
		in, _ := p.NewInitiator(URLEPD("live"))
		_, skic, err := in.Keying(cert(c.groups...))
		if (err == nil) != c.ok {
			t.Errorf("groups %v: %v", c.groups, err)
		}
		if err == nil && !bytes.HasPrefix(skic, []byte{2, 0x1d, 2}) {
			t.Errorf("groups %v: SKIC %x…", c.groups, skic[:3])
		}
	}
}

func TestKeyingChecksDiscriminator(t *testing.T) {
	a, b := newProfile(t, Config{}), newProfile(t, Config{})
	hostEPD := vlu.AppendOption(nil, profile.EPDHostname, []byte("example.com"))
	for _, c := range []struct {
		name string
		epd  []byte
		cert []byte
	}{
		{"wrong peer", PeerEPD(a.PeerID()), b.StaticCertificate()},
		{"peer answers URL", URLEPD("live"), b.StaticCertificate()},
		{"server for peer ID", PeerEPD(b.PeerID()), b.ServerCertificate()},
		{"hostname", hostEPD, b.ServerCertificate()},
	} {
		in, err := a.NewInitiator(c.epd)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := in.Keying(c.cert); !errors.Is(err, errNotSelected) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	in, _ := a.NewInitiator(URLEPD("live"))
	if _, err := in.Finish([]byte{3, 0x1a, 0, 0}); !errors.Is(err, errOrder) {
		t.Errorf("Finish before Keying: %v", err)
	}
	if _, err := a.NewInitiator(nil); err == nil {
		t.Error("empty discriminator accepted")
	}
}

func TestFinishErrors(t *testing.T) {
	a := newProfile(t, Config{RequestHMAC: true})
	srvCert := newProfile(t, Config{}).ServerCertificate()
	in, _ := a.NewInitiator(URLEPD("live"))
	if _, _, err := in.Keying(srvCert); err != nil {
		t.Fatal(err)
	}
	// A Flash server never offers HMAC: our request cannot be met.
	flash := append([]byte{3, 0x1a, 0, 0, 2, 0x1e, 0}, vlu.AppendOption(nil, compEphemeralKey, append([]byte{2}, a.static.pub...))...)
	if _, err := in.Finish(flash); !errors.Is(err, errNegotiation) {
		t.Errorf("unmet HMAC request: %v", err)
	}
	b := newProfile(t, Config{})
	in, _ = b.NewInitiator(URLEPD("live"))
	if _, _, err := in.Keying(srvCert); err != nil {
		t.Fatal(err)
	}
	for _, skrc := range [][]byte{
		{3, 0x1a, 0, 0, 2, 0x1e, 0},             // no key
		{3, 0x1a, 0, 0, 0x04, 0x0d, 0x02, 0x01}, // y = 1
		{3, 0x1a, 4, 2, 2, 0x1e, 0},             // HMAC of length 2 offered always
		{0x05, 0x0d},                            // truncated
	} {
		if _, err := in.Finish(skrc); err == nil {
			t.Errorf("SKRC %x accepted", skrc)
		}
	}
}

func TestRespondErrors(t *testing.T) {
	srv, cli := newProfile(t, Config{}), newProfile(t, Config{})
	flashSKIC := func(sseq byte) []byte {
		c := vlu.AppendOption(nil, compGroupSelect, []byte{2})
		c = vlu.AppendOption(c, compExtraRandomness, make([]byte, 64))
		c = vlu.AppendOption(c, compHMAC, []byte{2, 10})
		return vlu.AppendOption(c, compSequence, []byte{sseq})
	}
	badKeyCert := vlu.AppendOption(nil, certStaticKey, []byte{2, 1})
	for _, c := range []struct {
		name             string
		rcert, icert, sk []byte
		want             error
	}{
		{"foreign responder certificate", cli.ServerCertificate(), cli.StaticCertificate(), flashSKIC(2), errNotOurCertificate},
		{"malformed initiator certificate", srv.ServerCertificate(), []byte{0x81}, flashSKIC(2), errCertificate},
		{"certificate with groups", srv.ServerCertificate(), srv.ServerCertificate(), flashSKIC(2), errComponent},
		{"no group select", srv.ServerCertificate(), cli.StaticCertificate(), vlu.AppendOption(nil, compHMAC, []byte{2, 10}), errComponent},
		{"public key 1", srv.ServerCertificate(), badKeyCert, flashSKIC(2), errDHKey},
		{"empty SKIC", srv.ServerCertificate(), cli.StaticCertificate(), nil, errComponent},
	} {
		if _, _, err := srv.Respond(c.rcert, c.icert, c.sk); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A responder that requests sequence numbers from an initiator that
	// offers nothing fails.
	strict := newProfile(t, Config{RequestSequence: true})
	if _, _, err := strict.Respond(strict.ServerCertificate(), cli.StaticCertificate(), flashSKIC(0)); !errors.Is(err, errNegotiation) {
		t.Errorf("unmet sequence request: %v", err)
	}
}

func TestStaticIdentityPersists(t *testing.T) {
	a := newProfile(t, Config{})
	b := newProfile(t, Config{StaticPrivateKey: a.StaticPrivateKey()})
	if a.PeerID() != b.PeerID() || !bytes.Equal(a.StaticCertificate(), b.StaticCertificate()) {
		t.Fatal("identity not restored from its private key")
	}
	if bytes.Equal(a.ServerCertificate(), b.ServerCertificate()) {
		t.Error("server certificates share their randomness")
	}
	if id, _ := fingerprint(a.StaticCertificate()); id != a.PeerID() {
		t.Error("peer ID is not the certificate's fingerprint")
	}
	if _, err := New(Config{StaticPrivateKey: []byte{0}}); err == nil {
		t.Error("zero private key accepted")
	}
	for _, cfg := range []Config{{ExponentBits: -1}, {ExponentBits: 100}, {HMACLength: 2}, {HMACLength: 40}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestResponderCertificateChoice(t *testing.T) {
	p, q := newProfile(t, Config{}), newProfile(t, Config{})
	for _, c := range []struct {
		epd    []byte
		static bool
	}{
		{PeerEPD(p.PeerID()), true},
		{PeerEPD(q.PeerID()), false},
		{URLEPD("rtmfp://host/app"), false},
	} {
		e, err := p.ParseEPD(c.epd)
		if err != nil {
			t.Fatal(err)
		}
		want := p.ServerCertificate()
		if c.static {
			want = p.StaticCertificate()
		}
		if !bytes.Equal(p.ResponderCertificate(e), want) {
			t.Errorf("EPD %x: wrong certificate", c.epd)
		}
	}
}

// TestRtmfpCppLayout configures the profile as rtmfp-cpp's clients are:
// static keys of groups 16, 14 and 2 (the 908-byte certificate of the
// recordings), HMAC and sequence numbers sent always and requested. Against
// our server (groups 2, 5, 14) group 14 is selected and both directions
// carry HMACs and sequence numbers; as a P2P responder its static keys
// serve every group it has.
func TestRtmfpCppLayout(t *testing.T) {
	cfg := Config{StaticGroups: []int{group16, group14, group2}, RequestHMAC: true, RequestSequence: true,
		SendHMACAlways: true, SendSequenceAlways: true, HMACLength: 16}
	cli, srv := newProfile(t, cfg), newProfile(t, Config{})
	cert := cli.StaticCertificate()
	if len(cert) != 908 {
		t.Fatalf("certificate is %d bytes, rtmfp-cpp's are 908", len(cert))
	}
	c, err := parseCertificate(cert)
	if err != nil || len(c.static) != 3 || c.static[0].group != 16 || c.static[1].group != 14 || c.static[2].group != 2 {
		t.Fatalf("certificate keys %+v, %v", c, err)
	}
	if cli.StaticPrivateKey() == nil {
		t.Fatal("no group-2 key to save")
	}
	h := handshake(t, cli, srv, URLEPD("rtmfp://127.0.0.1/live"))
	if !bytes.HasPrefix(h.skic, []byte{2, 0x1d, 14, 0x41, 0x0e}) || !bytes.HasSuffix(h.skic, []byte{3, 0x1a, 7, 16, 2, 0x1e, 7}) {
		t.Errorf("SKIC %x", h.skic)
	}
	if !bytes.HasPrefix(h.skrc, []byte{3, 0x1a, 7, 10, 2, 0x1e, 7}) {
		t.Errorf("SKRC %x…", h.skrc[:7])
	}
	checkSessions(t, cli, srv, h)
	// A Flash initiator opening a P2P session to it: group 2.
	flashPeer := newProfile(t, Config{})
	checkSessions(t, flashPeer, cli, handshake(t, flashPeer, cli, PeerEPD(cli.PeerID())))

	// One group only: the certificate holds that key and the initiator
	// selects it, or fails against a server without it.
	g14 := newProfile(t, Config{StaticGroups: []int{group14}})
	if g14.StaticPrivateKey() != nil {
		t.Error("a group-2 key without group 2")
	}
	h = handshake(t, g14, srv, URLEPD("live"))
	if !bytes.HasPrefix(h.skic, []byte{2, 0x1d, 14}) {
		t.Errorf("SKIC %x…", h.skic[:3])
	}
	g16 := newProfile(t, Config{StaticGroups: []int{group16}})
	in, _ := g16.NewInitiator(URLEPD("live"))
	if _, _, err := in.Keying(srv.ServerCertificate()); !errors.Is(err, errDHGroup) {
		t.Errorf("group 16 against a server without it: %v", err)
	}
	for _, bad := range [][]int{{3}, {2, 2}, {2, 5, 14, 16, 2, 5, 14, 16, 2}} {
		if _, err := New(Config{StaticGroups: bad}); err == nil {
			t.Errorf("StaticGroups %v accepted", bad)
		}
	}
}
