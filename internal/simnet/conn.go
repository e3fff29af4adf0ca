package simnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// MaxPayload is the largest UDP payload a socket writes.
const MaxPayload = 65535 - IPv4Overhead

// Errors of socket writes, wrapped in *net.OpError.
var (
	ErrMessageTooLong = errors.New("simnet: message too long")
	ErrBadAddress     = errors.New("simnet: bad destination address")
	ErrFamily         = errors.New("simnet: no source address of the destination's family")
)

// Conn is a UDP socket on a simulated host. It implements net.PacketConn
// and has the netip methods of *net.UDPConn. It is safe for concurrent
// use.
//
// Writes never block: a datagram the network cannot carry is dropped, as
// UDP would. Reads block (durably, in a synctest bubble) until a datagram
// arrives, the read deadline passes or the socket is closed.
type Conn struct {
	n      *Network
	host   *Host
	local  netip.AddrPort // bound address; unspecified Addr when bound to all
	all    bool           // bound to all the host's addresses
	laddr  *net.UDPAddr
	rq     chan *Packet
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once
	rd, wd *deadline
	stats  connCounters
}

var _ net.PacketConn = (*Conn)(nil)

func newConn(n *Network, h *Host, local netip.AddrPort, specific bool) *Conn {
	return &Conn{
		n: n, host: h, local: local, all: !specific,
		laddr: net.UDPAddrFromAddrPort(local),
		rq:    make(chan *Packet, n.cfg.RecvQueue),
		done:  make(chan struct{}),
		rd:    newDeadline(), wd: newDeadline(),
	}
}

// bindKey is the key of c in its host's socket table.
func (c *Conn) bindKey() netip.AddrPort {
	if c.all {
		return netip.AddrPortFrom(netip.Addr{}, c.local.Port())
	}
	return c.local
}

// Host returns the host the socket is on.
func (c *Conn) Host() *Host { return c.host }

// LocalAddr returns the bound address as a *net.UDPAddr.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// AddrPort returns the bound address.
func (c *Conn) AddrPort() netip.AddrPort { return c.local }

// Stats returns the socket's counters.
func (c *Conn) Stats() ConnStats { return c.stats.snapshot() }

func (c *Conn) opError(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.laddr, Addr: addr, Err: err}
}

// ReadFromUDPAddrPort reads a datagram into b and returns its length (at
// most len(b); the rest of a longer datagram is discarded) and sender.
func (c *Conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.closed.Load() {
		return 0, netip.AddrPort{}, c.opError("read", nil, net.ErrClosed)
	}
	dl, passed := c.rd.wait()
	if passed {
		return 0, netip.AddrPort{}, c.opError("read", nil, os.ErrDeadlineExceeded)
	}
	select {
	case p := <-c.rq:
		nb := copy(b, p.Payload)
		src := p.Src
		freePacket(p)
		return nb, src, nil
	case <-c.done:
		return 0, netip.AddrPort{}, c.opError("read", nil, net.ErrClosed)
	case <-dl:
		return 0, netip.AddrPort{}, c.opError("read", nil, os.ErrDeadlineExceeded)
	}
}

// ReadFrom implements net.PacketConn; the address is a *net.UDPAddr.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	nb, src, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return nb, nil, err
	}
	return nb, net.UDPAddrFromAddrPort(src), nil
}

// WriteToUDPAddrPort sends b as one datagram to addr. It returns len(b)
// even when the network drops the datagram.
func (c *Conn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.closed.Load() {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), net.ErrClosed)
	}
	if _, passed := c.wd.wait(); passed {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), os.ErrDeadlineExceeded)
	}
	dst := netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if !dst.Addr().IsValid() || dst.Addr().IsUnspecified() || dst.Port() == 0 {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), ErrBadAddress)
	}
	if len(b) > MaxPayload {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), ErrMessageTooLong)
	}
	src := c.local
	if c.all {
		a, ok := c.host.srcAddr(dst.Addr())
		if !ok {
			return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), ErrFamily)
		}
		src = netip.AddrPortFrom(a, src.Port())
	} else if src.Addr().Is4() != dst.Addr().Is4() {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), ErrFamily)
	}
	c.stats.sent.Add(1)
	c.stats.sentBytes.Add(uint64(len(b)))
	n := c.n
	n.stats.sent.Add(1)
	p := newPacket(b)
	p.ID = n.packetID.Add(1)
	p.Src, p.Dst = src, dst
	if !n.filter(StageSend, p) {
		n.drop(p, DropFilter)
		return len(b), nil
	}
	p.Stage = 0
	p.Dst = netip.AddrPortFrom(p.Dst.Addr().Unmap(), p.Dst.Port())
	p.realm, p.from, p.hop = c.host.realm, &c.host.node, hopUp
	n.send(p)
	return len(b), nil
}

// WriteTo implements net.PacketConn; addr must be a *net.UDPAddr.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua == nil {
		return 0, c.opError("write", addr, ErrBadAddress)
	}
	return c.WriteToUDPAddrPort(b, ua.AddrPort())
}

// Close closes the socket and unblocks its readers. It is idempotent.
func (c *Conn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.done)
		c.rd.stop()
		c.wd.stop()
		c.host.unbind(c)
	})
	return nil
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the time after which reads fail with an error
// wrapping os.ErrDeadlineExceeded; zero means none.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the time after which writes fail with an error
// wrapping os.ErrDeadlineExceeded; zero means none. Writes never block.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.wd.set(t)
	return nil
}
