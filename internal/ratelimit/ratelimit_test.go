package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(10, 5, 1000)
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
	l := New(10, 5, 100)
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
