package simnet

import (
	"sync"
	"time"
)

// deadline is a read or write deadline: a channel closed once the deadline
// has passed. Waiting on it is a channel receive, which durably blocks in a
// synctest bubble.
type deadline struct {
	mu    sync.Mutex
	when  time.Time // zero: none
	timer *time.Timer
	ch    chan struct{}
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// set moves the deadline to t (zero: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.when = t
	if d.timer != nil {
		d.timer.Stop()
	}
	if t.IsZero() {
		if isClosed(d.ch) {
			d.ch = make(chan struct{})
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		if !isClosed(d.ch) {
			close(d.ch)
		}
		return
	}
	if isClosed(d.ch) {
		d.ch = make(chan struct{})
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(dur, d.expire)
	} else {
		d.timer.Reset(dur)
	}
}

// expire runs from the timer. The deadline may have moved since the timer
// was set, so it checks the time again.
func (d *deadline) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.when.IsZero() {
		return
	}
	if rem := time.Until(d.when); rem > 0 {
		d.timer.Reset(rem)
		return
	}
	if !isClosed(d.ch) {
		close(d.ch)
	}
}

// wait returns a channel closed when the deadline passes, and whether it
// has passed already (by the clock, even if the timer has not run yet).
func (d *deadline) wait() (chan struct{}, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch, isClosed(d.ch) || !d.when.IsZero() && !time.Now().Before(d.when)
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
	d.when = time.Time{}
}
