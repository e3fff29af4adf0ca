package interop

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/internal/traceflow"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// groupSpec is the groupspec both TestClients were given
// (--netGroup=…, group name "test", multicast enabled), and the spec of
// rtmfpd's "groups" rule in h. librtmfp hashes it as it is given.
const groupSpec = "G:027f0201010103010c050e74657374011b00"

// groupMessages returns the messages of one group flow signature (GC,
// GR 1C, GR 11, GR 12) of a recording, in capture order.
func groupMessages(t *testing.T, name string, meta []byte) []traceflow.FlowMessage {
	t.Helper()
	_, other := tcMessages(t, name)
	var out []traceflow.FlowMessage
	for _, m := range other {
		if bytes.Equal(m.Metadata, meta) {
			out = append(out, m)
		}
	}
	return out
}

// peerIDs maps each role of a recording to its peer ID: the SHA-256 of the
// certificate it sent as an initiator (rtmfpd's own member in h opens its
// session to the player).
func peerIDs(tr *trace) map[string]profile.PeerID {
	out := map[string]profile.PeerID{}
	for _, s := range tr.keys.Sessions {
		out[s.Initiator.Role] = profile.PeerID(sha256.Sum256(s.InitiatorCertificate))
	}
	return out
}

// TestGroupJoin: each TestClient joined the group on its GC flow to rtmfpd
// with the group ID rtmfpd computes from the same groupspec (two SHA-256
// rounds for a v2 spec), and rtmfpd named the other members to it. In g the
// two TestClients were told about each other and opened a P2P session; in h
// rtmfpd named its own member, whose peer ID is the fingerprint of the
// certificate it then opened the P2P session with.
func TestGroupJoin(t *testing.T) {
	spec, err := group.ParseSpec(groupSpec)
	if err != nil {
		t.Fatal(err)
	}
	gid := spec.GroupID()
	for _, sc := range []struct {
		name     string
		sessions int
		members  []string // TestClients
		others   map[string]string
		p2p      string // the P2P session that followed
	}{
		{netgroupScenario, 3, []string{rolePeerPublisher, rolePeerPlayer},
			map[string]string{rolePeerPublisher: rolePeerPlayer, rolePeerPlayer: rolePeerPublisher},
			rolePeerPublisher + "->" + rolePeerPlayer},
		{groupPublishScenario, 2, []string{rolePeerPlayer}, map[string]string{rolePeerPlayer: roleServer},
			roleServer + "->" + rolePeerPlayer},
	} {
		t.Run(sc.name, func(t *testing.T) {
			tr := loadRecording(t, sc.name, sc.sessions)
			ids := peerIDs(tr)
			gc := groupMessages(t, sc.name, group.MetadataGC)
			for _, role := range sc.members {
				var joins, told []group.Message
				for _, m := range gc {
					msg, err := group.DecodeGC(m.Data)
					if err != nil {
						t.Fatalf("#%d %s→%s: %v", m.DatagramIndex, m.FromRole, m.ToRole, err)
					}
					switch {
					case m.FromRole == role && m.ToRole == roleServer:
						joins = append(joins, msg)
					case m.FromRole == roleServer && m.ToRole == role:
						told = append(told, msg)
					}
				}
				if len(joins) != 1 {
					t.Fatalf("%s sent %d GC messages", role, len(joins))
				}
				if j, ok := joins[0].(group.Join); !ok || j.GroupID != gid {
					t.Fatalf("%s joined %+v, want group %s", role, joins[0], gid)
				}
				want := ids[sc.others[role]]
				if len(told) != 1 {
					t.Fatalf("rtmfpd sent %s %d GC messages", role, len(told))
				}
				if mb, ok := told[0].(group.Member); !ok || mb.PeerID != want {
					t.Fatalf("rtmfpd told %s %+v, want member %s", role, told[0], want)
				}
			}
			// The P2P session: its initiator asked for the member it was
			// told about (rtmfpd's own member sends its IHello straight to
			// the player's address).
			s := tr.sessionNamed(t, sc.p2p)
			ihellos, at := chunksOf(t, tr, s.Initiator.Role, s.Responder.Role, wire.TypeIHello, wire.ParseIHello)
			if sc.name == netgroupScenario {
				ihellos, at = chunksOf(t, tr, s.Initiator.Role, roleServer, wire.TypeIHello, wire.ParseIHello)
			}
			target := ids[s.Responder.Role]
			epd := append([]byte{0x21, 0x0F}, target[:]...)
			asked := false
			for k, c := range ihellos {
				if !bytes.Equal(c.EPD, epd) {
					continue
				}
				asked = true
				if at[k] > s.IIKeyingDatagramIndex {
					t.Errorf("IHello #%d after the IIKeying", at[k])
				}
			}
			if !asked {
				t.Fatalf("%s never asked for %s by peer ID", s.Initiator.Role, s.Responder.Role)
			}
		})
	}
}

// sessionCrypto returns one side's session crypto of a recorded session:
// its components as recorded, and the nonces HMAC-SHA256(K, component)
// from the recorded shared secret K (RFC 7425 §4.6).
func sessionCrypto(s *tracefile.Session, role string) *profile.SessionCrypto {
	near, far := s.InitiatorSessionKeyComponent, s.ResponderSessionKeyComponent
	if role == s.Responder.Role {
		near, far = far, near
	}
	return &profile.SessionCrypto{
		NearNonce: group.Nonce(s.SharedSecret, near), FarNonce: group.Nonce(s.SharedSecret, far),
		NearComponent: near, FarComponent: far,
	}
}

