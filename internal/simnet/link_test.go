package simnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// arrival is a datagram read by drain, with the time it was read.
type arrival struct {
	seq int
	at  time.Duration
}

// sendSeq writes count datagrams numbered from 0, each of size bytes
// (at least 4), spaced by gap.
func sendSeq(t testing.TB, c *Conn, dst netip.AddrPort, count, size int, gap time.Duration) {
	t.Helper()
	buf := make([]byte, max(size, 4))
	for i := range count {
		binary.BigEndian.PutUint32(buf, uint32(i))
		if _, err := c.WriteToUDPAddrPort(buf, dst); err != nil {
			t.Error(err) // may run in a goroutine of its own
			return
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
}

// drain reads datagrams until none arrives for quiet, and returns them
// with their arrival time since start.
func drain(t testing.TB, c *Conn, start time.Time, quiet time.Duration) []arrival {
	t.Helper()
	var got []arrival
	buf := make([]byte, 70000)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			c.SetReadDeadline(time.Time{})
			return got
		}
		if n < 4 {
			t.Fatalf("short datagram %d", n)
		}
		got = append(got, arrival{int(binary.BigEndian.Uint32(buf)), time.Since(start)})
	}
}

func TestDelayExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{Link: LinkConfig{Delay: 40 * time.Millisecond}})
		a.Host().SetUplink(LinkConfig{Delay: 5 * time.Millisecond})
		b.Host().SetDownlink(LinkConfig{Delay: 3 * time.Millisecond})
		start := time.Now()
		go sendSeq(t, a, b.AddrPort(), 5, 100, 10*time.Millisecond)
		got := drain(t, b, start, time.Second)
		if len(got) != 5 {
			t.Fatalf("got %d datagrams", len(got))
		}
		for i, g := range got {
			want := 48*time.Millisecond + time.Duration(i)*10*time.Millisecond
			if g.seq != i || g.at != want {
				t.Errorf("datagram %d: seq %d at %v, want at %v", i, g.seq, g.at, want)
			}
		}
		// The reverse direction has its own (zero) access delays.
		start = time.Now()
		send(t, b, a.AddrPort(), "back")
		recv(t, a)
		if d := time.Since(start); d != 40*time.Millisecond {
			t.Errorf("reverse delay %v", d)
		}
		// Changing the link during the test affects later datagrams.
		n.SetDefaultLink(LinkConfig{Delay: time.Millisecond})
		start = time.Now()
		send(t, b, a.AddrPort(), "fast")
		recv(t, a)
		if d := time.Since(start); d != time.Millisecond {
			t.Errorf("delay after change %v", d)
		}
	})
}

func TestPerPairPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, hosts := Star(t, Config{Link: LinkConfig{Delay: 10 * time.Millisecond}}, 3, LinkConfig{Delay: time.Millisecond})
		cs := make([]*Conn, 3)
		for i, h := range hosts {
			cs[i] = MustListen(t, h, 1935)
		}
		if err := n.SetPath(hosts[0], hosts[1], LinkConfig{Delay: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		timeTo := func(from, to int) time.Duration {
			start := time.Now()
			send(t, cs[from], cs[to].AddrPort(), "x")
			recv(t, cs[to])
			return time.Since(start)
		}
		for _, c := range []struct {
			from, to int
			want     time.Duration
		}{{0, 1, 102 * time.Millisecond}, {1, 0, 12 * time.Millisecond}, {0, 2, 12 * time.Millisecond}} {
			if got := timeTo(c.from, c.to); got != c.want {
				t.Errorf("%d→%d took %v, want %v", c.from, c.to, got, c.want)
			}
		}
		n.ClearPath(hosts[0], hosts[1])
		if got := timeTo(0, 1); got != 12*time.Millisecond {
			t.Errorf("after ClearPath 0→1 took %v", got)
		}
		nat := must[*NAT](t)(n.AddNAT(NATConfig{}))
		if err := n.SetPath(hosts[0], must[*Host](t)(nat.NewHost()), LinkConfig{}); err == nil {
			t.Error("SetPath across realms succeeded")
		}
	})
}

