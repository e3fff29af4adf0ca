package ratelimit

import "sync"

// Budget bounds what a server sends in answer to datagrams whose source
// address is not proven: each byte received earns factor bytes of credit,
// up to a cap, and an answer goes out only when the credit covers it. Over
// any stretch of time the answers then total at most factor times the bytes
// received plus the cap, whatever the datagrams look like, so a spoofed
// flood gains at most factor in bytes by reflecting off the server. QUIC
// bounds a server's answers to an unvalidated address the same way, with a
// factor of 3 (RFC 9000 §8.1); Budget applies it to all unproven sources
// together.
//
// The budget starts full, so a quiet server answers freely; it binds only
// under a flood of datagrams smaller than their answers. An answer no
// larger than factor times the datagram that asked for it is always covered
// when the datagram's credit is earned first. Budget is safe for concurrent
// use.
type Budget struct {
	mu     sync.Mutex
	factor int64
	cap    int64
	credit int64
}

// NewBudget returns a full budget earning factor bytes per byte received,
// holding at most capacity bytes of credit.
func NewBudget(factor, capacity int) *Budget {
	return &Budget{factor: int64(factor), cap: int64(capacity), credit: int64(capacity)}
}

// Earn credits n bytes received.
func (b *Budget) Earn(n int) {
	b.mu.Lock()
	b.credit = min(b.cap, b.credit+b.factor*int64(n))
	b.mu.Unlock()
}

// Spend takes answer bytes of credit for an answer to a datagram of request
// bytes (whose credit was earned) and reports whether the budget allowed
// it; if not, nothing is taken and the answer must not be sent.
func (b *Budget) Spend(answer, request int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := int64(answer)
	var reserve int64
	if excess := n - b.factor*int64(request); excess > 0 {
		reserve = b.cap / 2 * excess / n
	}
	if b.credit-n < reserve {
		return false
	}
	b.credit -= n
	return true
}

// Refund gives back n bytes of credit (up to the capacity) for an answer
// that turned out not to be a reflection: it reached a source that proved
// its address afterwards.
func (b *Budget) Refund(n int) {
	b.mu.Lock()
	b.credit = min(b.cap, b.credit+int64(n))
	b.mu.Unlock()
}

// Credit is the credit left, in bytes.
func (b *Budget) Credit() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.credit)
}
