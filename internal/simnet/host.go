package simnet

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Ephemeral port range used for port 0.
const (
	firstEphemeral = 49152
	lastEphemeral  = 65535
)

// Host is a simulated machine with one or more addresses, in the public
// internet or behind a NAT.
type Host struct {
	node
	net      *Network
	conns    map[netip.AddrPort]*Conn // by bound address; an invalid Addr binds all
	nextPort uint16
}

func (h *Host) simnode() *node { return &h.node }

// NewHost adds a host to the public internet with the next free IPv4
// address of 198.18.0.0/15.
func (n *Network) NewHost() (*Host, error) { return n.newPublicHost(false) }

// NewDualStackHost adds a host to the public internet with the next free
// IPv4 address and the IPv6 address of the same number in 2001:db8::/32.
func (n *Network) NewDualStackHost() (*Host, error) { return n.newPublicHost(true) }

func (n *Network) newPublicHost(v6 bool) (*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	addrs, err := n.allocPublic(v6)
	if err != nil {
		return nil, err
	}
	return n.addHost(n.inet, addrs)
}

// AddHost adds a host with the given addresses (IPv4 or IPv6) to the
// public internet.
func (n *Network) AddHost(addrs ...netip.Addr) (*Host, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addHost(n.inet, addrs)
}

// addHost creates a host in realm r. Called with n.mu held.
func (n *Network) addHost(r *realm, addrs []netip.Addr) (*Host, error) {
	if n.closed {
		return nil, ErrNetworkClosed
	}
	if len(addrs) == 0 {
		return nil, errors.New("simnet: host needs an address")
	}
	h := &Host{net: n, conns: make(map[netip.AddrPort]*Conn), nextPort: firstEphemeral}
	h.node = n.newNode(r, slices.Clone(addrs))
	h.host = h
	if err := n.addNode(&h.node); err != nil {
		return nil, err
	}
	for _, a := range h.addrs {
		n.byAddr[a] = append(n.byAddr[a], h)
	}
	n.hosts = append(n.hosts, h)
	return h, nil
}

// Addr returns the host's first address.
func (h *Host) Addr() netip.Addr { return h.addrs[0] }

// Addrs returns all the host's addresses.
func (h *Host) Addrs() []netip.Addr { return slices.Clone(h.addrs) }

// String returns the host's first address.
func (h *Host) String() string { return h.addrs[0].String() }

// SetUplink sets the access link from the host to its realm's router.
func (h *Host) SetUplink(cfg LinkConfig) { h.net.setAccess(&h.node, &cfg, nil) }

// SetDownlink sets the access link from the realm's router to the host.
func (h *Host) SetDownlink(cfg LinkConfig) { h.net.setAccess(&h.node, nil, &cfg) }

// SetAccessLink sets both directions of the host's access link to cfg.
func (h *Host) SetAccessLink(cfg LinkConfig) { h.net.setAccess(&h.node, &cfg, &cfg) }

func (n *Network) setAccess(nd *node, up, down *LinkConfig) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if up != nil {
		nd.up = up.normalized()
	}
	if down != nil {
		nd.down = down.normalized()
	}
}

// Listen opens a socket on the host's first address. Port 0 picks a free
// port.
func (h *Host) Listen(port uint16) (*Conn, error) {
	return h.ListenAddr(netip.AddrPortFrom(h.addrs[0], port))
}

// ListenAddr opens a socket bound to addr, which must be one of the host's
// addresses or unspecified (0.0.0.0 or ::) to receive on all of them. Port
// 0 picks a free port.
func (h *Host) ListenAddr(addr netip.AddrPort) (*Conn, error) {
	n := h.net
	a := addr.Addr().Unmap()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, ErrNetworkClosed
	}
	var key netip.Addr // invalid: all addresses
	if a.IsValid() && !a.IsUnspecified() {
		if !slices.Contains(h.addrs, a) {
			return nil, fmt.Errorf("simnet: listen %v: address not on host %v", addr, h)
		}
		key = a
	}
	port := addr.Port()
	if port == 0 {
		port = h.freePort(key)
		if port == 0 {
			return nil, fmt.Errorf("simnet: listen %v: no free port", addr)
		}
	} else if !h.portFree(key, port) {
		return nil, fmt.Errorf("simnet: listen %v: address already in use", addr)
	}
	local := netip.AddrPortFrom(a, port)
	if !a.IsValid() { // the zero Addr binds all addresses too
		local = netip.AddrPortFrom(netip.IPv4Unspecified(), port)
	}
	c := newConn(n, h, local, key.IsValid())
	h.conns[netip.AddrPortFrom(key, port)] = c
	return c, nil
}

// portFree reports whether port can be bound on address a (invalid: all).
func (h *Host) portFree(a netip.Addr, port uint16) bool {
	if h.conns[netip.AddrPortFrom(netip.Addr{}, port)] != nil {
		return false
	}
	if a.IsValid() {
		return h.conns[netip.AddrPortFrom(a, port)] == nil
	}
	for _, a := range h.addrs {
		if h.conns[netip.AddrPortFrom(a, port)] != nil {
			return false
		}
	}
	return true
}

// freePort returns the next free ephemeral port, or 0.
func (h *Host) freePort(a netip.Addr) uint16 {
	for range lastEphemeral - firstEphemeral + 1 {
		p := h.nextPort
		h.nextPort++
		if h.nextPort == 0 || h.nextPort > lastEphemeral {
			h.nextPort = firstEphemeral
		}
		if h.portFree(a, p) {
			return p
		}
	}
	return 0
}

// lookup returns the socket receiving datagrams sent to dst.
func (h *Host) lookup(dst netip.AddrPort) *Conn {
	if c := h.conns[dst]; c != nil {
		return c
	}
	return h.conns[netip.AddrPortFrom(netip.Addr{}, dst.Port())]
}

// unbind removes c from the host.
func (h *Host) unbind(c *Conn) {
	n := h.net
	n.mu.Lock()
	defer n.mu.Unlock()
	k := c.bindKey()
	if h.conns[k] == c {
		delete(h.conns, k)
	}
}

// Listen opens a socket on the host owning addr.Addr(), like
// net.ListenUDP. The address must belong to exactly one host (private
// addresses of NATed hosts are ambiguous when LANs overlap; use
// Host.Listen then). Port 0 picks a free port.
func (n *Network) Listen(addr netip.AddrPort) (*Conn, error) {
	a := addr.Addr().Unmap()
	n.mu.Lock()
	hs := n.byAddr[a]
	n.mu.Unlock()
	switch len(hs) {
	case 0:
		return nil, fmt.Errorf("simnet: listen %v: no host has this address", addr)
	case 1:
		return hs[0].ListenAddr(netip.AddrPortFrom(a, addr.Port()))
	}
	return nil, fmt.Errorf("simnet: listen %v: address is on %d hosts", addr, len(hs))
}

// srcAddr chooses the source address of a datagram to dst sent by a socket
// bound to all addresses: the host's first address of dst's family.
func (h *Host) srcAddr(dst netip.Addr) (netip.Addr, bool) {
	for _, a := range h.addrs {
		if a.Is4() == dst.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}
