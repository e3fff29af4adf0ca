// Package budget accounts for the memory that peers make a server hold, so
// that every byte a stranger can make it keep is bounded per peer and in
// total.
//
// A [Pool] is the server-wide budget. Each peer (an RTMFP session, an RTMP
// connection) opens an [Account] in it, with a per-peer limit and a
// function that closes the peer. The code that buffers for the peer
// (reassembly, unread messages, player queues, send buffers) adds what it
// holds to the account and subtracts what it releases. An account over its
// own limit closes its peer; a pool over its limit closes the accounts that
// hold the most, largest first, until what remains fits — the peers that
// hold little never notice.
//
// Adding is cheap (a short lock and two additions) and allocates nothing,
// so it can sit on receive and send paths. Close functions run on their
// own goroutine, never under the caller's locks.
package budget

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrPeerLimit is wrapped by the error given to the close function of an
// account that went over its own limit.
var ErrPeerLimit = errors.New("peer memory budget exceeded")

// ErrShed is wrapped by the error given to the close function of an
// account closed because the server-wide budget was exceeded and it held
// the most.
var ErrShed = errors.New("server memory budget exceeded: closing the largest holders")

// Pool is a server-wide memory budget. The zero value is not usable; a nil
// *Pool accepts accounts that are checked against their own limit only.
type Pool struct {
	limit int64

	used     atomic.Int64 // sum of the open accounts' use
	shedding atomic.Int64 // of which held by accounts already told to close
	peak     atomic.Int64
	shed     atomic.Int64 // accounts closed to relieve the pool
	overPeer atomic.Int64 // accounts closed for their own limit

	mu       sync.Mutex // guards accounts; held while shedding
	accounts map[*Account]struct{}
}

// NewPool returns a pool of limit bytes (0 or less: no server-wide limit,
// accounting only).
func NewPool(limit int64) *Pool {
	return &Pool{limit: limit, accounts: make(map[*Account]struct{})}
}

// Account is one peer's share of a pool. Its methods are safe for
// concurrent use, and a nil *Account ignores everything (code paths
// without a budget need no checks).
type Account struct {
	pool  *Pool
	name  string
	limit int64
	end   func(error)

	mu     sync.Mutex
	used   int64
	shedAt int64 // what the pool counts as being shed (under pool.mu)
	failed bool  // end has been called
	done   bool  // Close has been called
}

// Open adds an account named name (for the close reason) with a limit of
// limit bytes (0 or less: none). end is called at most once, on its own
// goroutine, when the account must go: it should close the peer, which
// then calls Close.
func (p *Pool) Open(name string, limit int64, end func(error)) *Account {
	a := &Account{pool: p, name: name, limit: limit, end: end}
	if p != nil {
		p.mu.Lock()
		p.accounts[a] = struct{}{}
		p.mu.Unlock()
	}
	return a
}

// Add adds n bytes (n < 0 releases) to the account. It returns an error
// wrapping ErrPeerLimit when the account is over its limit, or ErrShed when
// it grows after being shed — the caller may refuse what it was about to
// keep (the sooner it stops growing, the sooner the pool is relieved); the
// peer is being closed either way.
func (a *Account) Add(n int) error {
	if a == nil || n == 0 {
		return nil
	}
	a.mu.Lock()
	if a.done {
		a.mu.Unlock()
		return nil
	}
	a.used += int64(n)
	used := a.used
	over := a.limit > 0 && used > a.limit
	fail := over && !a.failed
	shed := a.failed && !over && n > 0 // closing: growth is refused
	if fail {
		a.failed = true
	}
	p := a.pool
	var total int64
	if p != nil {
		total = p.used.Add(int64(n))
	}
	a.mu.Unlock()
	if fail {
		err := fmt.Errorf("%s: %w: %d bytes held (limit %d)", a.name, ErrPeerLimit, used, a.limit)
		if p != nil {
			p.overPeer.Add(1)
			p.markShedding(a)
		}
		go a.end(err)
	}
	if p != nil && n > 0 {
		for peak := p.peak.Load(); total > peak && !p.peak.CompareAndSwap(peak, total); peak = p.peak.Load() {
		}
		if p.limit > 0 && total-p.shedding.Load() > p.limit {
			p.relieve()
		}
	}
	switch {
	case over:
		return fmt.Errorf("%s: %w: %d bytes held (limit %d)", a.name, ErrPeerLimit, used, a.limit)
	case shed:
		return fmt.Errorf("%s: %w", a.name, ErrShed)
	}
	return nil
}

// Used returns the bytes the account holds.
func (a *Account) Used() int64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}

// Close releases everything the account holds and removes it from its
// pool. Later Adds are ignored.
func (a *Account) Close() {
	if a == nil {
		return
	}
	p := a.pool
	if p != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return
	}
	a.done = true
	if p != nil {
		p.used.Add(-a.used)
		p.shedding.Add(-a.shedAt)
		delete(p.accounts, a)
	}
	a.used, a.shedAt = 0, 0
}

// markShedding counts a closing account's use as about to be released.
func (p *Pool) markShedding(a *Account) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.done && a.shedAt == 0 {
		a.shedAt = max(a.used, 1)
		p.shedding.Add(a.shedAt)
	}
}

// relieve closes the accounts holding the most until what the others hold
// fits the pool's limit. One caller at a time sheds; the others go on.
func (p *Pool) relieve() {
	if !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	for p.used.Load()-p.shedding.Load() > p.limit {
		var big *Account
		var bigUsed int64
		for a := range p.accounts {
			a.mu.Lock()
			u, skip := a.used, a.failed || a.done
			a.mu.Unlock()
			if !skip && u > bigUsed {
				big, bigUsed = a, u
			}
		}
		if big == nil {
			return
		}
		big.mu.Lock()
		big.failed = true
		big.shedAt = max(big.used, 1)
		p.shedding.Add(big.shedAt)
		big.mu.Unlock()
		p.shed.Add(1)
		err := fmt.Errorf("%s: %w: it held %d bytes, the server %d (limit %d)", big.name, ErrShed, bigUsed, p.used.Load(), p.limit)
		go big.end(err)
	}
}

// Stats are a pool's figures.
type Stats struct {
	// Limit is the server-wide budget in bytes (0: none).
	Limit int64 `json:"limit"`
	// Used is what the open accounts hold now; Peak the most they held.
	Used int64 `json:"used"`
	Peak int64 `json:"peak"`
	// Accounts open now.
	Accounts int `json:"accounts"`
	// Shed counts the accounts closed because the pool was over its
	// limit; OverPeer those closed for going over their own.
	Shed     int64 `json:"shed"`
	OverPeer int64 `json:"overPeer"`
}

// Stats returns the pool's figures.
func (p *Pool) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	p.mu.Lock()
	n := len(p.accounts)
	p.mu.Unlock()
	return Stats{Limit: p.limit, Used: p.used.Load(), Peak: p.peak.Load(), Accounts: n,
		Shed: p.shed.Load(), OverPeer: p.overPeer.Load()}
}
