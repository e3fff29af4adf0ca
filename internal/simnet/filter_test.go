package simnet

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestFilterDropNth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{})
		var data atomic.Int64
		n.AddFilter(StageSend, func(p *Packet) Verdict {
			if len(p.Payload) > 0 && p.Payload[0] == 'D' && data.Add(1) == 3 {
				return Drop
			}
			return Pass
		})
		for _, m := range []string{"D1", "c", "D2", "D3", "D4"} {
			send(t, a, b.AddrPort(), m)
		}
		var got []string
		for range 4 {
			m, _ := recv(t, b)
			got = append(got, m)
		}
		if want := []string{"D1", "c", "D2", "D4"}; !equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if n.Stats().Dropped[DropFilter] != 1 {
			t.Fatalf("stats %+v", n.Stats())
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFilterModifyAndRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{})
		c := MustListen(t, b.Host(), 0)
		remove := n.AddFilter(StageSend, func(p *Packet) Verdict {
			p.Payload[0] ^= 0x20                     // corrupt in place
			p.Dst = c.AddrPort()                     // reroute
			p.Payload = p.Payload[:len(p.Payload)-1] // truncate
			return Pass
		})
		send(t, a, b.AddrPort(), "abc")
		if got, _ := recv(t, c); got != "Ab" {
			t.Fatalf("modified datagram %q", got)
		}
		remove()
		remove() // idempotent
		send(t, a, b.AddrPort(), "abc")
		if got, _ := recv(t, b); got != "abc" {
			t.Fatalf("after remove: %q", got)
		}
	})
}

func TestFilterDeliverSeesNAT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := BehindNATs(t, Config{}, FullCone)
		srv := MustListen(t, s.Server, 1935)
		cl := MustListen(t, s.Clients[0], 1)
		var mu sync.Mutex
		type view struct {
			ID       uint64
			Stage    Stage
			Src, Dst netip.AddrPort
		}
		var seen []view
		s.Net.AddFilter(StageSend, func(p *Packet) Verdict {
			mu.Lock()
			seen = append(seen, view{ID: p.ID, Stage: p.Stage, Src: p.Src, Dst: p.Dst})
			mu.Unlock()
			return Pass
		})
		s.Net.AddFilter(StageDeliver, func(p *Packet) Verdict {
			mu.Lock()
			seen = append(seen, view{ID: p.ID, Stage: p.Stage, Src: p.Src, Dst: p.Dst})
			mu.Unlock()
			// Filters may reconfigure the network.
			s.Net.SetDefaultLink(LinkConfig{})
			return Pass
		})
		send(t, cl, srv.AddrPort(), "x")
		recv(t, srv)
		pub := netip.AddrPortFrom(s.NATs[0].PublicAddr(), 20000)
		want := []view{
			{ID: 1, Stage: StageSend, Src: cl.AddrPort(), Dst: srv.AddrPort()},
			{ID: 1, Stage: StageDeliver, Src: pub, Dst: srv.AddrPort()},
		}
		if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
			t.Fatalf("filters saw %+v, want %+v", seen, want)
		}
	})
}

func TestFilterDeliverDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{Link: LinkConfig{Delay: time.Millisecond}})
		n.AddFilter(StageDeliver, func(p *Packet) Verdict {
			if string(p.Payload) == "bad" {
				return Drop
			}
			return Pass
		})
		send(t, a, b.AddrPort(), "bad")
		send(t, a, b.AddrPort(), "good")
		if got, _ := recv(t, b); got != "good" || n.Stats().Dropped[DropFilter] != 1 {
			t.Fatalf("got %q, stats %+v", got, n.Stats())
		}
	})
}

// TestConcurrentSenders runs many goroutines through one network with
// delays, loss and a counting filter, for the race detector.
func TestConcurrentSenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const peers, each = 8, 200
		n, hosts := Star(t, Config{Seed: 9, Link: LinkConfig{Delay: 2 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.05}, RecvQueue: peers * each}, peers, LinkConfig{Bandwidth: 10_000_000})
		var counted atomic.Uint64
		n.AddFilter(StageDeliver, func(p *Packet) Verdict { counted.Add(1); return Pass })
		conns := make([]*Conn, peers)
		for i, h := range hosts {
			conns[i] = MustListen(t, h, 1)
		}
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Go(func() {
				for j := range each {
					if _, err := c.WriteToUDPAddrPort([]byte("payload"), conns[(i+j)%peers].AddrPort()); err != nil {
						t.Error(err)
						return
					}
					if j%10 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		var received atomic.Uint64
		for _, c := range conns {
			wg.Go(func() {
				buf := make([]byte, 64)
				for {
					if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
					received.Add(1)
				}
			})
		}
		time.Sleep(time.Second)
		n.Close()
		wg.Wait()
		synctest.Wait() // a timer function may still be delivering
		st := n.Stats()
		if st.Sent != peers*each || st.Delivered != received.Load() || counted.Load() != st.Delivered ||
			st.Delivered+st.TotalDropped() != st.Sent || st.Dropped[DropLoss] == 0 {
			t.Fatalf("stats %+v, received %d, counted %d", st, received.Load(), counted.Load())
		}
	})
}
