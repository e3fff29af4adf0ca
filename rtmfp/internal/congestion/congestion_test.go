package congestion

import (
	"testing"
	"time"
)

const mss = 1000

func TestSlowStartAndAvoidance(t *testing.T) {
	c := New(mss)
	if c.Window() != 3*mss {
		t.Fatalf("initial window %d", c.Window())
	}
	// Window in use: each acked segment adds one segment in slow start.
	c.OnAck(mss, 0, c.Window())
	if c.Window() != 4*mss {
		t.Fatalf("slow start: %d", c.Window())
	}
	// An application-limited sender does not grow the window.
	c.OnAck(mss, 0, mss)
	if c.Window() != 4*mss {
		t.Fatalf("app-limited growth: %d", c.Window())
	}
	// Loss halves once, then recovery absorbs further losses.
	c.OnAck(0, mss, 4*mss)
	if c.Window() != 3*mss || !c.InRecovery() {
		t.Fatalf("after loss: %d (floor is the initial window) recovery %v", c.Window(), c.InRecovery())
	}
	w := c.Window()
	c.OnAck(0, mss, 3*mss)
	if c.Window() != w {
		t.Fatal("second loss in the same recovery reduced again")
	}
	// Drain the recovery.
	c.OnAck(3*mss, 0, 3*mss)
	if c.InRecovery() {
		t.Fatal("recovery did not end")
	}
	// Congestion avoidance: one MSS per window of acked bytes.
	w = c.Window()
	for acked := 0; acked < w; acked += mss {
		c.OnAck(mss, 0, c.Window())
	}
	if c.Window() != w+mss {
		t.Fatalf("avoidance: %d want %d", c.Window(), w+mss)
	}
}

func TestLargeWindowHalves(t *testing.T) {
	c := New(mss)
	for c.Window() < 64*mss {
		c.OnAck(mss, 0, c.Window())
	}
	c.OnAck(0, mss, 64*mss)
	if c.Window() != 32*mss || c.Threshold() != 32*mss {
		t.Fatalf("halving: cwnd %d ssthresh %d", c.Window(), c.Threshold())
	}
}

func TestTimeout(t *testing.T) {
	c := New(mss)
	for c.Window() < 40*mss {
		c.OnAck(mss, 0, c.Window())
	}
	c.OnTimeout(true)
	if c.Window() != 2*mss || c.Threshold() != 30*mss {
		t.Fatalf("timeout: cwnd %d ssthresh %d", c.Window(), c.Threshold())
	}
	c.OnTimeout(false)
	if c.Window() != 3*mss {
		t.Fatalf("idle: %d", c.Window())
	}
}

func TestPacer(t *testing.T) {
	var p Pacer
	t0 := time.Unix(100, 0)
	if got := p.Allow(t0, 10*mss, mss, 10*time.Millisecond); got != BurstPackets*mss {
		t.Fatalf("initial burst %d", got)
	}
	p.Spend(BurstPackets * mss)
	if got := p.Allow(t0, 10*mss, mss, 10*time.Millisecond); got != 0 {
		t.Fatalf("after spending: %d", got)
	}
	// rate = 2*10000/0.01 = 2e6 B/s: 1 ms gives 2000 bytes.
	if got := p.Allow(t0.Add(time.Millisecond), 10*mss, mss, 10*time.Millisecond); got != 2000 {
		t.Fatalf("refill: %d", got)
	}
	next := p.Next(t0.Add(time.Millisecond), 3000, 10*mss, 10*time.Millisecond)
	if d := next.Sub(t0.Add(time.Millisecond)); d != 501*time.Microsecond {
		t.Fatalf("next in %v", d)
	}
}

// TestPacerSustained checks that a pacer driven by its own Next times sends
// at its rate (2·cwnd/srtt) instead of stalling on rounding.
func TestPacerSustained(t *testing.T) {
	var p Pacer
	now := time.Unix(100, 0)
	sent := 0
	for i := 0; i < 10000; i++ {
		a := p.Allow(now, 17572, 1154, 20*time.Millisecond)
		if a >= 1040 {
			p.Spend(1040)
			sent++
			continue
		}
		nx := p.Next(now, 1040, 17572, 20*time.Millisecond)
		if !nx.After(now) {
			t.Fatalf("next %v not after now", nx)
		}
		now = nx
		if now.Sub(time.Unix(100, 0)) > 100*time.Millisecond {
			break
		}
	}
	if sent < 150 {
		t.Fatalf("sent %d packets in 100ms, want about 170", sent)
	}
}
