package rtmp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// noLimit is the zero time: no deadline.
var noLimit time.Time

// deadlineConn puts every Read and Write of the underlying connection under
// a deadline (the idle timeouts, or an earlier hard deadline set by a
// context) and counts the bytes that pass.
type deadlineConn struct {
	nc           net.Conn
	src          io.Reader // reads nc: a rawReader, or nc itself
	readTimeout  time.Duration
	writeTimeout time.Duration
	onRead       func() // called after bytes arrive
	beforeRead   func() // called before each read of the connection
	pingInterval time.Duration
	onIdle       func() // called when a read has waited pingInterval

	read    atomic.Uint64
	written atomic.Uint64

	mu    sync.Mutex // orders deadline updates
	hard  time.Time  // zero: none
	armed time.Time  // the read deadline last set on nc
}

// Read reads under the read deadline and counts the bytes. With a ping
// interval, a read idle for that long calls onIdle (which sends a ping) and
// goes on waiting, until the read timeout.
//
// A deadline armed by an earlier read is kept when it falls at most
// rearmSlack before this read's: most reads then update no timer (a read
// every few milliseconds would otherwise move it each time). When such a
// deadline fires, the read re-arms its own and goes on waiting, so no read
// ends before its deadline.
func (d *deadlineConn) Read(p []byte) (int, error) {
	if d.beforeRead != nil {
		d.beforeRead()
	}
	now := time.Now()
	var limit, ping time.Time
	if d.readTimeout > 0 {
		limit = now.Add(d.readTimeout)
	}
	for {
		next, pinging := limit, false
		d.mu.Lock()
		if d.pingInterval > 0 {
			if ping.IsZero() {
				ping = now.Add(d.pingInterval)
			}
			if next.IsZero() || ping.Before(next) {
				next, pinging = ping, true
			}
		}
		hard := d.hard
		if !hard.IsZero() && (next.IsZero() || hard.Before(next)) {
			next, pinging = hard, false
		}
		if !keepDeadline(d.armed, next, now) {
			d.nc.SetReadDeadline(next)
			d.armed = next
		}
		d.mu.Unlock()
		n, err := d.src.Read(p)
		if n > 0 {
			d.read.Add(uint64(n))
			if d.onRead != nil {
				d.onRead()
			}
			return n, err
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			now = time.Now()
			d.mu.Lock()
			early := now.Before(next) && d.armed.Before(next) && d.hard.Equal(hard)
			if early {
				d.armed = time.Time{} // a kept deadline: arm this read's own
			}
			d.mu.Unlock()
			if early {
				continue
			}
			if pinging && d.stillIdle(limit) {
				d.onIdle()
				ping = time.Time{}
				continue
			}
		}
		return n, err
	}
}

// rearmSlack is how much earlier than a read's own deadline the armed one
// may be for the read to keep it (see Read).
const rearmSlack = 250 * time.Millisecond

// keepDeadline tells whether a read that wants the deadline next can keep
// the armed one: neither set, or both, armed not later than next, by less
// than rearmSlack, and not past.
func keepDeadline(armed, next, now time.Time) bool {
	if armed.IsZero() && next.IsZero() {
		return true // none wanted, none armed
	}
	return !armed.IsZero() && !next.IsZero() && !armed.After(next) && next.Sub(armed) < rearmSlack && armed.After(now)
}

// stillIdle reports that neither the read limit nor a hard deadline set
// meanwhile has passed.
func (d *deadlineConn) stillIdle(limit time.Time) bool {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	return (limit.IsZero() || now.Before(limit)) && (d.hard.IsZero() || now.Before(d.hard)) && d.onIdle != nil
}

// Write writes under the write deadline and counts the bytes.
func (d *deadlineConn) Write(p []byte) (int, error) {
	d.mu.Lock()
	d.nc.SetWriteDeadline(d.deadline(d.writeTimeout))
	d.mu.Unlock()
	n, err := d.nc.Write(p)
	d.written.Add(uint64(n))
	return n, err
}

// armWrite sets the write deadline for a write about to wait for the peer.
// Writes that do not wait (rawWriter without wait) ignore it.
func (d *deadlineConn) armWrite() {
	d.mu.Lock()
	d.nc.SetWriteDeadline(d.deadline(d.writeTimeout))
	d.mu.Unlock()
}

// deadline returns the earlier of now+timeout and the hard deadline; zero
// for none. Called with mu held.
func (d *deadlineConn) deadline(timeout time.Duration) time.Time {
	var t time.Time
	if timeout > 0 {
		t = time.Now().Add(timeout)
	}
	if !d.hard.IsZero() && (t.IsZero() || d.hard.Before(t)) {
		t = d.hard
	}
	return t
}

// setHard sets the hard deadline and applies it at once to a read or write
// in progress.
func (d *deadlineConn) setHard(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hard = t
	d.armed = d.deadline(d.readTimeout)
	d.nc.SetReadDeadline(d.armed)
	d.nc.SetWriteDeadline(d.deadline(d.writeTimeout))
}

// bind makes ctx's deadline and cancellation, and the deadline limit when
// it is not zero, interrupt reads and writes until the returned function is
// called. Binds do not nest.
func (d *deadlineConn) bind(ctx context.Context, limit time.Time) (unbind func()) {
	if dl, ok := ctx.Deadline(); ok && (limit.IsZero() || dl.Before(limit)) {
		limit = dl
	}
	if !limit.IsZero() {
		d.setHard(limit)
	}
	if ctx.Done() == nil {
		return func() { d.setHard(time.Time{}) }
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		d.setHard(time.Unix(1, 0))
		close(done)
	})
	return func() {
		if !stop() {
			<-done
		}
		d.setHard(time.Time{})
	}
}

// contextErr returns ctx's error, or context.DeadlineExceeded when its
// deadline has passed but its timer has not fired yet (a read can fail on
// the deadline first).
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
