package simnet

import "testing"

// Pair builds a network with two public hosts whose core path, both ways,
// is cfg.Link, and opens a socket (ephemeral port) on each. The network is
// closed when the test ends. Call it inside the synctest bubble, if any.
func Pair(tb testing.TB, cfg Config) (n *Network, a, b *Conn) {
	tb.Helper()
	n = New(cfg)
	tb.Cleanup(func() { n.Close() })
	a = mustListen(tb, mustHost(tb, n))
	b = mustListen(tb, mustHost(tb, n))
	return n, a, b
}

// Star builds a network of count public hosts, each joined to the core
// router by an access link configured as access in both directions; the
// core path between any two hosts is cfg.Link. The network is closed when
// the test ends.
func Star(tb testing.TB, cfg Config, count int, access LinkConfig) (*Network, []*Host) {
	tb.Helper()
	n := New(cfg)
	tb.Cleanup(func() { n.Close() })
	hosts := make([]*Host, count)
	for i := range hosts {
		hosts[i] = mustHost(tb, n)
		hosts[i].SetAccessLink(access)
	}
	return n, hosts
}

// NATSetup is a network with a public server and hosts behind NATs, built
// by BehindNATs.
type NATSetup struct {
	Net *Network
	// Server is a public host (typically the introducer).
	Server *Host
	// NATs[i] has its own LAN, holding Clients[i].
	NATs    []*NAT
	Clients []*Host
}

// BehindNATs builds a network with one public server host and, for each
// type given, a NAT of that type (other fields default) with one client
// host behind it. The network is closed when the test ends.
func BehindNATs(tb testing.TB, cfg Config, types ...NATType) *NATSetup {
	tb.Helper()
	n := New(cfg)
	tb.Cleanup(func() { n.Close() })
	s := &NATSetup{Net: n, Server: mustHost(tb, n)}
	for _, typ := range types {
		nat, err := n.AddNAT(NATConfig{Type: typ})
		if err != nil {
			tb.Fatalf("simnet: %v", err)
		}
		h, err := nat.NewHost()
		if err != nil {
			tb.Fatalf("simnet: %v", err)
		}
		s.NATs = append(s.NATs, nat)
		s.Clients = append(s.Clients, h)
	}
	return s
}

// MustListen opens a socket on h's first address (port 0: ephemeral) or
// fails the test.
func MustListen(tb testing.TB, h *Host, port uint16) *Conn {
	tb.Helper()
	c, err := h.Listen(port)
	if err != nil {
		tb.Fatalf("simnet: %v", err)
	}
	return c
}

func mustListen(tb testing.TB, h *Host) *Conn {
	tb.Helper()
	return MustListen(tb, h, 0)
}

func mustHost(tb testing.TB, n *Network) *Host {
	tb.Helper()
	h, err := n.NewHost()
	if err != nil {
		tb.Fatalf("simnet: %v", err)
	}
	return h
}
