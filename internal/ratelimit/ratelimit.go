// Package ratelimit keeps the budgets that stop an RTMFP server from being
// used as a traffic reflector: token buckets per key (an IP address, a peer
// ID) with a bounded number of keys, and a byte budget that ties the bytes
// sent in answer to unauthenticated datagrams to the bytes received.
package ratelimit

import (
	"sync"
	"time"
)

// MaxTracked is the most keys tracked at once. When the table is full, the
// entries idle longest are forgotten (a forgotten key starts again with a
// full bucket, which only matters for an attacker spreading over more than
// MaxTracked keys, whom the global bucket then limits).
const MaxTracked = 65536

type bucket struct {
	tokens float64
	last   time.Time
}

// Limiter is a token bucket per key plus an optional global bucket. It is
// safe for concurrent use.
type Limiter[K comparable] struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	m      map[K]*bucket
	global bucket
	grate  float64
	gburst float64
}

// New returns a limiter allowing rate events per second per key with bursts
// of burst, and globalRate per second over all keys (bursts of one second's
// worth); globalRate 0 means no global limit.
func New[K comparable](rate float64, burst int, globalRate float64) *Limiter[K] {
	return &Limiter[K]{rate: rate, burst: float64(burst), m: make(map[K]*bucket),
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

// Allow takes one token for key at now and reports whether there was one.
func (l *Limiter[K]) Allow(key K, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if len(l.m) >= MaxTracked {
			l.evict(now)
		}
		b = &bucket{}
		l.m[key] = b
	}
	refill(b, now, l.rate, l.burst)
	if l.grate > 0 {
		refill(&l.global, now, l.grate, l.gburst)
		if l.global.tokens < 1 {
			return false
		}
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	if l.grate > 0 {
		l.global.tokens--
	}
	return true
}

// Refund gives key back one token (up to its burst): the event it paid for
// turned out to be harmless, as an RHello answered by an IIKeying that
// echoed its cookie from the same address (the address is not spoofed).
func (l *Limiter[K]) Refund(key K, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.m[key]; b != nil {
		refill(b, now, l.rate, l.burst)
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// evict forgets the keys whose buckets have refilled (idle at least
// burst/rate); if none have, half the table at random (map order).
func (l *Limiter[K]) evict(now time.Time) {
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

// Len is the number of tracked keys.
func (l *Limiter[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
