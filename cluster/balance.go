package cluster

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rtmfpd/rtmfpd/cluster/registry"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Balance is the load-balancing policy: a node over MaxSessions RTMFP
// sessions, over MaxCPU or over MaxBandwidth answers new IHellos with a
// Redirect to the
// least-loaded node that is under its own limits (RFC 7016 §3.5.1.1.1:
// the client then sends its IHello there). Zero limits never redirect
// (but a draining node always does).
type Balance struct {
	// MaxSessions is the session count over which new sessions are sent
	// elsewhere (0: no limit).
	MaxSessions int
	// MaxCPU is the process CPU, in percent of one core over the last
	// heartbeat, over which new sessions are sent elsewhere (0: no limit).
	MaxCPU float64
	// MaxBandwidth is the rate the node sends at, in bits per second over
	// the last half heartbeat, over which new sessions are sent elsewhere
	// (0: no limit; needs BytesOut).
	MaxBandwidth float64
	// Sessions returns the node's current RTMFP sessions (required for
	// MaxSessions).
	Sessions func() int
	// BytesOut returns the bytes the node has sent since it started
	// (required for MaxBandwidth).
	BytesOut func() uint64
}

// pendingLife is how long an IHello let through counts as a session on its
// way (its handshake, then Accept, normally take a round trip or two).
const pendingLife = 3 * time.Second

// maxPending caps the handshakes counted as on their way.
const maxPending = 65536

// balancer decides, for each IHello, whether this node takes the session.
// Its state is read on the endpoint's receive goroutine: the candidates are
// recomputed on each heartbeat period, and the sessions this node let
// through or sent elsewhere since are counted as load, so that a burst of
// new clients spreads instead of all going where the last heartbeat said
// there was room.
type balancer struct {
	n        *Node
	cfg      Balance
	draining atomic.Bool
	quit     chan struct{}
	done     chan struct{}
	cpu      atomic.Uint64 // thousandths of a percent of a core
	bitsOut  atomic.Uint64 // bits per second sent

	mu         sync.Mutex
	pending    map[netip.AddrPort]time.Time // IHellos let through, not yet sessions
	candidates []*candidate                 // other nodes under their limits
	others     []*candidate                 // every other node (draining)
	redirects  atomic.Uint64
}

type candidate struct {
	name  string
	addrs []wire.Address
	load  int // sessions, plus those redirected there since its heartbeat
	over  bool
}

func newBalancer(n *Node, cfg Balance) *balancer {
	return &balancer{n: n, cfg: cfg, pending: map[netip.AddrPort]time.Time{}, quit: make(chan struct{}), done: make(chan struct{})}
}

func (b *balancer) start() {
	go b.loop()
}

func (b *balancer) stop() {
	select {
	case <-b.quit:
		return
	default:
	}
	close(b.quit)
	<-b.done
}

// loop measures the load, publishes it in the heartbeats and refreshes the
// candidates.
func (b *balancer) loop() {
	defer close(b.done)
	period := b.n.cfg.Heartbeat
	if period <= 0 {
		period = time.Second
	}
	t := time.NewTicker(period / 2)
	defer t.Stop()
	lastCPU, lastAt, lastOut := cpuTime(), time.Now(), b.bytesOut()
	for {
		b.refresh()
		select {
		case <-b.quit:
			return
		case <-t.C:
		}
		now := time.Now()
		c, out := cpuTime(), b.bytesOut()
		if el := now.Sub(lastAt); el > 0 {
			b.cpu.Store(uint64FromFloat(100 * float64(c-lastCPU) / float64(el)))
			b.bitsOut.Store(uint64(8 * float64(out-lastOut) / el.Seconds()))
		}
		lastCPU, lastAt, lastOut = c, now, out
	}
}

func (b *balancer) bytesOut() uint64 {
	if b.cfg.BytesOut == nil {
		return 0
	}
	return b.cfg.BytesOut()
}

// limited says the node has a limit of its own.
func (b *balancer) limited() bool {
	return b.cfg.MaxSessions > 0 || b.cfg.MaxCPU > 0 || b.cfg.MaxBandwidth > 0
}

