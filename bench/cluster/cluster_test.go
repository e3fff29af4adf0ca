// Package cluster benchmarks the cluster's registry and introductions at
// scale: 10 simulated nodes (each a registry with its own TCP connection)
// on one NATS server (nats-server, the same code rtmfpd embeds, reached
// over loopback TCP), with 1,000,000 peers registered. It is not part of
// CI (benchmarks only run with -bench); see BENCHMARKS.md "Cluster".
//
//	go test -run XXX -bench . -benchtime 200000x -timeout 30m ./bench/cluster/
package cluster

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/cluster/natsembed"
	"github.com/rtmfpd/rtmfpd/cluster/registry"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

const (
	nodes        = 10
	peersPerNode = 100000
	kindForward  = 1
)

// sim is the simulated cluster, built once for every benchmark.
type sim struct {
	ns    *natsembed.Server
	regs  []*registry.Registry
	conns []*nats.Conn
	// deliveries[i] receives the send time of each forward node i gets.
	got      []atomic.Uint64
	latMu    sync.Mutex
	lat      []time.Duration
	record   atomic.Bool
	heapPeer float64 // bytes of heap per registry entry (all nodes' mirrors)
	loadTime time.Duration
	msgsBulk float64 // NATS messages in per peer, bulk registration
}

var (
	pacedRuns atomic.Int64
	once      sync.Once
	theSim    *sim
	simErr    error
	baseMem   uint64
)

