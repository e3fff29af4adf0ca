package netgroup

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/internal/traceflow"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

const traceSpec = "G:027f0201010103010c050e74657374011b00"

var traceCache struct {
	once sync.Once
	msgs []traceflow.FlowMessage
	keys *tracefile.Keys
	err  error
}

// netgroupTrace loads the messages and keys of the c_netgroup capture
// (three librtmfp peers and MonaServer2) once.
func netgroupTrace(t testing.TB) ([]traceflow.FlowMessage, *tracefile.Keys) {
	t.Helper()
	traceCache.once.Do(func() {
		traceCache.msgs, traceCache.err = traceflow.ExtractFlowMessages("c_netgroup")
		if traceCache.err == nil {
			traceCache.keys, traceCache.err = tracefile.LoadKeys("c_netgroup")
		}
	})
	if traceCache.err != nil {
		t.Fatal(traceCache.err)
	}
	return traceCache.msgs, traceCache.keys
}

// tracePeers maps each role of the trace to its peer ID: the initiator peer
// ID of its session with the server.
func tracePeers(keys *tracefile.Keys) map[string]profile.PeerID {
	out := map[string]profile.PeerID{}
	for _, s := range keys.Sessions {
		if s.Responder.Role == "server" {
			out[s.Initiator.Role] = profile.PeerID(s.InitiatorPeerID)
		}
	}
	return out
}

// traceCrypto returns the session crypto of one side of a recorded
// session: its components as recorded, and the nonces HMAC-SHA256(K,
// component) from the recorded shared secret K (the c_netgroup keys file
// records no nonces; its SOURCE.md documents that every session key was
// recomputed from these values).
func traceCrypto(t *testing.T, s tracefile.Session, role string) *profile.SessionCrypto {
	t.Helper()
	near, far := s.InitiatorSessionKeyComponent, s.ResponderSessionKeyComponent
	if role == s.Responder.Role {
		near, far = far, near
	}
	if len(s.SharedSecret) == 0 || len(near) == 0 || len(far) == 0 {
		t.Fatalf("%s: no key material", s.Name)
	}
	return &profile.SessionCrypto{
		NearNonce: group.Nonce(s.SharedSecret, near), FarNonce: group.Nonce(s.SharedSecret, far),
		NearComponent: near, FarComponent: far,
	}
}

// TestTraceInit builds, for each side of each P2P session of c_netgroup,
// the three first messages of its GR 1C flow from the recorded keys and
// compares them with the recorded bytes; then checks each recorded init as
// its recipient would.
func TestTraceInit(t *testing.T) {
	msgs, keys := netgroupTrace(t)
	spec, err := group.ParseSpec(traceSpec)
	if err != nil {
		t.Fatal(err)
	}
	peers := tracePeers(keys)
	sessions := map[string]tracefile.Session{}
	for _, s := range keys.Sessions {
		sessions[s.Name] = s
	}
	checked := 0
	for _, m := range msgs {
		if !bytes.Equal(m.Metadata, group.MetadataGRReport) || m.Seq > 3 {
			continue
		}
		s := sessions[m.SessionName]
		want := initMessages(spec.GroupTxt(), spec.GroupID(), traceCrypto(t, s, m.FromRole), peers[m.ToRole])
		if got := want[m.Seq-1]; !bytes.Equal(got, m.Data) {
			t.Errorf("#%d %s→%s message %d:\n built %x\n wire  %x", m.DatagramIndex, m.FromRole, m.ToRole, m.Seq, got, m.Data)
		}
		if m.Seq == 1 {
			_, expect := group.SessionKeys(spec.GroupTxt(), traceCrypto(t, s, m.ToRole))
			if _, err := checkInit(m.Data, spec.GroupID(), peers[m.ToRole], expect); err != nil {
				t.Errorf("#%d: recipient refuses the recorded init: %v", m.DatagramIndex, err)
			}
			// The same init is refused by anyone else, or with another key.
			if _, err := checkInit(m.Data, spec.GroupID(), peers[m.FromRole], expect); err == nil {
				t.Errorf("#%d: init accepted by its sender", m.DatagramIndex)
			}
			send, _ := group.SessionKeys(spec.GroupTxt(), traceCrypto(t, s, m.ToRole))
			if _, err := checkInit(m.Data, spec.GroupID(), peers[m.ToRole], send); err == nil {
				t.Errorf("#%d: init accepted with the key of the other direction", m.DatagramIndex)
			}
			if gid, ok := initGroup(m.Data); !ok || gid != spec.GroupID() {
				t.Errorf("#%d: routed to group %v", m.DatagramIndex, gid)
			}
		}
		checked++
	}
	if checked != 18 {
		t.Fatalf("checked %d messages, want 3 on each side of 3 sessions", checked)
	}
}