// refresh publishes this node's load and recomputes the candidates from
// the other nodes' heartbeats.
func (b *balancer) refresh() {
	load := b.load(time.Now())
	cpu := floatFromUint64(b.cpu.Load())
	bits := float64(b.bitsOut.Load())
	over := b.over(load, cpu, bits)
	b.n.reg.SetInfo(func(i *registry.NodeInfo) {
		i.Load = registry.Load{Sessions: load, CPU: cpu, BitsOut: bits, Over: over}
		i.Draining = b.draining.Load()
	})
	var cands, others []*candidate
	for _, info := range b.n.reg.Nodes() {
		c := &candidate{name: info.Name, load: info.Load.Sessions, over: info.Load.Over || info.Draining}
		for _, s := range info.RTMFP {
			if ap, err := netip.ParseAddrPort(s); err == nil && !ap.Addr().IsUnspecified() {
				c.addrs = append(c.addrs, wire.Address{AddrPort: ap, Origin: wire.OriginRelay})
			}
		}
		if len(c.addrs) == 0 || info.Draining {
			continue
		}
		others = append(others, c)
		if !c.over {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(others, func(x, y *candidate) int { return x.load - y.load })
	b.mu.Lock()
	b.candidates, b.others = cands, others
	b.mu.Unlock()
}

func (b *balancer) over(load int, cpu, bits float64) bool {
	return b.draining.Load() || b.cfg.MaxSessions > 0 && load >= b.cfg.MaxSessions || b.cfg.MaxCPU > 0 && cpu >= b.cfg.MaxCPU ||
		b.cfg.MaxBandwidth > 0 && bits >= b.cfg.MaxBandwidth
}

// load is the sessions plus the handshakes let through and not yet
// sessions.
func (b *balancer) load(now time.Time) int {
	s := 0
	if b.cfg.Sessions != nil {
		s = b.cfg.Sessions()
	}
	b.mu.Lock()
	for a, t := range b.pending {
		if now.Sub(t) > pendingLife {
			delete(b.pending, a)
		}
	}
	n := len(b.pending)
	b.mu.Unlock()
	return s + n
}

// Redirect is the endpoint's rtmfp.Config.Redirect: nil takes the session
// here; addresses send it to another node.
func (b *balancer) Redirect(from netip.AddrPort) []wire.Address {
	now := time.Now()
	draining := b.draining.Load()
	if !draining && !b.limited() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.pending[from]; ok && now.Sub(t) <= pendingLife {
		return nil // a retransmission of an IHello let through
	}
	s := 0
	if b.cfg.Sessions != nil {
		s = b.cfg.Sessions()
	}
	if b.over(s+len(b.pending), floatFromUint64(b.cpu.Load()), float64(b.bitsOut.Load())) {
		list := b.candidates
		if len(list) == 0 && draining {
			list = b.others // anywhere but here
		}
		var best *candidate
		for _, c := range list {
			if best == nil || c.load < best.load {
				best = c
			}
		}
		if best != nil {
			best.load++
			b.redirects.Add(1)
			return best.addrs
		}
		if draining {
			return nil // nowhere else: serve it rather than lose it
		}
	}
	if len(b.pending) < maxPending {
		b.pending[from] = now
	}
	return nil
}

// opened is told that a session from addr is established: it no longer
// counts as on its way.
func (b *balancer) opened(addr netip.AddrPort) {
	b.mu.Lock()
	delete(b.pending, addr)
	b.mu.Unlock()
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func uint64FromFloat(f float64) uint64 { return uint64(f * 1000) }
func floatFromUint64(u uint64) float64 { return float64(u) / 1000 }

// Redirect is the node's rtmfp.Config.Redirect for its endpoints.
func (n *Node) Redirect(from netip.AddrPort) []wire.Address { return n.bal.Redirect(from) }

// SessionOpened tells the balancer that a session from addr is established.
func (n *Node) SessionOpened(addr netip.AddrPort) { n.bal.opened(addr) }

// Drain makes the node send every new session to other nodes and tells
// them at once; Close then leaves the registry.
func (n *Node) Drain() {
	n.bal.draining.Store(true)
	n.bal.refresh()
	n.reg.Heartbeat()
	n.log.Info("cluster: draining", "node", n.cfg.Name)
}

// Redirects returns how many IHellos were sent to other nodes.
func (n *Node) Redirects() uint64 { return n.bal.redirects.Load() }
