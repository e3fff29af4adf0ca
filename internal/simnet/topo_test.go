package simnet

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestStar200 is the size of the P2P multicast tests: 200 peers, each
// sending to 20 others through jittery access links.
func TestStar200(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const peers, fanout = 200, 20
		access := LinkConfig{Delay: 5 * time.Millisecond, Jitter: 2 * time.Millisecond, Bandwidth: 2_000_000}
		n, hosts := Star(t, Config{Seed: 11, Link: LinkConfig{Delay: 20 * time.Millisecond}}, peers, access)
		conns := make([]*Conn, peers)
		for i, h := range hosts {
			conns[i] = MustListen(t, h, 1935)
		}
		counts := make([]int, peers)
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Go(func() {
				buf := make([]byte, 1500)
				for {
					if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
					counts[i]++
				}
			})
		}
		payload := make([]byte, 1000)
		for i, c := range conns {
			for k := 1; k <= fanout; k++ {
				if _, err := c.WriteToUDPAddrPort(payload, conns[(i+k)%peers].AddrPort()); err != nil {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		for i, got := range counts {
			if got != fanout {
				t.Fatalf("peer %d received %d", i, got)
			}
		}
		if st := n.Stats(); st.Delivered != peers*fanout || st.TotalDropped() != 0 {
			t.Fatalf("stats %+v", st)
		}
		n.Close()
		wg.Wait()
	})
}

func TestBehindNATsSetup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := BehindNATs(t, Config{}, FullCone, Symmetric)
		if len(s.NATs) != 2 || len(s.Clients) != 2 || s.NATs[1].Type() != Symmetric {
			t.Fatalf("setup %+v", s)
		}
		if s.NATs[0].LAN() == s.NATs[1].LAN() {
			t.Fatal("default LANs overlap")
		}
		srv := MustListen(t, s.Server, 1935)
		for i, h := range s.Clients {
			c := MustListen(t, h, 0)
			send(t, c, srv.AddrPort(), "x")
			if _, from := recv(t, srv); from.Addr() != s.NATs[i].PublicAddr() {
				t.Fatalf("client %d seen as %v", i, from)
			}
		}
	})
}