// TestGroupInit checks the start of each P2P group session in g and h
// (rtmfp-facts §6.4): each side's GR 1C flow opens with the group init
// addressed to the other peer, the 02 message and the group begin, and
// the init carries the key both sides derive from the groupspec and the
// session nonces. The bytes rtmfpd's member sent in h are exactly what
// our group package builds from the recorded keys, and the init librtmfp
// sent passes the checks rtmfpd applies (group ID, recipient, key);
// with the key of the other direction it would not.
func TestGroupInit(t *testing.T) {
	spec, err := group.ParseSpec(groupSpec)
	if err != nil {
		t.Fatal(err)
	}
	gid := spec.GroupID()
	for _, sc := range []struct {
		name     string
		sessions int
		p2p      string
	}{
		{netgroupScenario, 3, rolePeerPublisher + "->" + rolePeerPlayer},
		{groupPublishScenario, 2, roleServer + "->" + rolePeerPlayer},
	} {
		t.Run(sc.name, func(t *testing.T) {
			tr := loadRecording(t, sc.name, sc.sessions)
			ids := peerIDs(tr)
			s := tr.sessionNamed(t, sc.p2p)
			firsts := map[string][][]byte{}
			for _, m := range groupMessages(t, sc.name, group.MetadataGRReport) {
				if m.SessionName != s.Name {
					t.Fatalf("#%d: GR 1C flow on session %s", m.DatagramIndex, m.SessionName)
				}
				if m.Seq <= 3 {
					firsts[m.FromRole] = append(firsts[m.FromRole], m.Data)
				}
			}
			for _, from := range []string{s.Initiator.Role, s.Responder.Role} {
				to := s.Initiator.Role
				if from == to {
					to = s.Responder.Role
				}
				got := firsts[from]
				if len(got) != 3 {
					t.Fatalf("%s: %d first GR 1C messages", from, len(got))
				}
				send, _ := group.SessionKeys(spec.GroupTxt(), sessionCrypto(s, from))
				want := [][]byte{group.NewInit(gid, send, ids[to]).Append(nil), group.Data{}.Append(nil), group.Begin{}.Append(nil)}
				for k := range want {
					if !bytes.Equal(got[k], want[k]) {
						t.Errorf("%s→%s message %d:\n built %x\n wire  %x", from, to, k+1, want[k], got[k])
					}
				}
				// The recipient's checks.
				in, err := group.ParseInit(got[0])
				if err != nil {
					t.Fatal(err)
				}
				_, expect := group.SessionKeys(spec.GroupTxt(), sessionCrypto(s, to))
				if !strings.EqualFold(in.GroupHex, gid.String()) || in.PeerID != ids[to] || !in.Key.Equal(expect) {
					t.Errorf("%s's init refused by %s: group %s, to %s", from, to, in.GroupHex, in.PeerID)
				}
				if other, _ := group.SessionKeys(spec.GroupTxt(), sessionCrypto(s, to)); in.Key.Equal(other) {
					t.Errorf("%s's init also passes with the key of the other direction", from)
				}
			}
		})
	}
}

// TestGroupReports: after the init, each side sent a group report (0x0A)
// telling the other how it sees it: the address the other's packets came
// from. librtmfp lists the server it joined through (origin 3) as its own
// address block; rtmfpd's member, being that server, lists the addresses
// its neighbours see it at once it has learnt them.
func TestGroupReports(t *testing.T) {
	for _, sc := range []struct {
		name     string
		sessions int
		p2p      string
	}{
		{netgroupScenario, 3, rolePeerPublisher + "->" + rolePeerPlayer},
		{groupPublishScenario, 2, roleServer + "->" + rolePeerPlayer},
	} {
		t.Run(sc.name, func(t *testing.T) {
			tr := loadRecording(t, sc.name, sc.sessions)
			s := tr.sessionNamed(t, sc.p2p)
			addr := map[string]string{s.Initiator.Role: s.Initiator.Addr, s.Responder.Role: s.Responder.Addr}
			server := tr.sessionNamed(t, rolePeerPlayer+"->"+roleServer).Responder.Addr
			reports := map[string]int{}
			for _, m := range groupMessages(t, sc.name, group.MetadataGRReport) {
				if m.Seq <= 3 {
					continue
				}
				msg, err := group.DecodeGR(m.Data)
				if err != nil {
					t.Fatalf("#%d: %v", m.DatagramIndex, err)
				}
				r, ok := msg.(group.Report)
				if !ok {
					t.Fatalf("#%d: %T after the init", m.DatagramIndex, msg)
				}
				if r.FarAddress.AddrPort.String() != addr[m.ToRole] || r.FarAddress.Origin != wire.OriginObserved {
					t.Errorf("#%d %s→%s: sees the receiver at %v, its packets came from %s", m.DatagramIndex, m.FromRole, m.ToRole, r.FarAddress, addr[m.ToRole])
				}
				if m.FromRole != roleServer {
					own := r.Addresses.Addresses
					if len(own) == 0 || own[0].AddrPort.String() != server || own[0].Origin != wire.OriginRelay {
						t.Errorf("#%d %s: own addresses %v, want the server %s first", m.DatagramIndex, m.FromRole, own, server)
					}
				}
				reports[m.FromRole]++
				t.Logf("#%d %s→%s: far %v, own %v, %d peers", m.DatagramIndex, m.FromRole, m.ToRole, r.FarAddress.AddrPort, r.Addresses.Addresses, len(r.Peers))
			}
			if reports[s.Initiator.Role] == 0 || reports[s.Responder.Role] == 0 {
				t.Fatalf("reports %v", reports)
			}
		})
	}
}