// lossPattern sends count datagrams over a link losing loss of them and
// returns which arrived.
func lossPattern(t *testing.T, seed uint64, loss float64, count int) []bool {
	var arrived []bool
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{Seed: seed, Link: LinkConfig{Loss: loss}, RecvQueue: count})
		sendSeq(t, a, b.AddrPort(), count, 10, 0)
		arrived = make([]bool, count)
		for _, g := range drain(t, b, time.Now(), time.Millisecond) {
			arrived[g.seq] = true
		}
		if st := n.Stats(); st.Delivered+st.Dropped[DropLoss] != uint64(count) {
			t.Fatalf("stats %+v", st)
		}
	})
	return arrived
}

func TestLossRate(t *testing.T) {
	const count = 10000
	p1 := lossPattern(t, 7, 0.1, count)
	lost := count - countTrue(p1)
	// 10% of 10000: the binomial standard deviation is 30.
	if lost < 900 || lost > 1100 {
		t.Fatalf("lost %d of %d at 10%% loss", lost, count)
	}
	t.Logf("lost %d of %d at 10%% loss", lost, count)
	if p2 := lossPattern(t, 7, 0.1, count); !slices.Equal(p1, p2) {
		t.Fatal("same seed gave a different loss pattern")
	}
	if p3 := lossPattern(t, 8, 0.1, count); slices.Equal(p1, p3) {
		t.Fatal("different seeds gave the same loss pattern")
	}
	if lost := 100 - countTrue(lossPattern(t, 7, 1, 100)); lost != 100 {
		t.Fatalf("loss 1 lost %d of 100", lost)
	}
}

func countTrue(bs []bool) int {
	c := 0
	for _, b := range bs {
		if b {
			c++
		}
	}
	return c
}

func TestDuplicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const count = 1000
		n, a, b := Pair(t, Config{Seed: 2, Link: LinkConfig{Duplicate: 0.2, Delay: time.Millisecond}, RecvQueue: 2 * count})
		sendSeq(t, a, b.AddrPort(), count, 10, 0)
		got := drain(t, b, time.Now(), 10*time.Millisecond)
		seen := make(map[int]int)
		for _, g := range got {
			seen[g.seq]++
		}
		dups := len(got) - count
		if len(seen) != count || dups < 150 || dups > 250 || n.Stats().Duplicated != uint64(dups) {
			t.Fatalf("%d distinct, %d duplicates, stats %+v", len(seen), dups, n.Stats())
		}
		t.Logf("%d duplicates of %d at 20%%", dups, count)
	})
}

// inversions counts adjacent arrivals out of sending order.
func inversions(got []arrival) int {
	inv := 0
	for i := 1; i < len(got); i++ {
		if got[i].seq < got[i-1].seq {
			inv++
		}
	}
	return inv
}

func TestReorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := Pair(t, Config{Seed: 4, Link: LinkConfig{Delay: 10 * time.Millisecond, Reorder: 0.1, ReorderDelay: 3 * time.Millisecond}})
		start := time.Now()
		go sendSeq(t, a, b.AddrPort(), 500, 10, time.Millisecond)
		got := drain(t, b, start, time.Second)
		if len(got) != 500 {
			t.Fatalf("got %d", len(got))
		}
		inv := inversions(got)
		if inv < 20 || inv > 80 {
			t.Fatalf("%d inversions in 500 datagrams at 10%% reordering", inv)
		}
		t.Logf("%d inversions in 500 datagrams at 10%% reordering", inv)
		for _, g := range got {
			base := 10*time.Millisecond + time.Duration(g.seq)*time.Millisecond
			if g.at != base && g.at != base+3*time.Millisecond {
				t.Fatalf("datagram %d arrived at %v", g.seq, g.at)
			}
		}
	})
}

func TestJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := Pair(t, Config{Seed: 5, Link: LinkConfig{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}})
		start := time.Now()
		go sendSeq(t, a, b.AddrPort(), 300, 10, time.Millisecond)
		got := drain(t, b, start, time.Second)
		if len(got) != 300 || inversions(got) == 0 {
			t.Fatalf("got %d, %d inversions", len(got), inversions(got))
		}
		t.Logf("jitter: %d inversions in 300 datagrams", inversions(got))
		for _, g := range got {
			d := g.at - time.Duration(g.seq)*time.Millisecond
			if d < 10*time.Millisecond || d >= 15*time.Millisecond {
				t.Fatalf("datagram %d took %v", g.seq, d)
			}
		}
	})
}

