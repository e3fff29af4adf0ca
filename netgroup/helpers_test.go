package netgroup

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

var quiet = slog.New(slog.DiscardHandler)

// testServer runs the introducer stack on h, port 1935: NetConnections
// and group control for clients, and the P2P sessions of the server's own
// group members.
func testServer(t testing.TB, h *simnet.Host) (*introducer.Introducer, *rtmfp.Endpoint, string) {
	in := introducer.New(introducer.Config{Logger: quiet})
	var ep *rtmfp.Endpoint
	ep = rtmfptest.Endpoint(t, h, 1935, rtmfp.Config{OnIntroduction: in.Hook(&ep), StartupRate: 1e6, StartupBurst: 1e6})
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	nc := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet, OnConn: in.AddConn, OnGroupFlow: in.HandleGroupFlow})
	go Serve(context.Background(), ep, func(s *rtmfp.Session) { go nc.HandleSession(s) })
	return in, ep, fmt.Sprintf("rtmfp://%s/app", ep.LocalAddr())
}

// recorder is a Handler that keeps each member's view of its neighbours
// and exercises the multicast seam: on connect it opens a GR 11 flow and
// writes to it; on a neighbour's GR 11 flow it answers with a GR 12 flow
// associated with it.
type recorder struct {
	mu           sync.Mutex
	up           map[profile.PeerID]int
	down         map[profile.PeerID]error
	reportFlows  int
	mediaFlows   int
	badAssoc     []string
	orderErrors  []string
	openedReport map[*rtmfp.SendFlow]profile.PeerID
}

func newRecorder() *recorder {
	return &recorder{up: map[profile.PeerID]int{}, down: map[profile.PeerID]error{}, openedReport: map[*rtmfp.SendFlow]profile.PeerID{}}
}

func (r *recorder) NeighborConnected(n *Neighbor) {
	r.mu.Lock()
	r.up[n.ID()]++
	delete(r.down, n.ID())
	r.mu.Unlock()
	f, err := n.OpenReportFlow(rtmfp.FlowOptions{})
	if err != nil {
		return
	}
	r.mu.Lock()
	r.openedReport[f] = n.ID()
	r.mu.Unlock()
	f.Write([]byte{0x23, 0x02})
}

func (r *recorder) NeighborDisconnected(n *Neighbor, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.up[n.ID()] == 0 {
		r.orderErrors = append(r.orderErrors, "disconnected before connected: "+n.ID().String())
	}
	r.up[n.ID()]--
	if r.up[n.ID()] == 0 {
		delete(r.up, n.ID())
	}
	r.down[n.ID()] = err
}

func (r *recorder) ReportFlow(n *Neighbor, f *rtmfp.RecvFlow) {
	r.mu.Lock()
	r.reportFlows++
	if r.up[n.ID()] == 0 {
		r.orderErrors = append(r.orderErrors, "report flow of an unknown neighbour")
	}
	// A GR 11 flow answers our GR 1C flow to that neighbour.
	n.m.mu.Lock()
	if f.Association() == nil || f.Association() != n.out {
		r.badAssoc = append(r.badAssoc, "GR 11 not associated with our GR 1C flow")
	}
	n.m.mu.Unlock()
	r.mu.Unlock()
	if mf, err := n.OpenMediaFlow(f, rtmfp.FlowOptions{}); err == nil {
		mf.Write([]byte{0x20, 0x01})
	}
	go drain(f)
}

func (r *recorder) MediaFlow(n *Neighbor, assoc *rtmfp.SendFlow, f *rtmfp.RecvFlow) {
	r.mu.Lock()
	r.mediaFlows++
	if id, ok := r.openedReport[assoc]; !ok || id != n.ID() || f.Association() != assoc {
		r.badAssoc = append(r.badAssoc, "GR 12 not associated with our GR 11 flow")
	}
	r.mu.Unlock()
	go drain(f)
}

func (r *recorder) neighbours() map[profile.PeerID]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[profile.PeerID]bool{}
	for id := range r.up {
		out[id] = true
	}
	return out
}

// node is one client member of a test network.
type node struct {
	ep  *rtmfp.Endpoint
	c   *client.Conn
	m   *Member
	rec *recorder
}

func (n *node) id() profile.PeerID { return n.ep.PeerID() }

// testConfig shortens nothing: the members run librtmfp's timings.
func testConfig(seed uint64) Config {
	return Config{Logger: quiet, Rand: rand.New(rand.NewPCG(seed, 7))}
}

// joinClient dials the server from a new host and joins the group.
func joinClient(t testing.TB, n *simnet.Network, url, spec string, seed uint64) *node {
	t.Helper()
	return joinClientWith(t, n, url, spec, seed, nil)
}

// joinClientWith is joinClient with the member's Config adjusted by set.
func joinClientWith(t testing.TB, n *simnet.Network, url, spec string, seed uint64, set func(*Config)) *node {
	t.Helper()
	h, err := n.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	ep := rtmfptest.Endpoint(t, h, 0, rtmfp.Config{HandshakeTimeout: 10 * time.Second})
	ctx := context.Background()
	c, err := client.Dial(ctx, url, client.Options{Endpoint: ep, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go Serve(ctx, ep, nil)
	rec := newRecorder()
	cfg := testConfig(seed)
	cfg.Endpoint, cfg.Spec, cfg.Rendezvous, cfg.Handler = ep, spec, ClientRendezvous{Conn: c}, rec
	if set != nil {
		set(&cfg)
	}
	m, err := Join(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &node{ep: ep, c: c, m: m, rec: rec}
}

// neighbourIDs returns the peer IDs of a member's connected neighbours.
func neighbourIDs(m *Member) map[profile.PeerID]bool {
	out := map[profile.PeerID]bool{}
	for _, n := range m.Neighbors() {
		out[n.ID()] = true
	}
	return out
}
