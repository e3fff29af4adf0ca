package ipmulticast

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// message is one datagram slot of a batch read or write. It is the same
// type for IPv4 and IPv6 (golang.org/x/net's socket.Message).
type message = ipv4.Message

// famConn hides the differences between ipv4.PacketConn and
// ipv6.PacketConn. Implementations are not safe for concurrent parsing.
type famConn interface {
	ReadBatch(ms []message, flags int) (int, error)
	WriteBatch(ms []message, flags int) (int, error)
	join(ifi *net.Interface, group, source netip.Addr) error
	enableControl() error
	controlSpace() int
	// parseControl returns the destination address and arrival interface
	// found in oob; ok is false when they are missing.
	parseControl(oob []byte) (dst netip.Addr, ifIndex int, ok bool)
	setMulticastInterface(ifi *net.Interface) error
	setHops(n int) error
	setLoopback(on bool) error
}

func newFamConn(c net.PacketConn, is4 bool) famConn {
	if is4 {
		return &conn4{PacketConn: ipv4.NewPacketConn(c), dst: make(net.IP, net.IPv4len)}
	}
	return &conn6{PacketConn: ipv6.NewPacketConn(c), dst: make(net.IP, net.IPv6len)}
}

type conn4 struct {
	*ipv4.PacketConn
	cm  ipv4.ControlMessage
	dst net.IP
}

func (c *conn4) join(ifi *net.Interface, group, source netip.Addr) error {
	g := &net.UDPAddr{IP: group.AsSlice()}
	if source.IsValid() {
		return c.JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: source.AsSlice()})
	}
	return c.JoinGroup(ifi, g)
}

func (c *conn4) enableControl() error {
	return c.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
}

func (c *conn4) controlSpace() int {
	return len(ipv4.NewControlMessage(ipv4.FlagDst | ipv4.FlagInterface))
}

func (c *conn4) parseControl(oob []byte) (netip.Addr, int, bool) {
	clear(c.dst)
	c.cm = ipv4.ControlMessage{Dst: c.dst}
	if err := c.cm.Parse(oob); err != nil || len(c.cm.Dst) != net.IPv4len {
		return netip.Addr{}, 0, false
	}
	a := netip.AddrFrom4([4]byte(c.cm.Dst))
	if a.IsUnspecified() {
		return netip.Addr{}, 0, false
	}
	return a, c.cm.IfIndex, true
}

func (c *conn4) setMulticastInterface(ifi *net.Interface) error { return c.SetMulticastInterface(ifi) }
func (c *conn4) setHops(n int) error                            { return c.SetMulticastTTL(n) }
func (c *conn4) setLoopback(on bool) error                      { return c.SetMulticastLoopback(on) }

type conn6 struct {
	*ipv6.PacketConn
	cm  ipv6.ControlMessage
	dst net.IP
}

func (c *conn6) join(ifi *net.Interface, group, source netip.Addr) error {
	g := &net.UDPAddr{IP: group.AsSlice()}
	if source.IsValid() {
		return c.JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: source.AsSlice()})
	}
	return c.JoinGroup(ifi, g)
}

func (c *conn6) enableControl() error {
	return c.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
}

func (c *conn6) controlSpace() int {
	return len(ipv6.NewControlMessage(ipv6.FlagDst | ipv6.FlagInterface))
}

func (c *conn6) parseControl(oob []byte) (netip.Addr, int, bool) {
	clear(c.dst)
	c.cm = ipv6.ControlMessage{Dst: c.dst}
	if err := c.cm.Parse(oob); err != nil || len(c.cm.Dst) != net.IPv6len {
		return netip.Addr{}, 0, false
	}
	a := netip.AddrFrom16([16]byte(c.cm.Dst))
	if a.IsUnspecified() {
		return netip.Addr{}, 0, false
	}
	return a, c.cm.IfIndex, true
}

func (c *conn6) setMulticastInterface(ifi *net.Interface) error { return c.SetMulticastInterface(ifi) }
func (c *conn6) setHops(n int) error                            { return c.SetMulticastHopLimit(n) }
func (c *conn6) setLoopback(on bool) error                      { return c.SetMulticastLoopback(on) }

// listenUDP opens a UDP socket of a's family bound to a, with SO_REUSEADDR
// when shared is set (several receivers of one group port on a host) and
// the given buffer sizes when positive.
func listenUDP(a netip.AddrPort, shared bool, readBuf, writeBuf int) (*net.UDPConn, error) {
	network := "udp4"
	if a.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{}
	if shared {
		lc.Control = reuseAddrControl
	}
	pc, err := lc.ListenPacket(context.Background(), network, a.String())
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	if readBuf > 0 {
		if err := c.SetReadBuffer(readBuf); err != nil {
			c.Close()
			return nil, fmt.Errorf("setting the receive buffer: %w", err)
		}
	}
	if writeBuf > 0 {
		if err := c.SetWriteBuffer(writeBuf); err != nil {
			c.Close()
			return nil, fmt.Errorf("setting the send buffer: %w", err)
		}
	}
	return c, nil
}

// wildcard returns the unspecified address of group's family.
func wildcard(group netip.Addr) netip.Addr {
	if group.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// addrPortOf converts a socket address returned by a batch read.
func addrPortOf(a net.Addr) netip.AddrPort {
	u, ok := a.(*net.UDPAddr)
	if !ok || u == nil {
		return netip.AddrPort{}
	}
	ip, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip.Unmap().WithZone(u.Zone), uint16(u.Port))
}