func TestMTU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{Link: LinkConfig{MTU: 1500}})
		send(t, a, b.AddrPort(), strings.Repeat("x", 1472))
		if got, _ := recv(t, b); len(got) != 1472 {
			t.Fatalf("got %d bytes", len(got))
		}
		send(t, a, b.AddrPort(), strings.Repeat("x", 1473))
		if _, _, ok := tryRecv(t, b, time.Second); ok || n.Stats().Dropped[DropMTU] != 1 {
			t.Fatalf("oversize datagram: ok=%v stats %+v", ok, n.Stats())
		}
		// IPv6 headers are 20 bytes larger.
		h6 := must[*Host](t)(n.AddHost(netip.MustParseAddr("2001:db8::a")))
		h6b := must[*Host](t)(n.AddHost(netip.MustParseAddr("2001:db8::b")))
		c6, d6 := MustListen(t, h6, 1), MustListen(t, h6b, 1)
		send(t, c6, d6.AddrPort(), strings.Repeat("x", 1452))
		send(t, c6, d6.AddrPort(), strings.Repeat("x", 1453))
		if got, _ := recv(t, d6); len(got) != 1452 || n.Stats().Dropped[DropMTU] != 2 {
			t.Fatalf("v6: got %d bytes, stats %+v", len(got), n.Stats())
		}
	})
}

func TestBandwidthQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 1 Mbit/s, room for 10 datagrams of 1000 bytes on the wire.
		const wire = 1000
		link := LinkConfig{Bandwidth: 1_000_000, QueueBytes: 10 * wire, Delay: 5 * time.Millisecond}
		n, a, b := Pair(t, Config{Link: link})
		tx := time.Duration(txTime(wire, link.Bandwidth)) // 8 ms
		if tx != 8*time.Millisecond {
			t.Fatalf("tx time %v", tx)
		}
		start := time.Now()
		sendSeq(t, a, b.AddrPort(), 20, wire-IPv4Overhead, 0) // a burst
		got := drain(t, b, start, time.Second)
		// The queue holds 10 datagrams, the one on the wire included.
		if len(got) != 10 || n.Stats().Dropped[DropQueue] != 10 {
			t.Fatalf("got %d, stats %+v", len(got), n.Stats())
		}
		for i, g := range got {
			if want := time.Duration(i+1)*tx + 5*time.Millisecond; g.seq != i || g.at != want {
				t.Errorf("datagram %d: seq %d at %v, want %v", i, g.seq, g.at, want)
			}
		}
		// Paced at the link rate, nothing is dropped.
		n.SetDefaultLink(LinkConfig{Bandwidth: 1_000_000, QueueBytes: 2 * wire})
		start = time.Now()
		go sendSeq(t, a, b.AddrPort(), 50, wire-IPv4Overhead, tx)
		if got := drain(t, b, start, time.Second); len(got) != 50 {
			t.Fatalf("paced: got %d", len(got))
		}
	})
}

func TestInFlightCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := Pair(t, Config{Link: LinkConfig{Delay: time.Second}, MaxInFlight: 100})
		sendSeq(t, a, b.AddrPort(), 150, 4, 0)
		if got := drain(t, b, time.Now(), 2*time.Second); len(got) != 100 || n.Stats().Dropped[DropQueue] != 50 {
			t.Fatalf("got %d, stats %+v", len(got), n.Stats())
		}
	})
}

func TestLinkConfigNormalized(t *testing.T) {
	c := LinkConfig{Loss: 2, Duplicate: -1, Reorder: 0.5, Delay: -time.Second, MTU: -3}.normalized()
	want := LinkConfig{Loss: 1, Reorder: 0.5}
	if c != want {
		t.Fatalf("normalized %+v", c)
	}
	if s := fmt.Sprint(DropQueue, StageDeliver, Symmetric); s != "queue deliver symmetric" {
		t.Fatalf("names %q", s)
	}
}
