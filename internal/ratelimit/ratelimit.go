// Package ratelimit keeps a token bucket per IP address, with a bounded
// number of addresses. It protects an RTMFP endpoint from being used as a
// traffic reflector: answers to unauthenticated startup packets (RHello,
// Redirect, Forwarded IHello, Cookie Change) are limited per destination.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// MaxTracked is the most addresses tracked at once. When the table is full,
// the entries idle longest are forgotten (a forgotten address starts again
// with a full bucket, which only matters for an attacker spreading over more
// than MaxTracked addresses, whom the global bucket then limits).
const MaxTracked = 65536

type bucket struct {
	tokens float64
	last   time.Time
}

// Limiter is safe for concurrent use.
type Limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	m      map[netip.Addr]*bucket
	global bucket
	grate  float64
	gburst float64
}

// New returns a limiter allowing rate events per second per address with
// bursts of burst, and globalRate per second over all addresses (bursts of
// one second's worth).
func New(rate float64, burst int, globalRate float64) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), m: make(map[netip.Addr]*bucket),
		grate: globalRate, gburst: max(globalRate, 1)}
}

func refill(b *bucket, now time.Time, rate, burst float64) {
	if b.last.IsZero() {
		b.tokens = burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*rate)
	}
	b.last = now
}

// Allow takes one token for addr at now and reports whether there was one.
func (l *Limiter) Allow(addr netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	if b == nil {
		if len(l.m) >= MaxTracked {
			l.evict(now)
		}
		b = &bucket{}
		l.m[addr] = b
	}
	refill(b, now, l.rate, l.burst)
	refill(&l.global, now, l.grate, l.gburst)
	if b.tokens < 1 || l.global.tokens < 1 {
		return false
	}
	b.tokens--
	l.global.tokens--
	return true
}

// evict forgets the addresses whose buckets have refilled (idle at least
// burst/rate); if none have, half the table at random (map order).
func (l *Limiter) evict(now time.Time) {
	idle := time.Duration(l.burst / l.rate * float64(time.Second))
	for a, b := range l.m {
		if now.Sub(b.last) >= idle {
			delete(l.m, a)
		}
	}
	if len(l.m) < MaxTracked {
		return
	}
	n := len(l.m) / 2
	for a := range l.m {
		if n == 0 {
			break
		}
		delete(l.m, a)
		n--
	}
}

// Len is the number of tracked addresses.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
