package simnet

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// NATType is a NAT's mapping and filtering behaviour, in the terms of
// RFC 4787 §4.1 (mapping) and §5 (filtering).
type NATType uint8

const (
	// PortRestricted has endpoint-independent mapping and
	// address-and-port-dependent filtering: inbound datagrams are accepted
	// only from an address and port the mapping has sent to.
	PortRestricted NATType = iota
	// FullCone has endpoint-independent mapping and filtering: once a
	// mapping exists, anyone may send to it.
	FullCone
	// AddressRestricted has endpoint-independent mapping and
	// address-dependent filtering: inbound datagrams are accepted from any
	// port of an address the mapping has sent to.
	AddressRestricted
	// Symmetric has address-and-port-dependent mapping (a new public port
	// for each destination) and filtering.
	Symmetric
)

// String returns the type's name.
func (t NATType) String() string {
	switch t {
	case PortRestricted:
		return "port-restricted"
	case FullCone:
		return "full-cone"
	case AddressRestricted:
		return "address-restricted"
	case Symmetric:
		return "symmetric"
	}
	return fmt.Sprintf("NATType(%d)", uint8(t))
}

// DefaultMappingTimeout is the mapping timeout of a NAT whose
// NATConfig.MappingTimeout is zero (RFC 4787 REQ-5: at least 2 minutes).
const DefaultMappingTimeout = 2 * time.Minute

// First public port a NAT hands out when it does not preserve ports.
const firstNATPort = 20000

// NATConfig configures a [NAT].
type NATConfig struct {
	// Type is the mapping and filtering behaviour (zero: PortRestricted).
	Type NATType
	// PublicAddr is the NAT's IPv4 address outside; when zero the next free
	// address of the outer realm.
	PublicAddr netip.Addr
	// LAN is the private IPv4 prefix inside; when zero the next of
	// 192.168.1.0/24 … 192.168.255.0/24, then 10.0.0.0/24 …. LANs of
	// different NATs may overlap.
	LAN netip.Prefix
	// MappingTimeout is how long a mapping (and each of its filter
	// permissions) lives after its last outbound datagram; inbound traffic
	// does not refresh it. DefaultMappingTimeout when zero.
	MappingTimeout time.Duration
	// Hairpin lets hosts inside reach each other through the NAT's public
	// address (RFC 4787 REQ-9); off by default.
	Hairpin bool
	// PreservePorts makes a new mapping keep the internal port when it is
	// free; otherwise ports are handed out in sequence from 20000.
	PreservePorts bool
	// LANLink is the default path between two hosts inside.
	LANLink LinkConfig
}

// NAT is an IPv4 NAT device: one node in its outer realm (the public
// internet, or another NAT's LAN) and the router of its own LAN. It
// translates datagrams leaving the LAN and filters those coming in.
type NAT struct {
	node // outside
	net  *Network
	cfg  NATConfig
	lan  *realm

	public   netip.Addr
	nextHost netip.Addr
	nextPort uint16
	byPort   map[uint16]*mapping
	byFlow   map[flowKey]*mapping
	swept    int64
}

func (t *NAT) simnode() *node { return &t.node }

// mapping is one NAT binding of an internal endpoint to a public port.
type mapping struct {
	internal netip.AddrPort
	remote   netip.AddrPort // symmetric NATs: the only destination
	port     uint16
	last     int64                    // last outbound datagram
	perms    map[netip.AddrPort]int64 // filter permissions: destination (port 0 for address-only) → last use
}

type flowKey struct{ internal, remote netip.AddrPort }

// AddNAT adds a NAT to the public internet.
func (n *Network) AddNAT(cfg NATConfig) (*NAT, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addNAT(n.inet, cfg)
}

// AddNAT adds a NAT inside t's LAN (a NAT behind a NAT).
func (t *NAT) AddNAT(cfg NATConfig) (*NAT, error) {
	t.net.mu.Lock()
	defer t.net.mu.Unlock()
	return t.net.addNAT(t.lan, cfg)
}

