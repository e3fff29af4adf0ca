package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New[netip.Addr](10, 5, 1000)
	t0 := time.Unix(100, 0)
	a := netip.MustParseAddr("127.0.0.1")
	b := netip.MustParseAddr("127.0.0.2")
	n := 0
	for range 20 {
		if l.Allow(a, t0) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("burst allowed %d", n)
	}
	if !l.Allow(b, t0) {
		t.Fatal("other address limited")
	}
	if !l.Allow(a, t0.Add(100*time.Millisecond)) || l.Allow(a, t0.Add(100*time.Millisecond)) {
		t.Fatal("refill of one token per 100 ms")
	}
}

func TestGlobalAndBounded(t *testing.T) {
	l := New[netip.Addr](10, 5, 100)
	t0 := time.Unix(100, 0)
	n := 0
	for i := range MaxTracked + 10 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if l.Allow(a, t0) {
			n++
		}
	}
	if n != 100 {
		t.Fatalf("global bucket allowed %d", n)
	}
	if l.Len() > MaxTracked {
		t.Fatalf("tracking %d", l.Len())
	}
}

// TestNoGlobal: with no global rate, every key gets its burst.
func TestNoGlobal(t *testing.T) {
	l := New[int](1, 2, 0)
	t0 := time.Unix(100, 0)
	n := 0
	for k := range 50000 {
		for range 3 {
			if l.Allow(k, t0) {
				n++
			}
		}
	}
	if n != 100000 {
		t.Fatalf("allowed %d, want 2 for each of 50000 keys", n)
	}
}

// TestRefund: a refunded token can be used again, never beyond the burst.
func TestRefund(t *testing.T) {
	l := New[string](1, 3, 0)
	t0 := time.Unix(100, 0)
	for range 3 {
		if !l.Allow("a", t0) {
			t.Fatal("burst refused")
		}
	}
	if l.Allow("a", t0) {
		t.Fatal("allowed beyond the burst")
	}
	l.Refund("a", t0)
	if !l.Allow("a", t0) {
		t.Fatal("refunded token refused")
	}
	for range 10 {
		l.Refund("a", t0)
	}
	n := 0
	for range 10 {
		if l.Allow("a", t0) {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("after 10 refunds %d allowed, want the burst (3)", n)
	}
	l.Refund("unknown", t0) // no bucket: nothing to give back
	if l.Len() != 1 {
		t.Fatalf("refund created a bucket: %d tracked", l.Len())
	}
}

// TestBudget: answers total at most factor × received + capacity, and an
// answer no larger than factor × its datagram is covered by the datagram's
// own credit however drained the budget is.
func TestBudget(t *testing.T) {
	b := NewBudget(3, 1000)
	var in, out int
	for range 10000 {
		b.Earn(20)
		in += 20
		if b.Spend(164, 20) {
			out += 164
		}
	}
	if out > 3*in+1000 {
		t.Fatalf("sent %d for %d received: more than 3× plus the capacity", out, in)
	}
	if out < 3*in-1000 {
		t.Fatalf("sent %d for %d received: the credit was not used", out, in)
	}
	b.Earn(68)
	if !b.Spend(180, 68) {
		t.Fatal("a self-funded answer was refused")
	}
	if b.Credit() < 0 || b.Credit() > 1000 {
		t.Fatalf("credit %d", b.Credit())
	}
	for range 10 {
		b.Earn(1 << 20)
	}
	if b.Credit() != 1000 {
		t.Fatalf("credit %d beyond the capacity", b.Credit())
	}
}

// TestBudgetReserve: under a flood of tiny datagrams, a datagram whose
// answer amplifies only a little more than the factor is still answered,
// every time; an answer to nothing is allowed only while the budget is
// more than half full.
func TestBudgetReserve(t *testing.T) {
	b := NewBudget(3, 16384)
	refused := 0
	for i := range 100000 {
		b.Earn(20)
		b.Spend(164, 20)
		if i%100 == 0 {
			b.Earn(52) // an honest IHello with a short URL: 156 bytes of credit for a 180-byte RHello
			if !b.Spend(180, 52) {
				refused++
			}
		}
	}
	if refused > 0 {
		t.Fatalf("%d of 1000 slightly amplifying answers refused under the flood", refused)
	}
	if b.Spend(100, 0) {
		t.Fatal("an answer to nothing spent the reserve")
	}
	q := NewBudget(3, 16384)
	if !q.Spend(100, 0) {
		t.Fatal("a quiet budget refused an answer to nothing")
	}
}

// TestBudgetRefund: answers refunded once their sources prove themselves
// cost nothing, so honest clients whose first datagram is much smaller
// than its answer never drain the budget.
func TestBudgetRefund(t *testing.T) {
	b := NewBudget(3, 16384)
	for i := range 100000 {
		b.Earn(36) // librtmfp's IHello: 36 bytes for a 180-byte RHello
		if !b.Spend(180, 36) {
			t.Fatalf("handshake %d refused", i)
		}
		b.Refund(180)
	}
	if b.Credit() != 16384 {
		t.Fatalf("credit %d", b.Credit())
	}
}
