package rtmfp

import (
	"testing"
	"time"
)

func TestReceivePacer(t *testing.T) {
	const w = 2 * time.Millisecond
	t0 := time.Unix(1000, 0)
	type step struct {
		at     time.Duration // since t0
		n      int
		waited bool
		want   time.Duration
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"sparse traffic is never paced", []step{
			{0, 1, true, 0}, {10 * time.Millisecond, 1, true, 0}, {13 * time.Millisecond, 2, true, 0},
		}},
		{"two wake-ups within a window start the pace", []step{
			{0, 1, true, 0}, {500 * time.Microsecond, 1, true, w},
		}},
		{"the pace holds while each window brings datagrams", []step{
			{0, 1, true, 0}, {500 * time.Microsecond, 1, true, w}, {2600 * time.Microsecond, 5, false, w},
			{4700 * time.Microsecond, 3, false, w},
		}},
		{"a window that brought nothing ends the pace", []step{
			{0, 1, true, 0}, {500 * time.Microsecond, 1, true, w}, {9 * time.Millisecond, 1, true, 0},
		}},
		{"a full batch is followed at once", []step{
			{0, 1, true, 0}, {100 * time.Microsecond, maxBatch, false, 0}, {200 * time.Microsecond, 3, false, w},
		}},
		{"a datagram waiting without a wake-up is paced", []step{
			{0, 1, false, w},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := receivePacer{window: w}
			for i, s := range tc.steps {
				if got := p.next(s.n, s.waited, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d (%v, n=%d, waited=%v): wait %v, want %v", i, s.at, s.n, s.waited, got, s.want)
				}
			}
		})
	}
	var off receivePacer
	if d := off.next(3, false, t0); d != 0 {
		t.Fatalf("a pacer with no window waited %v", d)
	}
}

// TestReceivePaceConfig: zero means the default pace, a negative pace none.
func TestReceivePaceConfig(t *testing.T) {
	for _, tc := range []struct {
		set, want time.Duration
		paced     bool
	}{{0, DefaultReceivePace, true}, {5 * time.Millisecond, 5 * time.Millisecond, true}, {-1, -1, false}} {
		c := Config{Profile: newFlash(t), ReceivePace: tc.set}
		if err := c.populate(); err != nil {
			t.Fatal(err)
		}
		if c.ReceivePace != tc.want {
			t.Errorf("ReceivePace %v: populated to %v, want %v", tc.set, c.ReceivePace, tc.want)
		}
		p := receivePacer{window: c.ReceivePace}
		if got := p.next(1, false, time.Unix(1, 0)) > 0; got != tc.paced {
			t.Errorf("ReceivePace %v: paced %v, want %v", tc.set, got, tc.paced)
		}
	}
}

// TestPacedReaderTakesWork: while the receive goroutine is paced, sessions
// that get work wait for it instead of waking a worker, and the timer
// wheel is run by it instead of the runtime timer; leaving the pace hands
// both back.
func TestPacedReaderTakesWork(t *testing.T) {
	e := &Endpoint{}
	e.runq = newRunQueue(1)
	e.timers = newTimerWheel(e)
	defer e.timers.stop()
	w := &worker{e: e}
	a, b := &Session{ep: e}, &Session{ep: e}
	a.sched.Store(schedIdle)
	b.sched.Store(schedIdle)

	e.enterPaced()
	a.schedule()
	if e.runq.n != 0 || len(e.runq.deferred) != 1 {
		t.Fatalf("paced: %d queued for the workers, %d deferred", e.runq.n, len(e.runq.deferred))
	}
	now := time.Now().Add(10 * time.Millisecond) // well past the wheel's epoch
	e.timers.set(b, now.Add(-time.Millisecond), now)
	if e.timers.armed != 0 {
		t.Fatal("the runtime timer was armed while the wheel was held")
	}
	e.timers.due(now, w)
	if len(w.local) != 1 || w.local[0] != b || b.sched.Load() != schedQueued {
		t.Fatalf("due deadline: local %v", w.local)
	}

	e.leavePaced(w)
	if len(w.local) != 2 || w.local[1] != a {
		t.Fatalf("leaving the pace: local %v", w.local)
	}
	c := &Session{ep: e}
	c.sched.Store(schedIdle)
	c.schedule()
	if e.runq.n != 1 || len(e.runq.deferred) != 0 {
		t.Fatalf("not paced: %d queued for the workers, %d deferred", e.runq.n, len(e.runq.deferred))
	}
	e.timers.set(c, now.Add(time.Hour), now)
	if e.timers.armed == 0 {
		t.Fatal("the runtime timer was not armed once the wheel was released")
	}
}