func peerID(node, i int) profile.PeerID {
	var p profile.PeerID
	binary.BigEndian.PutUint32(p[:], uint32(node))
	binary.BigEndian.PutUint32(p[4:], uint32(i))
	p[31] = 0x5a
	return p
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func varz(s *natsembed.Server) (in, out int64) {
	v, err := s.Varz(nil)
	if err != nil {
		return 0, 0
	}
	return v.InMsgs, v.OutMsgs
}

func build() (*sim, error) {
	ns, err := natsembed.Start(natsembed.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	s := &sim{ns: ns, got: make([]atomic.Uint64, nodes)}
	baseMem = heap()
	for i := range nodes {
		nc, err := nats.Connect(ns.ClientURL(), registry.Options()...)
		if err != nil {
			return nil, err
		}
		i := i
		r, err := registry.New(registry.Config{Conn: nc, Node: fmt.Sprintf("node%d", i), Heartbeat: time.Second,
			Expiry: time.Minute, // the load must not expire anyone on a busy machine
			Events: registry.Events{Message: func(from string, kind byte, body []byte) {
				if kind != kindForward || len(body) < 8 {
					return
				}
				sent := int64(binary.BigEndian.Uint64(body))
				if s.record.Load() {
					d := time.Duration(time.Now().UnixNano() - sent)
					s.latMu.Lock()
					s.lat = append(s.lat, d)
					s.latMu.Unlock()
				}
				s.got[i].Add(1)
			}}})
		if err != nil {
			return nil, err
		}
		s.regs = append(s.regs, r)
		s.conns = append(s.conns, nc)
	}
	deadline := time.Now().Add(time.Minute)
	for _, r := range s.regs {
		for len(r.Nodes()) != nodes-1 {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("nodes did not meet")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Register 1,000,000 peers, 100,000 per node, as fast as they come.
	in0, _ := varz(ns)
	start := time.Now()
	var wg sync.WaitGroup
	for n, r := range s.regs {
		wg.Go(func() {
			for i := range peersPerNode {
				a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, byte(n), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
				r.PeerUp(peerID(n, i), []netip.AddrPort{a})
			}
		})
	}
	wg.Wait()
	for _, r := range s.regs {
		for r.Stats().RemotePeers < (nodes-1)*peersPerNode {
			if time.Now().After(deadline.Add(10 * time.Minute)) {
				return nil, fmt.Errorf("registries did not converge: %+v", r.Stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s.loadTime = time.Since(start)
	in1, _ := varz(ns)
	s.msgsBulk = float64(in1-in0) / float64(nodes*peersPerNode)
	// Every node holds its 100,000 and a mirror of the other 900,000.
	s.heapPeer = float64(heap()-baseMem) / float64(nodes*nodes*peersPerNode)
	return s, nil
}

func get(b *testing.B) *sim {
	once.Do(func() { theSim, simErr = build() })
	if simErr != nil {
		b.Fatal(simErr)
	}
	return theSim
}

// BenchmarkClusterRegistry reports the registration of 1,000,000 peers
// over 10 nodes: the time until every node's mirror holds them all, heap
// per entry (each node's own part and its mirror of the others'), NATS
// messages per peer registered in bulk, and per peer joining at a steady
// pace (one every millisecond per node), where batching has less to
// share.
func BenchmarkClusterRegistry(b *testing.B) {
	s := get(b)
	b.ReportMetric(s.loadTime.Seconds(), "s-to-converge")
	b.ReportMetric(s.heapPeer, "heap-B/entry")
	b.ReportMetric(s.msgsBulk, "nats-in/join-bulk")
	// Paced joins: 200 more per node, one per millisecond.
	deltas := func() (n uint64) {
		for _, r := range s.regs {
			n += r.Stats().DeltasOut
		}
		return n
	}
	d0 := deltas()
	in0, out0 := varz(s.ns)
	var wg sync.WaitGroup
	const paced = 200
	first := peersPerNode + int(pacedRuns.Add(1)-1)*paced // new peers each run
	for n, r := range s.regs {
		wg.Go(func() {
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for i := range paced {
				<-t.C
				r.PeerUp(peerID(n, first+i), []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")})
			}
		})
	}
	wg.Wait()
	for _, r := range s.regs {
		for r.Stats().RemotePeers < (nodes-1)*(first+paced) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	in1, out1 := varz(s.ns)
	b.ReportMetric(float64(deltas()-d0)/float64(nodes*paced), "deltas/join-paced")
	b.ReportMetric(float64(in1-in0)/float64(nodes*paced), "nats-in/join-paced")
	b.ReportMetric(float64(out1-out0)/float64(nodes*paced), "nats-out/join-paced")
	for range b.N {
	}
}

// BenchmarkClusterIntroductions: introductions of random peers of other
// nodes, from every node at once: the registry lookup (which gives the
// Redirect's addresses at once) and the forward request to the node
// holding the peer, whose delivery is the latency the cluster adds to the
// Forwarded IHello. The baseline, in the same run, is the single-node
// introducer's part: a lookup in a local map of the same 1,000,000 peers.
func BenchmarkClusterIntroductions(b *testing.B) {
	s := get(b)
	// Baseline: one node's own map of every peer.
	local := make(map[profile.PeerID][]netip.AddrPort, nodes*peersPerNode)
	for n := range nodes {
		for i := range peersPerNode {
			local[peerID(n, i)] = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	const baseN = 1000000
	start := time.Now()
	hits := 0
	for range baseN {
		if len(local[peerID(rnd.IntN(nodes), rnd.IntN(peersPerNode))]) > 0 {
			hits++
		}
	}
	baseRate := float64(baseN) / time.Since(start).Seconds()
	local = nil

	sent0 := s.forwarded()
	s.latMu.Lock()
	s.lat = s.lat[:0]
	s.latMu.Unlock()
	s.record.Store(true)
	var lookups atomic.Int64 // nanoseconds in Peer()
	b.ResetTimer()
	per := b.N / nodes
	var wg sync.WaitGroup
	for n, r := range s.regs {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(n), 7))
			body := make([]byte, 8+32+40) // the size of a forward: time, target, EPD, tag, addresses
			for range per {
				tn := rnd.IntN(nodes - 1)
				if tn >= n {
					tn++
				}
				t0 := time.Now()
				claims := r.Peer(peerID(tn, rnd.IntN(peersPerNode)))
				lookups.Add(int64(time.Since(t0)))
				if len(claims) == 0 {
					b.Error("a registered peer not found")
					return
				}
				binary.BigEndian.PutUint64(body, uint64(time.Now().UnixNano()))
				r.Send(claims[0].Node, kindForward, body)
			}
		})
	}
	wg.Wait()
	want := sent0 + uint64(per*nodes)
	s.awaitForwarded(want, time.Minute)
	el := b.Elapsed()
	b.StopTimer()
	s.record.Store(false)
	s.latMu.Lock()
	lat := slices.Clone(s.lat)
	s.latMu.Unlock()
	slices.Sort(lat)
	rate := float64(per*nodes) / el.Seconds()
	b.ReportMetric(rate, "intro/s")
	b.ReportMetric(baseRate, "baseline-lookup/s")
	b.ReportMetric(rate/baseRate, "ratio")
	b.ReportMetric(float64(lookups.Load())/float64(per*nodes), "lookup-ns")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "saturated-forward-p50-µs")
	}
	_ = hits
}

// BenchmarkClusterIntroductionLatency: introductions at a steady 1,000 per
// second over the 10 nodes (100 per node), not at saturation: the time the
// registry lookup takes (what delays the Redirect) and the time until the
// node holding the peer has the forward request (what delays the
// Forwarded IHello), p50 and p99. On one node both are zero: the
// introducer looks the peer up in its own map and writes the Forwarded
// IHello itself.
func BenchmarkClusterIntroductionLatency(b *testing.B) {
	s := get(b)
	s.latMu.Lock()
	s.lat = s.lat[:0]
	s.latMu.Unlock()
	before := s.forwarded()
	s.record.Store(true)
	const perNode, period = 300, 10 * time.Millisecond // 100/s per node, 3 s
	var lmu sync.Mutex
	var lookups []time.Duration
	var wg sync.WaitGroup
	for n, r := range s.regs {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(n), 9))
			body := make([]byte, 8+32+40)
			t := time.NewTicker(period)
			defer t.Stop()
			var mine []time.Duration
			for range perNode {
				<-t.C
				tn := (n + 1 + rnd.IntN(nodes-1)) % nodes
				t0 := time.Now()
				claims := r.Peer(peerID(tn, rnd.IntN(peersPerNode)))
				mine = append(mine, time.Since(t0))
				binary.BigEndian.PutUint64(body, uint64(time.Now().UnixNano()))
				r.Send(claims[0].Node, kindForward, body)
			}
			lmu.Lock()
			lookups = append(lookups, mine...)
			lmu.Unlock()
		})
	}
	wg.Wait()
	want := before + nodes*perNode
	s.awaitForwarded(want, time.Minute)
	s.record.Store(false)
	s.latMu.Lock()
	lat := slices.Clone(s.lat)
	s.latMu.Unlock()
	slices.Sort(lat)
	slices.Sort(lookups)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
	b.ReportMetric(us(lookups[len(lookups)/2]), "redirect-p50-µs")
	b.ReportMetric(us(lookups[len(lookups)*99/100]), "redirect-p99-µs")
	if len(lat) > 0 {
		b.ReportMetric(us(lat[len(lat)/2]), "forward-p50-µs")
		b.ReportMetric(us(lat[len(lat)*99/100]), "forward-p99-µs")
	}
	for range b.N {
	}
}

// forwarded is how many forward requests the nodes have received.
func (s *sim) forwarded() uint64 {
	var n uint64
	for i := range s.got {
		n += s.got[i].Load()
	}
	return n
}

// awaitForwarded waits (polling: the requests cross NATS) until the nodes
// have received want forward requests, or for at most limit.
func (s *sim) awaitForwarded(want uint64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for s.forwarded() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