// TestTraceFlows checks the flow layout this package relies on, on every P2P
// session of c_netgroup: GR 1C flows carry no association, GR 11 flows are
// associated with the receiver's GR 1C flow and GR 12 flows with the
// receiver's GR 11 flow.
func TestTraceFlows(t *testing.T) {
	msgs, _ := netgroupTrace(t)
	type flowKey struct {
		session, from string
		id            uint64
	}
	meta := map[flowKey][]byte{}
	for _, m := range msgs {
		meta[flowKey{m.SessionName, m.FromRole, m.FlowID}] = m.Metadata
	}
	counts := map[string]int{}
	for _, m := range msgs {
		var want []byte
		switch {
		case bytes.Equal(m.Metadata, group.MetadataGRReport):
			if m.HasAssociation {
				t.Errorf("#%d: GR 1C flow associated with %d", m.DatagramIndex, m.ReturnAssociation)
			}
		case bytes.Equal(m.Metadata, group.MetadataGRMediaReport):
			want = group.MetadataGRReport
		case bytes.Equal(m.Metadata, group.MetadataGRMedia):
			want = group.MetadataGRMediaReport
		default:
			continue
		}
		counts[traceflow.SignatureString(m.Metadata)]++
		if want == nil {
			continue
		}
		if !m.HasAssociation {
			t.Errorf("#%d: %q flow without association", m.DatagramIndex, m.Metadata)
			continue
		}
		if got := meta[flowKey{m.SessionName, m.ToRole, m.ReturnAssociation}]; !bytes.Equal(got, want) {
			t.Errorf("#%d: %q flow associated with the receiver's %q flow, want %q", m.DatagramIndex, m.Metadata, got, want)
		}
	}
	for _, k := range []string{"GR 1c", "GR 11", "GR 12"} {
		if counts[k] == 0 {
			t.Errorf("no %s messages", k)
		}
	}
	t.Log(counts)
}

// bareMember is a Member without network for the pure parts: heard list,
// reports, best list.
func bareMember(self profile.PeerID) *Member {
	cfg := Config{Logger: slog.New(slog.DiscardHandler), Rand: rand.New(rand.NewPCG(1, 2))}
	cfg.populate()
	return &Member{
		cfg: cfg, self: self, selfAddr: group.AddressOf(self), log: cfg.Logger, rnd: cfg.Rand,
		kick: make(chan struct{}, 1), neighbors: map[profile.PeerID]*Neighbor{}, pending: map[profile.PeerID]bool{},
		heard: map[profile.PeerID]*heardPeer{}, dead: map[profile.PeerID]time.Time{}, best: map[profile.PeerID]bool{},
	}
}

// TestTraceReports parses every GR 1C message of c_netgroup and applies
// each recorded report to a member standing for its recipient: it learns
// the peers listed (never itself) with their addresses, and the address the
// sender sees it at. The report it then writes back parses and lists what
// it learned.
func TestTraceReports(t *testing.T) {
	msgs, keys := netgroupTrace(t)
	peers := tracePeers(keys)
	members := map[string]*Member{}
	for role, id := range peers {
		members[role] = bareMember(id)
	}
	now := time.Now()
	reports := 0
	for _, m := range msgs {
		if !bytes.Equal(m.Metadata, group.MetadataGRReport) {
			continue
		}
		msg, err := group.DecodeGR(m.Data)
		if err != nil {
			t.Errorf("#%d: %v", m.DatagramIndex, err)
			continue
		}
		r, ok := msg.(group.Report)
		if !ok {
			continue
		}
		reports++
		mb := members[m.ToRole]
		from := peers[m.FromRole]
		mb.hearLocked(from, now)
		mb.applyReportFromLocked(from, r, now)
		for _, e := range r.Peers {
			id, _ := e.PeerID()
			h := mb.heard[id]
			switch {
			case id == mb.self:
				if h != nil {
					t.Errorf("#%d: %s put itself in its heard list", m.DatagramIndex, m.ToRole)
				}
			case h == nil:
				t.Errorf("#%d: %s did not learn %s", m.DatagramIndex, m.ToRole, id)
			default:
				for _, a := range e.Addresses.Addresses {
					if a.Origin&3 == 3 && h.server != a || a.Origin&3 != 3 && !containsAddr(h.addrs, a.AddrPort) {
						t.Errorf("#%d: %s did not keep address %v of %s", m.DatagramIndex, m.ToRole, a, id)
					}
				}
			}
		}
		if !containsAddr(mb.myAddrs, r.FarAddress.AddrPort) {
			t.Errorf("#%d: own address %v not learned", m.DatagramIndex, r.FarAddress)
		}
	}
	if reports < 6 {
		t.Fatalf("%d reports in the trace", reports)
	}
	for role, mb := range members {
		if len(mb.heard) != len(peers)-1 {
			t.Errorf("%s knows %d peers, want %d", role, len(mb.heard), len(peers)-1)
		}
		for other, id := range peers {
			if other == role {
				continue
			}
			b := mb.reportForLocked(id, mb.heard[id].dialAddresses()[0], now)
			msg, err := group.DecodeGR(b)
			if err != nil {
				t.Fatalf("%s's report for %s: %v", role, other, err)
			}
			r := msg.(group.Report)
			for _, e := range r.Peers {
				if pid, _ := e.PeerID(); pid == id || pid == mb.self || mb.heard[pid] == nil {
					t.Errorf("%s's report for %s lists %s", role, other, pid)
				}
			}
		}
	}
}

func containsAddr(list []wire.Address, ap netip.AddrPort) bool {
	for _, a := range list {
		if a.AddrPort == ap {
			return true
		}
	}
	return false
}
