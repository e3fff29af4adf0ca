package simnet

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero fields of [Config].
const (
	DefaultRecvQueue   = 1024
	DefaultMaxInFlight = 1 << 16
)

// ErrNetworkClosed is returned when a Network is used after Close.
var ErrNetworkClosed = errors.New("simnet: network closed")

// Config configures a [Network].
type Config struct {
	// Seed seeds every random choice of the network (loss, duplication,
	// jitter, reordering); the same seed and the same sequence of writes
	// give the same outcome.
	Seed uint64
	// Link is the default core path between any two nodes of the public
	// internet (see Network.SetPath for per-pair paths).
	Link LinkConfig
	// RecvQueue is the receive queue length of each socket, in datagrams;
	// DefaultRecvQueue when zero.
	RecvQueue int
	// MaxInFlight bounds the datagrams delayed in links across the
	// network; more are dropped (DropQueue). DefaultMaxInFlight when zero.
	MaxInFlight int
}

// Network is an in-memory IP network carrying UDP datagrams between
// simulated hosts, through links and NATs. It is safe for concurrent use.
//
// In a testing/synctest bubble, create the Network and its sockets inside
// the bubble.
type Network struct {
	cfg   Config
	epoch time.Time

	mu       sync.Mutex
	closed   bool
	inet     *realm
	byAddr   map[netip.Addr][]*Host // every host address, all realms
	hosts    []*Host
	nats     []*NAT
	nextNode uint64
	nextPub  uint32 // public address allocation counter
	nextLAN  int    // default LAN prefix counter
	sched    scheduler

	filters  atomic.Pointer[[]filterEntry]
	filterID uint64 // under mu
	packetID atomic.Uint64
	stats    netCounters
}

