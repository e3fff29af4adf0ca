package simnet

import (
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// natWorld is a client behind a NAT of one type and two public servers,
// each with two sockets.
type natWorld struct {
	n      *Network
	nat    *NAT
	client *Conn
	s1, s2 [2]*Conn // s1[0], s1[1]: two ports of server 1
}

func newNATWorld(t *testing.T, cfg NATConfig) *natWorld {
	t.Helper()
	n := New(Config{Seed: 1})
	t.Cleanup(func() { n.Close() })
	nat := must[*NAT](t)(n.AddNAT(cfg))
	w := &natWorld{n: n, nat: nat, client: MustListen(t, must[*Host](t)(nat.NewHost()), 5000)}
	h1, h2 := must[*Host](t)(n.NewHost()), must[*Host](t)(n.NewHost())
	w.s1 = [2]*Conn{MustListen(t, h1, 1), MustListen(t, h1, 2)}
	w.s2 = [2]*Conn{MustListen(t, h2, 1), MustListen(t, h2, 2)}
	return w
}

// public sends from the client to c and returns the source address c
// sees.
func (w *natWorld) public(t *testing.T, c *Conn) netip.AddrPort {
	t.Helper()
	send(t, w.client, c.AddrPort(), "out")
	got, src := recv(t, c)
	if got != "out" {
		t.Fatalf("got %q", got)
	}
	return src
}

// reaches reports whether a datagram from c to dst reaches the client.
func (w *natWorld) reaches(t *testing.T, c *Conn, dst netip.AddrPort) bool {
	t.Helper()
	send(t, c, dst, "in")
	_, _, ok := tryRecv(t, w.client, time.Second)
	return ok
}

func TestNATTypes(t *testing.T) {
	for _, c := range []struct {
		typ NATType
		// want[i]: whether, after the client sent to s1[0] only, a datagram
		// to that mapping from s1[0], s1[1], s2[0] reaches the client.
		want [3]bool
		eim  bool // endpoint-independent mapping
	}{
		{FullCone, [3]bool{true, true, true}, true},
		{AddressRestricted, [3]bool{true, true, false}, true},
		{PortRestricted, [3]bool{true, false, false}, true},
		{Symmetric, [3]bool{true, false, false}, false},
	} {
		t.Run(c.typ.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newNATWorld(t, NATConfig{Type: c.typ})
				pub := w.public(t, w.s1[0])
				if pub.Addr() != w.nat.PublicAddr() {
					t.Fatalf("server sees %v, NAT is %v", pub, w.nat.PublicAddr())
				}
				for i, from := range []*Conn{w.s1[0], w.s1[1], w.s2[0]} {
					if got := w.reaches(t, from, pub); got != c.want[i] {
						t.Errorf("from %v: reached=%v, want %v", from.AddrPort(), got, c.want[i])
					}
				}
				wantDrops := uint64(0)
				for _, ok := range c.want {
					if !ok {
						wantDrops++
					}
				}
				if got := w.n.Stats().Dropped[DropNAT]; got != wantDrops {
					t.Errorf("NAT drops %d, want %d", got, wantDrops)
				}
				// Mapping: the same public endpoint for other destinations?
				pub2, pub3 := w.public(t, w.s1[1]), w.public(t, w.s2[0])
				if same := pub2 == pub && pub3 == pub; same != c.eim {
					t.Errorf("public endpoints %v %v %v; endpoint-independent=%v", pub, pub2, pub3, c.eim)
				}
				if !c.eim && (pub2 == pub3 || pub2.Addr() != pub.Addr()) {
					t.Errorf("symmetric endpoints %v %v %v", pub, pub2, pub3)
				}
				// Once contacted, every destination can answer.
				for _, s := range []*Conn{w.s1[1], w.s2[0]} {
					dst := pub
					if !c.eim {
						dst = map[*Conn]netip.AddrPort{w.s1[1]: pub2, w.s2[0]: pub3}[s]
					}
					if !w.reaches(t, s, dst) {
						t.Errorf("contacted %v cannot answer", s.AddrPort())
					}
				}
				if got, want := len(w.nat.Mappings()), map[bool]int{true: 1, false: 3}[c.eim]; got != want {
					t.Errorf("%d mappings, want %d", got, want)
				}
			})
		})
	}
}

func TestNATNoMapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNATWorld(t, NATConfig{Type: FullCone})
		if w.reaches(t, w.s1[0], netip.AddrPortFrom(w.nat.PublicAddr(), 20000)) {
			t.Fatal("datagram crossed a NAT without a mapping")
		}
		// Private addresses are not routable from outside.
		if w.reaches(t, w.s1[0], w.client.AddrPort()) || w.n.Stats().Dropped[DropNoRoute] != 1 {
			t.Fatalf("private address reached from outside; stats %+v", w.n.Stats())
		}
	})
}

func TestNATMappingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNATWorld(t, NATConfig{Type: PortRestricted, MappingTimeout: 30 * time.Second})
		pub := w.public(t, w.s1[0])
		time.Sleep(29 * time.Second)
		if !w.reaches(t, w.s1[0], pub) {
			t.Fatal("mapping expired early")
		}
		// Inbound traffic does not refresh the mapping (the read above
		// took no time, so 29 s have passed).
		time.Sleep(time.Second)
		if w.reaches(t, w.s1[0], pub) {
			t.Fatal("mapping outlived its timeout")
		}
		// Outbound traffic creates a new mapping, on a new port.
		pub2 := w.public(t, w.s1[0])
		if pub2 == pub {
			t.Fatalf("new mapping reused %v", pub)
		}
		// and refreshes it.
		for range 3 {
			time.Sleep(20 * time.Second)
			w.public(t, w.s1[0])
		}
		time.Sleep(20 * time.Second)
		if !w.reaches(t, w.s1[0], pub2) || len(w.nat.Mappings()) != 1 {
			t.Fatal("refreshed mapping expired")
		}
		w.nat.FlushMappings()
		if w.reaches(t, w.s1[0], pub2) || len(w.nat.Mappings()) != 0 {
			t.Fatal("mapping survived FlushMappings")
		}
	})
}

func TestNATPermissionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The mapping stays alive through s2, but the permission for s1
		// expires.
		w := newNATWorld(t, NATConfig{Type: AddressRestricted, MappingTimeout: 10 * time.Second})
		pub := w.public(t, w.s1[0])
		time.Sleep(6 * time.Second)
		w.public(t, w.s2[0])
		time.Sleep(6 * time.Second)
		if w.reaches(t, w.s1[1], pub) {
			t.Fatal("expired permission accepted")
		}
		if !w.reaches(t, w.s2[1], pub) {
			t.Fatal("live permission refused")
		}
	})
}

func TestNATPreservePorts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newNATWorld(t, NATConfig{Type: Symmetric, PreservePorts: true})
		if pub := w.public(t, w.s1[0]); pub.Port() != 5000 {
			t.Fatalf("port not preserved: %v", pub)
		}
		if pub := w.public(t, w.s2[0]); pub.Port() == 5000 {
			t.Fatalf("second symmetric mapping reused the port: %v", pub)
		}
	})
}

func TestSameLAN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{Link: LinkConfig{Delay: 50 * time.Millisecond}})
		defer n.Close()
		nat := must[*NAT](t)(n.AddNAT(NATConfig{Type: Symmetric, LANLink: LinkConfig{Delay: time.Millisecond}}))
		a := MustListen(t, must[*Host](t)(nat.NewHost()), 1)
		b := MustListen(t, must[*Host](t)(nat.NewHost()), 1)
		if !nat.LAN().Contains(a.AddrPort().Addr()) || a.AddrPort().Addr() == b.AddrPort().Addr() {
			t.Fatalf("LAN %v, hosts %v %v", nat.LAN(), a.AddrPort(), b.AddrPort())
		}
		start := time.Now()
		send(t, a, b.AddrPort(), "lan")
		if got, src := recv(t, b); got != "lan" || src != a.AddrPort() || time.Since(start) != time.Millisecond {
			t.Fatalf("got %q from %v after %v", got, src, time.Since(start))
		}
		if len(nat.Mappings()) != 0 {
			t.Fatal("LAN traffic created a mapping")
		}
	})
}

func TestHairpin(t *testing.T) {
	for _, hairpin := range []bool{false, true} {
		t.Run(fmt.Sprint("hairpin=", hairpin), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := New(Config{})
				defer n.Close()
				srv := MustListen(t, must[*Host](t)(n.NewHost()), 1)
				nat := must[*NAT](t)(n.AddNAT(NATConfig{Type: FullCone, Hairpin: hairpin}))
				a := MustListen(t, must[*Host](t)(nat.NewHost()), 1)
				b := MustListen(t, must[*Host](t)(nat.NewHost()), 1)
				send(t, a, srv.AddrPort(), "x")
				_, pubA := recv(t, srv)
				send(t, b, srv.AddrPort(), "x")
				_, pubB := recv(t, srv)
				send(t, b, pubA, "hairpin")
				got, src, ok := tryRecv(t, a, time.Second)
				if ok != hairpin {
					t.Fatalf("hairpin datagram arrived=%v", ok)
				}
				if ok && (got != "hairpin" || src != pubB) {
					t.Fatalf("got %q from %v, want from %v", got, src, pubB)
				}
				if !ok && n.Stats().Dropped[DropHairpin] != 1 {
					t.Fatalf("stats %+v", n.Stats())
				}
			})
		})
	}
}

