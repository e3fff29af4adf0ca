package ipmulticast

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// TestTTL observes the TTL (hop limit) of the datagrams a Sender emits with
// a plain x/net socket asking for it in a control message.
func TestTTL(t *testing.T) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			isolated(t)
			group := netip.MustParseAddrPort(onPort(fam.groupA, 31010))
			lo, err := net.InterfaceByName("lo")
			if err != nil {
				t.Fatal(err)
			}
			network := "udp4"
			if group.Addr().Is6() {
				network = "udp6"
			}
			c, err := net.ListenPacket(network, netip.AddrPortFrom(wildcard(group.Addr()), group.Port()).String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(readBound))
			var observe func() int
			g := &net.UDPAddr{IP: group.Addr().AsSlice()}
			if group.Addr().Is4() {
				p := ipv4.NewPacketConn(c)
				if err := p.JoinGroup(lo, g); err != nil {
					t.Fatal(err)
				}
				if err := p.SetControlMessage(ipv4.FlagTTL, true); err != nil {
					t.Fatal(err)
				}
				observe = func() int {
					_, cm, _, err := p.ReadFrom(make([]byte, 100))
					if err != nil || cm == nil {
						t.Fatalf("observer: %v, %v", cm, err)
					}
					return cm.TTL
				}
			} else {
				p := ipv6.NewPacketConn(c)
				if err := p.JoinGroup(lo, g); err != nil {
					t.Fatal(err)
				}
				if err := p.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
					t.Fatal(err)
				}
				observe = func() int {
					_, cm, _, err := p.ReadFrom(make([]byte, 100))
					if err != nil || cm == nil {
						t.Fatalf("observer: %v, %v", cm, err)
					}
					return cm.HopLimit
				}
			}
			for _, c := range []struct {
				ttl, want int
				loop      bool
			}{{0, DefaultTTL, false}, {7, 7, true}, {255, 255, false}} {
				s, err := NewSender(group, SenderOptions{TTL: c.ttl, Loopback: c.loop, InterfaceIndex: lo.Index})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Send([]byte("ttl")); err != nil {
					t.Fatal(err)
				}
				if got := observe(); got != c.want {
					t.Errorf("TTL option %d: datagram has TTL %d, want %d", c.ttl, got, c.want)
				}
				var loop bool
				switch fc := s.fc.(type) {
				case *conn4:
					loop, err = fc.MulticastLoopback()
				case *conn6:
					loop, err = fc.MulticastLoopback()
				}
				if err != nil || loop != c.loop {
					t.Errorf("loopback option %v reads back as %v, %v", c.loop, loop, err)
				}
				s.Close()
			}
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	isolated(t)
	v4 := netip.MustParseAddrPort("239.1.2.3:31011")
	v6 := netip.MustParseAddrPort("[ff03::ffff]:31011")
	for _, c := range []struct {
		name  string
		group netip.AddrPort
		opts  SenderOptions
		want  error
		text  string
	}{
		{"unicast group", netip.MustParseAddrPort("127.0.0.1:31011"), SenderOptions{}, ErrNotMulticast, ""},
		{"zero group", netip.AddrPort{}, SenderOptions{}, ErrInvalidAddress, ""},
		{"port 0", netip.MustParseAddrPort("239.1.2.3:0"), SenderOptions{}, ErrInvalidPort, ""},
		{"source of the other family", v4, SenderOptions{Source: netip.MustParseAddr("::1")}, ErrInvalidSource, "different IP families"},
		{"multicast source", v6, SenderOptions{Source: netip.MustParseAddr("ff02::1")}, ErrInvalidSource, "unicast"},
		{"unknown interface", v4, SenderOptions{Interface: "eth7"}, ErrNoInterface, `"eth7"`},
		{"unknown index", v4, SenderOptions{InterfaceIndex: 999}, ErrNoInterface, "999"},
		{"name and index disagree", v4, SenderOptions{Interface: "lo", InterfaceIndex: 999}, ErrNoInterface, "999"},
		{"TTL too large", v4, SenderOptions{TTL: 256}, nil, "TTL 256"},
		{"negative TTL", v6, SenderOptions{TTL: -1}, nil, "TTL -1"},
		{"batch too large", v4, SenderOptions{BatchSize: 5000}, nil, "batch size"},
	} {
		s, err := NewSender(c.group, c.opts)
		if err == nil {
			s.Close()
			t.Errorf("NewSender %s: no error", c.name)
			continue
		}
		if (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("NewSender %s: %v, want %v containing %q", c.name, err, c.want, c.text)
		}
	}
	for _, c := range []struct {
		name  string
		group netip.AddrPort
		opts  ReceiverOptions
		want  error
		text  string
	}{
		{"unicast group", netip.MustParseAddrPort("[::1]:31011"), ReceiverOptions{}, ErrNotMulticast, ""},
		{"port 0", netip.MustParseAddrPort("[ff03::1]:0"), ReceiverOptions{}, ErrInvalidPort, ""},
		{"unknown interface", v4, ReceiverOptions{Interfaces: []string{"lo", "eth7"}}, ErrNoInterface, `"eth7"`},
		{"source of the other family", v6, ReceiverOptions{Source: netip.MustParseAddr("127.0.0.1")}, ErrInvalidSource, ""},
		{"multicast publisher", v4, ReceiverOptions{Publisher: netip.MustParseAddrPort("224.0.0.1:1")}, ErrInvalidSource, ""},
		{"publisher is not the source", v4, ReceiverOptions{
			Source: netip.MustParseAddr("127.0.0.2"), Publisher: netip.MustParseAddrPort("127.0.0.3:1"),
		}, ErrInvalidSource, "not the SSM source"},
		{"batch too large", v4, ReceiverOptions{BatchSize: 257}, nil, "batch size"},
		{"datagram too large", v4, ReceiverOptions{MaxDatagram: 65536}, nil, "datagram size"},
	} {
		r, err := NewReceiver(c.group, c.opts)
		if err == nil {
			r.Close()
			t.Errorf("NewReceiver %s: no error", c.name)
			continue
		}
		if (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("NewReceiver %s: %v, want %v containing %q", c.name, err, c.want, c.text)
		}
	}
}