func (n *Network) addNAT(outer *realm, cfg NATConfig) (*NAT, error) {
	if n.closed {
		return nil, ErrNetworkClosed
	}
	if cfg.Type > Symmetric {
		return nil, fmt.Errorf("simnet: unknown NAT type %d", cfg.Type)
	}
	if cfg.MappingTimeout <= 0 {
		cfg.MappingTimeout = DefaultMappingTimeout
	}
	cfg.LANLink = cfg.LANLink.normalized()
	if !cfg.LAN.IsValid() {
		cfg.LAN = n.nextLANPrefix()
	}
	cfg.LAN = cfg.LAN.Masked()
	if !cfg.LAN.Addr().Is4() || cfg.LAN.Bits() > 30 {
		return nil, fmt.Errorf("simnet: NAT LAN %v is not an IPv4 prefix of /30 or wider", cfg.LAN)
	}
	pub := cfg.PublicAddr
	if !pub.IsValid() {
		var err error
		if pub, err = n.allocIn(outer); err != nil {
			return nil, err
		}
	}
	if !pub.Is4() {
		return nil, fmt.Errorf("simnet: NAT public address %v is not IPv4", pub)
	}
	t := &NAT{
		net: n, cfg: cfg, public: pub,
		nextHost: cfg.LAN.Addr().Next().Next(), // .1 is the NAT itself
		nextPort: firstNATPort,
		byPort:   make(map[uint16]*mapping),
		byFlow:   make(map[flowKey]*mapping),
	}
	t.node = n.newNode(outer, []netip.Addr{pub})
	t.nat = t
	if err := n.addNode(&t.node); err != nil {
		return nil, err
	}
	t.lan = n.newRealm(t, cfg.LANLink)
	n.nats = append(n.nats, t)
	return t, nil
}

// nextLANPrefix returns the next default LAN prefix. Called with n.mu held.
func (n *Network) nextLANPrefix() netip.Prefix {
	k := n.nextLAN
	n.nextLAN++
	if k < 255 {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(k + 1), 0}), 24)
	}
	k -= 255
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(k >> 8), byte(k), 0}), 24)
}

// allocIn returns a free address of realm r. Called with n.mu held.
func (n *Network) allocIn(r *realm) (netip.Addr, error) {
	if r.nat == nil {
		a, err := n.allocPublic(false)
		if err != nil {
			return netip.Addr{}, err
		}
		return a[0], nil
	}
	return r.nat.allocLAN()
}