// TestHolePunching runs the usual rendezvous: both clients learn their
// public endpoints from a server, then send to each other's. Whether a
// datagram gets through follows from the receiver's filtering and the
// sender's mapping.
func TestHolePunching(t *testing.T) {
	types := []NATType{FullCone, AddressRestricted, PortRestricted, Symmetric}
	gets := func(recv, send NATType) bool {
		switch recv {
		case FullCone, AddressRestricted:
			return true
		case PortRestricted:
			return send != Symmetric
		}
		return false // a symmetric NAT only lets the server in
	}
	for _, typA := range types {
		for _, typB := range types {
			t.Run(typA.String()+"/"+typB.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s := BehindNATs(t, Config{Link: LinkConfig{Delay: 10 * time.Millisecond}}, typA, typB)
					srv := MustListen(t, s.Server, 1935)
					a, b := MustListen(t, s.Clients[0], 1), MustListen(t, s.Clients[1], 1)
					send(t, a, srv.AddrPort(), "hello")
					_, pa := recv(t, srv)
					send(t, b, srv.AddrPort(), "hello")
					_, pb := recv(t, srv)
					for range 2 {
						send(t, a, pb, "a")
						send(t, b, pa, "b")
						time.Sleep(50 * time.Millisecond)
					}
					_, _, aGot := tryRecv(t, a, 100*time.Millisecond)
					_, _, bGot := tryRecv(t, b, 100*time.Millisecond)
					if aGot != gets(typA, typB) || bGot != gets(typB, typA) {
						t.Fatalf("a received %v (want %v), b received %v (want %v)", aGot, gets(typA, typB), bGot, gets(typB, typA))
					}
				})
			})
		}
	}
}

func TestNestedNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{})
		defer n.Close()
		srv := MustListen(t, must[*Host](t)(n.NewHost()), 1)
		cgn := must[*NAT](t)(n.AddNAT(NATConfig{Type: PortRestricted, LAN: netip.MustParsePrefix("100.64.0.0/16")}))
		home := must[*NAT](t)(cgn.AddNAT(NATConfig{Type: FullCone}))
		if !cgn.LAN().Contains(home.PublicAddr()) {
			t.Fatalf("inner NAT address %v outside %v", home.PublicAddr(), cgn.LAN())
		}
		c := MustListen(t, must[*Host](t)(home.NewHost()), 7)
		send(t, c, srv.AddrPort(), "deep")
		_, pub := recv(t, srv)
		if pub.Addr() != cgn.PublicAddr() {
			t.Fatalf("server sees %v", pub)
		}
		send(t, srv, pub, "back")
		if got, src := recv(t, c); got != "back" || src != srv.AddrPort() {
			t.Fatalf("got %q from %v", got, src)
		}
	})
}

func TestNATConfigErrors(t *testing.T) {
	n := New(Config{})
	defer n.Close()
	for _, cfg := range []NATConfig{
		{Type: Symmetric + 1},
		{PublicAddr: netip.MustParseAddr("2001:db8::1")},
		{LAN: netip.MustParsePrefix("fd00::/64")},
		{LAN: netip.MustParsePrefix("10.0.0.0/31")},
	} {
		if _, err := n.AddNAT(cfg); err == nil {
			t.Errorf("AddNAT(%+v) succeeded", cfg)
		}
	}
	nat := must[*NAT](t)(n.AddNAT(NATConfig{LAN: netip.MustParsePrefix("10.9.9.0/30")}))
	if _, err := nat.AddHost(netip.MustParseAddr("10.9.8.1")); err == nil {
		t.Error("host outside the LAN accepted")
	}
	if h := must[*Host](t)(nat.NewHost()); h.Addr() != netip.MustParseAddr("10.9.9.2") {
		t.Errorf("first LAN host %v", h.Addr())
	}
	if _, err := nat.NewHost(); err == nil {
		t.Error("a /30 LAN took a second host")
	}
}
