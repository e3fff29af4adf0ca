package simnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestSendReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{Seed: 1})
		send(t, a, b.AddrPort(), "hello")
		got, src := recv(t, b)
		if got != "hello" || src != a.AddrPort() {
			t.Fatalf("got %q from %v, want hello from %v", got, src, a.AddrPort())
		}
		// net.PacketConn methods.
		if _, err := b.WriteTo([]byte("back"), a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		nb, addr, err := a.ReadFrom(buf)
		if err != nil || string(buf[:nb]) != "back" || addr.String() != b.AddrPort().String() {
			t.Fatalf("ReadFrom = %q, %v, %v", buf[:nb], addr, err)
		}
		st := n.Stats()
		if st.Sent != 2 || st.Delivered != 2 || st.TotalDropped() != 0 {
			t.Fatalf("stats %+v", st)
		}
		if cs := a.Stats(); cs.Sent != 1 || cs.SentBytes != 5 || cs.Received != 1 || cs.ReceivedBytes != 4 {
			t.Fatalf("conn stats %+v", cs)
		}
	})
}

func TestListenPorts(t *testing.T) {
	n := New(Config{})
	defer n.Close()
	h := must[*Host](t)(n.NewHost())
	c1 := must[*Conn](t)(h.Listen(0))
	c2 := must[*Conn](t)(h.Listen(0))
	if c1.AddrPort().Port() != firstEphemeral || c2.AddrPort().Port() != firstEphemeral+1 {
		t.Fatalf("ephemeral ports %v %v", c1.AddrPort(), c2.AddrPort())
	}
	if _, err := h.Listen(c1.AddrPort().Port()); err == nil {
		t.Fatal("second bind of the same port succeeded")
	}
	if _, err := h.ListenAddr(netip.MustParseAddrPort("0.0.0.0:49152")); err == nil {
		t.Fatal("wildcard bind over a bound port succeeded")
	}
	c3 := must[*Conn](t)(n.Listen(netip.AddrPortFrom(h.Addr(), 1935)))
	if c3.LocalAddr().String() != h.Addr().String()+":1935" {
		t.Fatalf("LocalAddr %v", c3.LocalAddr())
	}
	if _, err := n.Listen(netip.MustParseAddrPort("192.0.2.99:1")); err == nil {
		t.Fatal("listen on an unknown address succeeded")
	}
	c1.Close()
	if _, err := h.Listen(c1.AddrPort().Port()); err != nil {
		t.Fatalf("rebind after close: %v", err)
	}
	if _, err := n.AddHost(h.Addr()); err == nil {
		t.Fatal("duplicate host address accepted")
	}
}

func TestDualStackWildcard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{Seed: 1})
		defer n.Close()
		srv := must[*Host](t)(n.NewDualStackHost())
		if len(srv.Addrs()) != 2 || !srv.Addrs()[1].Is6() {
			t.Fatalf("addrs %v", srv.Addrs())
		}
		s := must[*Conn](t)(srv.ListenAddr(netip.MustParseAddrPort("[::]:1935")))
		c4 := must[*Conn](t)(must[*Host](t)(n.NewHost()).Listen(0))
		c6h := must[*Host](t)(n.AddHost(netip.MustParseAddr("2001:db8::ffff")))
		c6 := must[*Conn](t)(c6h.Listen(0))

		send(t, c4, netip.AddrPortFrom(srv.Addrs()[0], 1935), "v4")
		send(t, c6, netip.AddrPortFrom(srv.Addrs()[1], 1935), "v6")
		for range 2 {
			msg, from := recv(t, s)
			peer := map[string]*Conn{"v4": c4, "v6": c6}[msg]
			if peer == nil || from != peer.AddrPort() {
				t.Fatalf("got %q from %v", msg, from)
			}
			send(t, s, from, "re:"+msg)
			if got, src := recv(t, peer); got != "re:"+msg || src.Addr().Is4() != from.Addr().Is4() {
				t.Fatalf("reply %q from %v", got, src)
			}
		}
		// A v4-only socket cannot send to a v6 address.
		if _, err := c4.WriteToUDPAddrPort([]byte("x"), c6.AddrPort()); !errors.Is(err, ErrFamily) {
			t.Fatalf("cross-family write: %v", err)
		}
		// IPv4-mapped destinations are unmapped.
		send(t, c4, netip.AddrPortFrom(netip.AddrFrom16(srv.Addrs()[0].As16()), 1935), "mapped")
		if got, from := recv(t, s); got != "mapped" || from != c4.AddrPort() {
			t.Fatalf("got %q from %v", got, from)
		}
		if _, err := c6.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(netip.AddrFrom16(srv.Addrs()[0].As16()), 1935)); !errors.Is(err, ErrFamily) {
			t.Fatalf("mapped write from a v6 socket: %v", err)
		}
	})
}

