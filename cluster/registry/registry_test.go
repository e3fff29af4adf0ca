package registry

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/cluster/natsembed"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

func startNATS(t testing.TB, listen string) *natsembed.Server {
	t.Helper()
	s, err := natsembed.Start(natsembed.Config{Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// events records what a registry's Events report.
type events struct {
	mu      sync.Mutex
	members map[string]map[profile.PeerID]bool // node/group → members
	streams map[string]bool                    // node/key
	nodes   map[string]bool
	msgs    []string
}

func newEvents() *events {
	return &events{members: map[string]map[profile.PeerID]bool{}, streams: map[string]bool{}, nodes: map[string]bool{}}
}

func (e *events) Events() Events {
	return Events{
		Node: func(info NodeInfo, up bool) {
			e.mu.Lock()
			e.nodes[info.Name] = up
			e.mu.Unlock()
		},
		Join: func(node string, gid group.GroupID, id profile.PeerID) {
			e.mu.Lock()
			k := node + "/" + gid.String()
			if e.members[k] == nil {
				e.members[k] = map[profile.PeerID]bool{}
			}
			e.members[k][id] = true
			e.mu.Unlock()
		},
		Leave: func(node string, gid group.GroupID, id profile.PeerID) {
			e.mu.Lock()
			delete(e.members[node+"/"+gid.String()], id)
			e.mu.Unlock()
		},
		Stream: func(node, key string, up bool) {
			e.mu.Lock()
			e.streams[node+"/"+key] = up
			e.mu.Unlock()
		},
		Message: func(from string, kind byte, body []byte) {
			e.mu.Lock()
			e.msgs = append(e.msgs, from+":"+string(body))
			e.mu.Unlock()
		},
	}
}

func (e *events) count(node string, gid group.GroupID) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.members[node+"/"+gid.String()])
}

func (e *events) stream(k string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.streams[k]
}

func newRegistry(t testing.TB, url, name string, ev *events, hb time.Duration) (*Registry, *nats.Conn) {
	t.Helper()
	nc, err := nats.Connect(url, append(Options(), nats.ReconnectWait(50*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Conn: nc, Node: name, Heartbeat: hb, MaxPeers: 100, MaxMembers: 100, MaxStreams: 10}
	if ev != nil {
		cfg.Events = ev.Events()
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); nc.Close() })
	return r, nc
}

func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func pid(b byte) profile.PeerID {
	var p profile.PeerID
	p[0], p[31] = b, b
	return p
}

func TestRegistryMirror(t *testing.T) {
	ns := startNATS(t, "127.0.0.1:0")
	evB := newEvents()
	a, _ := newRegistry(t, ns.ClientURL(), "a", nil, 100*time.Millisecond)
	b, _ := newRegistry(t, ns.ClientURL(), "b", evB, 100*time.Millisecond)

	ap := netip.MustParseAddrPort("127.0.0.1:5000")
	a.PeerUp(pid(1), []netip.AddrPort{ap, netip.MustParseAddrPort("0.0.0.0:1"), netip.MustParseAddrPort("10.0.0.1:5001")})
	gid := group.GroupID{9}
	a.Join(gid, pid(1))
	a.StreamUp("live/_definst_/cam")
	waitUntil(t, 5*time.Second, "b sees a's part", func() bool {
		return len(b.Peer(pid(1))) == 1 && evB.count("a", gid) == 1 && evB.stream("a/live/_definst_/cam")
	})
	c := b.Peer(pid(1))[0]
	if c.Node != "a" || len(c.Addrs) != 2 || c.Addrs[0] != ap {
		t.Fatalf("claim %+v: want node a, the two usable addresses", c)
	}
	if o, ok := b.StreamOrigin("live/_definst_/cam"); !ok || o != "a" {
		t.Fatalf("origin %q %v", o, ok)
	}

	// A node that starts later gets everything from a snapshot.
	evC := newEvents()
	cr, _ := newRegistry(t, ns.ClientURL(), "c", evC, 100*time.Millisecond)
	waitUntil(t, 5*time.Second, "c fetches a's part", func() bool {
		return len(cr.Peer(pid(1))) == 1 && evC.count("a", gid) == 1 && cr.Stats().SnapshotsFetched >= 2
	})

	// Removals.
	a.PeerDown(pid(1))
	a.Leave(gid, pid(1))
	a.StreamDown("live/_definst_/cam")
	waitUntil(t, 5*time.Second, "the removals", func() bool {
		_, ok := b.StreamOrigin("live/_definst_/cam")
		return len(b.Peer(pid(1))) == 0 && evB.count("a", gid) == 0 && !ok && len(cr.Peer(pid(1))) == 0
	})

	// Messages.
	if err := b.Send("a", 7, []byte("hello")); err != nil {
		t.Fatal(err)
	}

	// A clean stop: the others drop the node at once.
	a.PeerUp(pid(2), []netip.AddrPort{ap})
	a.Join(gid, pid(2))
	waitUntil(t, 5*time.Second, "pid 2", func() bool { return len(b.Peer(pid(2))) == 1 })
	a.Close()
	waitUntil(t, 5*time.Second, "a dropped", func() bool {
		_, ok := b.NodeInfo("a")
		return !ok && len(b.Peer(pid(2))) == 0 && evB.count("a", gid) == 0
	})
}

// TestRegistryExpiry: a node that vanishes without a word (its NATS
// connection cut) is dropped after Expiry.
func TestRegistryExpiry(t *testing.T) {
	ns := startNATS(t, "127.0.0.1:0")
	a, anc := newRegistry(t, ns.ClientURL(), "a", nil, 50*time.Millisecond)
	b, _ := newRegistry(t, ns.ClientURL(), "b", nil, 50*time.Millisecond)
	a.PeerUp(pid(1), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5000")})
	waitUntil(t, 5*time.Second, "b sees a's peer", func() bool { return len(b.Peer(pid(1))) == 1 })
	anc.Close() // no goodbye
	start := time.Now()
	waitUntil(t, 5*time.Second, "a expired", func() bool { return len(b.Peer(pid(1))) == 0 })
	if _, ok := b.NodeInfo("a"); ok {
		t.Fatal("a still listed")
	}
	t.Logf("expired after %v (expiry %v)", time.Since(start), b.cfg.Expiry)
}

// TestRegistryRestart: a node that crashes and comes back under the same
// name, well within the others' expiry, replaces its part at once: the old
// instance's peers are gone, the new one's are there.
func TestRegistryRestart(t *testing.T) {
	ns := startNATS(t, "127.0.0.1:0")
	nc, err := nats.Connect(ns.ClientURL(), Options()...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Conn: nc, Node: "b", Heartbeat: 50 * time.Millisecond, Expiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); nc.Close() })
	a, anc := newRegistry(t, ns.ClientURL(), "a", nil, 50*time.Millisecond)
	a.PeerUp(pid(1), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5000")})
	a.PeerUp(pid(2), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5001")})
	waitUntil(t, 5*time.Second, "b sees a's peers", func() bool { return len(b.Peer(pid(1))) == 1 && len(b.Peer(pid(2))) == 1 })
	anc.Close() // a crash: no goodbye

	a2, _ := newRegistry(t, ns.ClientURL(), "a", nil, 50*time.Millisecond)
	a2.PeerUp(pid(3), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5002")})
	waitUntil(t, 5*time.Second, "a's new part", func() bool {
		info, ok := b.NodeInfo("a")
		return ok && info.Instance == a2.Info().Instance && len(b.Peer(pid(3))) == 1 &&
			len(b.Peer(pid(1))) == 0 && len(b.Peer(pid(2))) == 0
	})
	if st := b.Stats(); st.RemotePeers != 1 || st.NodesExpired != 0 {
		t.Fatalf("b's stats %+v: want a's one new peer, no expiry", st)
	}
}

// TestRegistryLiar: a node registering more than its caps gets only its
// caps; its claims of another node's peer never hide that node's.
func TestRegistryLiar(t *testing.T) {
	ns := startNATS(t, "127.0.0.1:0")
	honest, _ := newRegistry(t, ns.ClientURL(), "honest", nil, 50*time.Millisecond)
	liar, _ := newRegistry(t, ns.ClientURL(), "liar", nil, 50*time.Millisecond)
	b, _ := newRegistry(t, ns.ClientURL(), "b", nil, 50*time.Millisecond)
	real := netip.MustParseAddrPort("127.0.0.1:5000")
	honest.PeerUp(pid(1), []netip.AddrPort{real})
	waitUntil(t, 5*time.Second, "the honest claim", func() bool { return len(b.Peer(pid(1))) == 1 })
	liar.PeerUp(pid(1), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.9:9")})
	for i := range 300 {
		var id profile.PeerID
		id[0], id[1] = 0xEE, byte(i)
		liar.PeerUp(id, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.9:9")})
		liar.StreamUp("live/_definst_/" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	waitUntil(t, 5*time.Second, "the liar's entries", func() bool { return b.Stats().RemotePeers >= 101 })
	st := b.Stats()
	if st.RemotePeers != 101 || st.RemoteStreams != 10 || st.Refused == 0 {
		t.Fatalf("stats %+v: want the honest peer and the liar's 100 (its cap), 10 streams, refusals counted", st)
	}
	cl := b.Peer(pid(1))
	if len(cl) != 2 || cl[0].Node != "honest" || cl[0].Addrs[0] != real {
		t.Fatalf("claims %+v: want the honest one first, the liar's after", cl)
	}
}

// TestRegistryOutage: NATS stops; each node drops the others (single-node
// behaviour); NATS comes back on the same address; the registry heals.
func TestRegistryOutage(t *testing.T) {
	ns, err := natsembed.Start(natsembed.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr().String()
	url := ns.ClientURL()
	a, _ := newRegistry(t, url, "a", nil, 50*time.Millisecond)
	b, _ := newRegistry(t, url, "b", nil, 50*time.Millisecond)
	a.PeerUp(pid(1), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5000")})
	b.PeerUp(pid(2), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5001")})
	waitUntil(t, 5*time.Second, "both parts", func() bool { return len(b.Peer(pid(1))) == 1 && len(a.Peer(pid(2))) == 1 })

	ns.Close()
	t.Log("closed")
	waitUntil(t, 5*time.Second, "single-node views", func() bool {
		return len(b.Peer(pid(1))) == 0 && len(a.Peer(pid(2))) == 0 && !a.Stats().Connected
	})
	// Changes during the outage are not lost.
	a.PeerUp(pid(3), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5002")})

	t.Log("single")
	startNATS(t, addr)
	t.Log("restarted")
	waitUntil(t, 10*time.Second, "healed", func() bool {
		return len(b.Peer(pid(1))) == 1 && len(b.Peer(pid(3))) == 1 && len(a.Peer(pid(2))) == 1
	})
}

// TestRegistryBadInput: malformed heartbeats, deltas and messages are
// counted and dropped; the registry goes on.
func TestRegistryBadInput(t *testing.T) {
	ns := startNATS(t, "127.0.0.1:0")
	b, _ := newRegistry(t, ns.ClientURL(), "b", nil, 50*time.Millisecond)
	a, _ := newRegistry(t, ns.ClientURL(), "a", nil, 50*time.Millisecond)
	raw, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	waitUntil(t, 5*time.Second, "a known to b", func() bool { _, ok := b.NodeInfo("a"); return ok })
	for _, m := range []struct{ subj, data string }{
		{"rtmfpd.r.hb.x", "{not json"},
		{"rtmfpd.r.hb.y", `{"name": "someone else"}`},
		{"rtmfpd.r.hb.bad.name", `{"name": "bad.name"}`},
		{"rtmfpd.r.d.a", "\x01short"},
		{"rtmfpd.m.b", "\x01"},
		{"rtmfpd.m.b", "\x01\x05nobody"},
	} {
		raw.Publish(m.subj, []byte(m.data))
	}
	raw.Flush()
	a.PeerUp(pid(7), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:7")})
	waitUntil(t, 5*time.Second, "the bad input counted, the good applied", func() bool {
		return b.Stats().Malformed >= 3 && len(b.Peer(pid(7))) == 1
	})
	if st := b.Stats(); st.Nodes != 1 || st.MessagesIn != 0 {
		t.Fatalf("stats %+v: want only a known, no message from an unknown node delivered", st)
	}
}