// allocLAN returns the next free address of the LAN. Called with n.mu held.
func (t *NAT) allocLAN() (netip.Addr, error) {
	for a := t.nextHost; t.cfg.LAN.Contains(a); a = a.Next() {
		if t.lan.nodes[a] == nil && a.Next().IsValid() && t.cfg.LAN.Contains(a.Next()) { // keep the last address (broadcast) free
			t.nextHost = a.Next()
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("simnet: NAT LAN %v is full", t.cfg.LAN)
}

// PublicAddr returns the NAT's outside address.
func (t *NAT) PublicAddr() netip.Addr { return t.public }

// LAN returns the NAT's private prefix.
func (t *NAT) LAN() netip.Prefix { return t.cfg.LAN }

// Type returns the NAT's behaviour.
func (t *NAT) Type() NATType { return t.cfg.Type }

// NewHost adds a host to the LAN with its next free address.
func (t *NAT) NewHost() (*Host, error) {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	a, err := t.allocLAN()
	if err != nil {
		return nil, err
	}
	return n.addHost(t.lan, []netip.Addr{a})
}

// AddHost adds a host with the given IPv4 addresses, inside the LAN's
// prefix, to the LAN.
func (t *NAT) AddHost(addrs ...netip.Addr) (*Host, error) {
	for _, a := range addrs {
		if !t.cfg.LAN.Contains(a) {
			return nil, fmt.Errorf("simnet: address %v is outside the NAT's LAN %v", a, t.cfg.LAN)
		}
	}
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addHost(t.lan, addrs)
}

// SetUplink sets the access link from the NAT to its outer realm's router.
func (t *NAT) SetUplink(cfg LinkConfig) { t.net.setAccess(&t.node, &cfg, nil) }

// SetDownlink sets the access link from the outer realm's router to the
// NAT.
func (t *NAT) SetDownlink(cfg LinkConfig) { t.net.setAccess(&t.node, nil, &cfg) }

// SetAccessLink sets both directions of the NAT's outside link to cfg.
func (t *NAT) SetAccessLink(cfg LinkConfig) { t.net.setAccess(&t.node, &cfg, &cfg) }

// SetLANLink changes the default path between two hosts of the LAN.
func (t *NAT) SetLANLink(cfg LinkConfig) {
	t.net.mu.Lock()
	t.lan.def = cfg.normalized()
	t.net.mu.Unlock()
}

// Mapping is a NAT binding, as reported by NAT.Mappings.
type Mapping struct {
	// Internal is the endpoint inside.
	Internal netip.AddrPort
	// Public is the endpoint outside the mapping gives it.
	Public netip.AddrPort
	// Remote is the only destination of a Symmetric NAT's mapping; zero
	// for the other types.
	Remote netip.AddrPort
}

// Mappings returns the live mappings, in no particular order.
func (t *NAT) Mappings() []Mapping {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	var ms []Mapping
	for _, m := range t.byPort {
		if !t.expired(m.last, now) {
			ms = append(ms, Mapping{Internal: m.internal, Public: netip.AddrPortFrom(t.public, m.port), Remote: m.remote})
		}
	}
	return ms
}

// FlushMappings forgets every mapping, as a NAT reboot would.
func (t *NAT) FlushMappings() {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(t.byPort)
	clear(t.byFlow)
}

func (t *NAT) expired(last, now int64) bool {
	return now-last >= int64(t.cfg.MappingTimeout)
}

func (t *NAT) remove(m *mapping) {
	delete(t.byPort, m.port)
	delete(t.byFlow, flowKey{m.internal, m.remote})
}

// errPortsExhausted is reported as DropNAT.
var errPortsExhausted = errors.New("simnet: NAT ports exhausted")

// outbound translates the source of p, leaving the LAN, creating or
// refreshing its mapping. It reports false when no port is free.
// Called with n.mu held.
func (t *NAT) outbound(p *Packet, now int64) bool {
	key := flowKey{internal: p.Src}
	if t.cfg.Type == Symmetric {
		key.remote = p.Dst
	}
	m := t.byFlow[key]
	if m != nil && t.expired(m.last, now) {
		t.remove(m)
		m = nil
	}
	if m == nil {
		port, err := t.allocPort(p.Src.Port(), now)
		if err != nil {
			return false
		}
		m = &mapping{internal: key.internal, remote: key.remote, port: port}
		t.byPort[port] = m
		t.byFlow[key] = m
	}
	m.last = now
	switch t.cfg.Type {
	case AddressRestricted:
		t.permit(m, netip.AddrPortFrom(p.Dst.Addr(), 0), now)
	case PortRestricted:
		t.permit(m, p.Dst, now)
	}
	p.Src = netip.AddrPortFrom(t.public, m.port)
	return true
}

func (t *NAT) permit(m *mapping, k netip.AddrPort, now int64) {
	if m.perms == nil {
		m.perms = make(map[netip.AddrPort]int64)
	}
	m.perms[k] = now
}

// inbound checks p, sent to the NAT's public address, against the
// mappings and filters, and translates its destination. Called with n.mu
// held.
func (t *NAT) inbound(p *Packet, now int64) bool {
	m := t.byPort[p.Dst.Port()]
	if m == nil {
		return false
	}
	if t.expired(m.last, now) {
		t.remove(m)
		return false
	}
	var ok bool
	switch t.cfg.Type {
	case FullCone:
		ok = true
	case AddressRestricted:
		last, found := m.perms[netip.AddrPortFrom(p.Src.Addr(), 0)]
		ok = found && !t.expired(last, now)
	case PortRestricted:
		last, found := m.perms[p.Src]
		ok = found && !t.expired(last, now)
	case Symmetric:
		ok = p.Src == m.remote
	}
	if ok {
		p.Dst = m.internal
	}
	return ok
}

// allocPort picks the public port of a new mapping.
func (t *NAT) allocPort(internal uint16, now int64) (uint16, error) {
	t.sweep(now)
	if t.cfg.PreservePorts && internal != 0 && t.byPort[internal] == nil {
		return internal, nil
	}
	for range 65536 - 1024 {
		p := t.nextPort
		t.nextPort++
		if t.nextPort < 1024 {
			t.nextPort = 1024
		}
		if t.byPort[p] == nil {
			return p, nil
		}
	}
	return 0, errPortsExhausted
}

// sweep forgets expired mappings, at most once per timeout, so that the
// tables stay bounded.
func (t *NAT) sweep(now int64) {
	if now-t.swept < int64(t.cfg.MappingTimeout) {
		return
	}
	t.swept = now
	for _, m := range t.byPort {
		if t.expired(m.last, now) {
			t.remove(m)
			continue
		}
		for k, last := range m.perms {
			if t.expired(last, now) {
				delete(m.perms, k)
			}
		}
	}
}