func TestWriteErrors(t *testing.T) {
	n := New(Config{})
	defer n.Close()
	c := must[*Conn](t)(must[*Host](t)(n.NewHost()).Listen(0))
	for _, dst := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:5"), netip.MustParseAddrPort("192.0.2.1:0")} {
		if _, err := c.WriteToUDPAddrPort([]byte("x"), dst); !errors.Is(err, ErrBadAddress) {
			t.Errorf("write to %v: %v", dst, err)
		}
	}
	if _, err := c.WriteToUDPAddrPort(make([]byte, MaxPayload+1), netip.MustParseAddrPort("192.0.2.1:5")); !errors.Is(err, ErrMessageTooLong) {
		t.Errorf("oversize write: %v", err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.IPAddr{}); !errors.Is(err, ErrBadAddress) {
		t.Errorf("write to an IPAddr: %v", err)
	}
	// Unroutable destinations are silently dropped, as UDP would.
	send(t, c, netip.MustParseAddrPort("192.0.2.1:5"), "x")
	if got := n.Stats().Dropped[DropNoRoute]; got != 1 {
		t.Errorf("no-route drops %d", got)
	}
	send(t, c, netip.AddrPortFrom(c.AddrPort().Addr(), 9), "x")
	if got := n.Stats().Dropped[DropNoListener]; got != 1 {
		t.Errorf("no-listener drops %d", got)
	}
	c.Close()
	if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("192.0.2.1:5")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func TestTruncatedRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := Pair(t, Config{})
		send(t, a, b.AddrPort(), "0123456789")
		buf := make([]byte, 4)
		nb, _, err := b.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:nb]) != "0123" {
			t.Fatalf("read %q, %v", buf[:nb], err)
		}
	})
}

func TestReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := Pair(t, Config{})
		start := time.Now()
		b.SetReadDeadline(start.Add(3 * time.Second))
		_, _, err := b.ReadFromUDPAddrPort(make([]byte, 10))
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read past deadline: %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("deadline fired after %v", d)
		}
		// A passed deadline fails at once, even with data queued.
		send(t, a, b.AddrPort(), "x")
		if _, _, err := b.ReadFromUDPAddrPort(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read with passed deadline: %v", err)
		}
		// Clearing it lets the read succeed.
		b.SetReadDeadline(time.Time{})
		if got, _ := recv(t, b); got != "x" {
			t.Fatalf("got %q", got)
		}
		// Extending a pending deadline moves it.
		start = time.Now()
		b.SetReadDeadline(start.Add(time.Second))
		b.SetReadDeadline(start.Add(5 * time.Second))
		if _, _, ok := tryRecv(t, b, 5*time.Second); ok || time.Since(start) != 5*time.Second {
			t.Fatalf("extended deadline fired after %v", time.Since(start))
		}
		// A datagram arriving before the deadline is read.
		go func() {
			time.Sleep(time.Second)
			if _, err := a.WriteToUDPAddrPort([]byte("late"), b.AddrPort()); err != nil {
				t.Error(err)
			}
		}()
		start = time.Now()
		if got, _, ok := tryRecv(t, b, 2*time.Second); !ok || got != "late" || time.Since(start) != time.Second {
			t.Fatalf("got %q ok=%v after %v", got, ok, time.Since(start))
		}
	})
}

func TestWriteDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := Pair(t, Config{})
		a.SetWriteDeadline(time.Now().Add(time.Second))
		send(t, a, b.AddrPort(), "ok")
		time.Sleep(time.Second)
		if _, err := a.WriteToUDPAddrPort([]byte("x"), b.AddrPort()); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write past deadline: %v", err)
		}
		a.SetDeadline(time.Time{})
		send(t, a, b.AddrPort(), "again")
	})
}

func TestCloseUnblocksReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, b := Pair(t, Config{})
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 {
			wg.Go(func() {
				_, _, err := b.ReadFromUDPAddrPort(make([]byte, 10))
				errs <- err
			})
		}
		synctest.Wait() // all three are blocked
		b.Close()
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("reader got %v", err)
			}
		}
		if err := b.SetReadDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("SetReadDeadline after close: %v", err)
		}
	})
}

// TestNetworkCloseNoLeak checks that closing the network ends every
// goroutine: synctest.Test fails if any bubble goroutine outlives f.
func TestNetworkCloseNoLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(Config{Seed: 3, Link: LinkConfig{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}})
		var conns []*Conn
		for range 4 {
			conns = append(conns, must[*Conn](t)(must[*Host](t)(n.NewHost()).Listen(0)))
		}
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				for {
					if _, _, err := c.ReadFromUDPAddrPort(make([]byte, 10)); err != nil {
						return
					}
				}
			})
			c.SetWriteDeadline(time.Now().Add(time.Hour))
		}
		for i := range 100 {
			send(t, conns[i%4], conns[(i+1)%4].AddrPort(), "x")
		}
		time.Sleep(30 * time.Millisecond) // some datagrams still in flight
		n.Close()
		wg.Wait()
		synctest.Wait() // a timer function may still be delivering
		st := n.Stats()
		if st.Dropped[DropClosed] == 0 || st.Delivered+st.TotalDropped() != st.Sent {
			t.Fatalf("stats after close %+v", st)
		}
		if _, err := n.AddHost(netip.MustParseAddr("192.0.2.7")); !errors.Is(err, ErrNetworkClosed) {
			t.Fatalf("AddHost after Close: %v", err)
		}
		if _, err := conns[0].Host().Listen(0); !errors.Is(err, ErrNetworkClosed) {
			t.Fatalf("Listen after Close: %v", err)
		}
	})
}

func TestRecvQueueOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{RecvQueue: 8})
		for range 20 {
			send(t, a, b.AddrPort(), "x")
		}
		if st := n.Stats(); st.Delivered != 8 || st.Dropped[DropRecvQueue] != 12 {
			t.Fatalf("stats %+v", st)
		}
		if cs := b.Stats(); cs.Received != 8 || cs.Dropped != 12 {
			t.Fatalf("conn stats %+v", cs)
		}
	})
}

// TestRealTime runs without synctest: delays use the real clock.
func TestRealTime(t *testing.T) {
	_, a, b := Pair(t, Config{Link: LinkConfig{Delay: 2 * time.Millisecond}})
	start := time.Now()
	send(t, a, b.AddrPort(), "rt")
	got, _, ok := tryRecv(t, b, 5*time.Second)
	if !ok || got != "rt" {
		t.Fatalf("got %q ok=%v", got, ok)
	}
	if d := time.Since(start); d < 2*time.Millisecond {
		t.Fatalf("arrived after %v, before the link delay", d)
	}
	if _, _, ok := tryRecv(t, b, 5*time.Millisecond); ok {
		t.Fatal("unexpected second datagram")
	}
}