// New returns an empty Network.
func New(cfg Config) *Network {
	if cfg.RecvQueue <= 0 {
		cfg.RecvQueue = DefaultRecvQueue
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	cfg.Link = cfg.Link.normalized()
	n := &Network{cfg: cfg, epoch: time.Now(), byAddr: make(map[netip.Addr][]*Host)}
	n.inet = n.newRealm(nil, cfg.Link)
	return n
}

// now is the network clock: nanoseconds since New.
func (n *Network) now() int64 { return int64(time.Since(n.epoch)) }

// Stats returns the network-wide counters.
func (n *Network) Stats() Stats { return n.stats.snapshot() }

func (n *Network) drop(p *Packet, r DropReason) {
	n.stats.dropped[r].Add(1)
	freePacket(p)
}

// Close closes every socket, discards the datagrams in flight and stops the
// network's timers. It is idempotent.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.sched.stop(n)
	var conns []*Conn
	for _, h := range n.hosts {
		for _, c := range h.conns {
			conns = append(conns, c)
		}
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// SetDefaultLink changes the default core path of the public internet
// (Config.Link). It affects datagrams entering a path from now on.
func (n *Network) SetDefaultLink(cfg LinkConfig) {
	n.mu.Lock()
	n.inet.def = cfg.normalized()
	n.mu.Unlock()
}

// SetPath sets the core path from one node to another (one direction).
// Both nodes must be in the same realm: both on the public internet, or
// both behind the same NAT. Nodes behind a NAT reach the internet through
// their NAT, so the path between two NATed hosts is the one between their
// NATs. It overrides the realm's default link.
func (n *Network) SetPath(from, to Node, cfg LinkConfig) error {
	return n.setPath(from, to, cfg.normalized(), true)
}

// ClearPath makes the path from one node to another use its realm's
// default link again.
func (n *Network) ClearPath(from, to Node) error {
	return n.setPath(from, to, LinkConfig{}, false)
}

func (n *Network) setPath(from, to Node, cfg LinkConfig, custom bool) error {
	a, b := from.simnode(), to.simnode()
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.realm != b.realm {
		return fmt.Errorf("simnet: nodes %v and %v are not in the same realm", a.addrs, b.addrs)
	}
	e := a.realm.path(a, b)
	e.cfg, e.custom = cfg, custom
	return nil
}

// SetPaths sets the core path between two nodes in both directions.
func (n *Network) SetPaths(a, b Node, cfg LinkConfig) error {
	if err := n.SetPath(a, b, cfg); err != nil {
		return err
	}
	return n.SetPath(b, a, cfg)
}

// AddFilter installs f to see every datagram at stage s, and returns a
// function that removes it. Filters run in the order they were added.
func (n *Network) AddFilter(s Stage, f Filter) (remove func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.filterID++
	id := n.filterID
	var fs []filterEntry
	if old := n.filters.Load(); old != nil {
		fs = slices.Clone(*old)
	}
	fs = append(fs, filterEntry{id: id, stage: s, f: f})
	n.filters.Store(&fs)
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		old := n.filters.Load()
		if old == nil {
			return
		}
		fs := slices.DeleteFunc(slices.Clone(*old), func(e filterEntry) bool { return e.id == id })
		n.filters.Store(&fs)
	}
}

type filterEntry struct {
	id    uint64
	stage Stage
	f     Filter
}

// filter runs the filters of stage s on p and reports whether p goes on.
func (n *Network) filter(s Stage, p *Packet) bool {
	fs := n.filters.Load()
	if fs == nil {
		return true
	}
	for _, e := range *fs {
		if e.stage != s {
			continue
		}
		p.Stage = s
		if e.f(p) == Drop {
			return false
		}
	}
	return true
}

// Node is a host or the outside of a NAT: something with an address in a
// realm, joined to the realm's router by an access link.
type Node interface {
	simnode() *node
}

// node is the attachment of a host or a NAT to a realm.
type node struct {
	id       uint64
	realm    *realm
	addrs    []netip.Addr
	host     *Host // exactly one of host and nat is set
	nat      *NAT
	up, down LinkConfig // access link to and from the realm's router
	upSt     linkState
	downSt   linkState
}

func (n *Network) newNode(r *realm, addrs []netip.Addr) node {
	n.nextNode++
	id := n.nextNode
	return node{
		id: id, realm: r, addrs: addrs,
		upSt:   linkState{stream: id<<2 | 1},
		downSt: linkState{stream: id<<2 | 2},
	}
}

// realm is an addressing domain: the public internet, or the LAN behind a
// NAT (whose router is the NAT).
type realm struct {
	nat   *NAT // gateway, nil for the internet
	nodes map[netip.Addr]*node
	def   LinkConfig
	paths map[[2]uint64]*pathEntry
}

type pathEntry struct {
	cfg    LinkConfig
	custom bool
	st     linkState
}

func (n *Network) newRealm(nat *NAT, def LinkConfig) *realm {
	return &realm{nat: nat, nodes: make(map[netip.Addr]*node), def: def, paths: make(map[[2]uint64]*pathEntry)}
}

// path returns the state of the core path a → b, creating it.
func (r *realm) path(a, b *node) *pathEntry {
	k := [2]uint64{a.id, b.id}
	e := r.paths[k]
	if e == nil {
		e = &pathEntry{st: linkState{stream: a.id<<32 ^ b.id<<2 | 3}}
		r.paths[k] = e
	}
	return e
}

// core returns the configuration and state of the core path a → b, or nil
// when it is a perfect link.
func (r *realm) core(a, b *node) (*LinkConfig, *linkState) {
	if len(r.paths) == 0 && r.def.isZero() {
		return nil, nil
	}
	e := r.paths[[2]uint64{a.id, b.id}]
	if e == nil {
		if r.def.isZero() {
			return nil, nil
		}
		e = r.path(a, b)
	}
	if e.custom {
		return &e.cfg, &e.st
	}
	return &r.def, &e.st
}

// addNode registers nd's addresses in its realm. Called with n.mu held.
func (n *Network) addNode(nd *node) error {
	for i, a := range nd.addrs {
		if !a.IsValid() || a.IsUnspecified() || a.Is4In6() || a.Zone() != "" {
			return fmt.Errorf("simnet: bad host address %v", a)
		}
		if nd.realm.nodes[a] != nil || slices.Contains(nd.addrs[:i], a) {
			return fmt.Errorf("simnet: address %v already in use", a)
		}
	}
	for _, a := range nd.addrs {
		nd.realm.nodes[a] = nd
	}
	return nil
}

// allocPublic returns the next free public IPv4 address (in
// 198.18.0.0/15) and, when v6 is set, the IPv6 address with the same host
// number (in 2001:db8::/32). Called with n.mu held.
func (n *Network) allocPublic(v6 bool) ([]netip.Addr, error) {
	for n.nextPub+1 < 1<<17 {
		n.nextPub++
		k := n.nextPub
		a4 := netip.AddrFrom4([4]byte{198, 18 + byte(k>>16), byte(k >> 8), byte(k)})
		a6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 13: byte(k >> 16), byte(k >> 8), byte(k)})
		if n.inet.nodes[a4] != nil || v6 && n.inet.nodes[a6] != nil {
			continue
		}
		if v6 {
			return []netip.Addr{a4, a6}, nil
		}
		return []netip.Addr{a4}, nil
	}
	return nil, errors.New("simnet: public addresses exhausted")
}