// fakeConn feeds accept with control data encoded as: interface index
// (1 byte) followed by the destination address; empty means none.
type fakeConn struct{ famConn }

func (fakeConn) parseControl(oob []byte) (netip.Addr, int, bool) {
	if len(oob) < 1 {
		return netip.Addr{}, 0, false
	}
	a, ok := netip.AddrFromSlice(oob[1:])
	return a, int(oob[0]), ok
}

// TestAcceptCounts drives the filter with synthetic datagrams, including an
// arrival interface the namespace cannot produce (it has only lo).
func TestAcceptCounts(t *testing.T) {
	group := netip.MustParseAddrPort("239.1.2.3:30000")
	r := &Receiver{
		group:     group,
		publisher: netip.MustParseAddrPort("10.0.0.1:0"),
		fc:        fakeConn{},
		joined:    []int{1, 3},
	}
	ctl := func(ifIndex byte, dst string) []byte {
		return append([]byte{ifIndex}, netip.MustParseAddr(dst).AsSlice()...)
	}
	from := func(s string) net.Addr { return net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	for _, c := range []struct {
		name string
		m    message
		ok   bool
	}{
		{"good", message{N: 10, OOB: ctl(1, "239.1.2.3"), Addr: from("10.0.0.1:5")}, true},
		{"good on the second interface", message{N: 20, OOB: ctl(3, "239.1.2.3"), Addr: from("10.0.0.1:6")}, true},
		{"truncated", message{N: 10, Flags: msgTrunc, OOB: ctl(1, "239.1.2.3"), Addr: from("10.0.0.1:5")}, msgTrunc == 0},
		{"no destination", message{N: 10, Addr: from("10.0.0.1:5")}, false},
		{"other group", message{N: 10, OOB: ctl(1, "239.1.2.4"), Addr: from("10.0.0.1:5")}, false},
		{"unicast", message{N: 10, OOB: ctl(1, "10.0.0.9"), Addr: from("10.0.0.1:5")}, false},
		{"other interface", message{N: 10, OOB: ctl(2, "239.1.2.3"), Addr: from("10.0.0.1:5")}, false},
		{"other source", message{N: 10, OOB: ctl(1, "239.1.2.3"), Addr: from("10.0.0.2:5")}, false},
	} {
		m := c.m
		m.NN = len(m.OOB)
		if _, ok := r.accept(&m); ok != c.ok {
			t.Errorf("%s: accepted %v, want %v", c.name, ok, c.ok)
		}
	}
	want := ReceiverStats{Datagrams: 2, Bytes: 30, NoDestination: 1, OtherDestination: 2, OtherInterface: 1, OtherSource: 1}
	if msgTrunc != 0 {
		want.Truncated = 1
	}
	if st := r.Stats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}
