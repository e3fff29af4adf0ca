package rtmfp

import (
	"sync"
	"time"
)

// timerTick is the finest resolution of session deadlines: a session whose
// deadline falls within a tick runs at the end of that tick, together with
// every other session due in it. Deadlines further away are rounded up
// more coarsely (timerWheel.tickOf), so that the sessions due about the
// same time share one wake-up.
const timerTick = time.Millisecond

// maxTimerSlack bounds the rounding of a far deadline.
const maxTimerSlack = 1024 * timerTick

// timerWheel holds the next deadline of every session of an endpoint, in
// buckets of one tick, and one runtime timer for the earliest bucket: when
// it fires, the sessions due are queued for the workers. Sessions thus
// have no timer (and no goroutine) of their own.
type timerWheel struct {
	e       *Endpoint
	mu      sync.Mutex
	epoch   time.Time
	buckets map[int64]*timerBucket
	ticks   tickHeap // ticks of the buckets, earliest first
	armed   int64    // tick the runtime timer is set for; 0: not set
	t       *time.Timer
	free    []*timerBucket
	// held is set while the receive goroutine is paced: it runs the
	// wheel itself after each receive batch (due) and the runtime timer
	// stays stopped, so a due deadline costs no timer goroutine and no
	// worker wake-up. Deadlines are then met within the pace window.
	held    bool
	stopped bool // the endpoint closed: the runtime timer is never armed again
}

// timerBucket is the list of sessions due in one tick, linked through
// Session.tnext and Session.tprev.
type timerBucket struct {
	tick int64
	head *Session
}

func newTimerWheel(e *Endpoint) *timerWheel {
	tw := &timerWheel{e: e, epoch: time.Now(), buckets: make(map[int64]*timerBucket)}
	tw.t = time.AfterFunc(time.Hour, tw.fire)
	tw.t.Stop()
	return tw
}

// tickOf returns the tick in which t falls, rounded up (a session never
// runs before its deadline) to a multiple of a power of two of ticks no
// larger than a sixteenth of the time left until t: a 200 ms
// retransmission timeout within 8 ms, a 15 s keepalive within a second.
func (tw *timerWheel) tickOf(t, now time.Time) int64 {
	tick := int64((t.Sub(tw.epoch) + timerTick - 1) / timerTick)
	g := int64(1)
	for left := t.Sub(now) / 16; g < int64(maxTimerSlack/timerTick) && time.Duration(2*g)*timerTick <= left; {
		g *= 2
	}
	return (tick + g - 1) / g * g
}

// set makes at the deadline of s (owned by the caller, its worker) at now.
// The zero time removes it.
func (tw *timerWheel) set(s *Session, at, now time.Time) {
	tick := int64(0)
	if !at.IsZero() {
		tick = max(tw.tickOf(at, now), 1)
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if s.tbucket != nil && s.tbucket.tick == tick {
		return
	}
	if s.tbucket != nil {
		tw.unlink(s)
	}
	if tick == 0 {
		return
	}
	b := tw.buckets[tick]
	if b == nil {
		if n := len(tw.free); n > 0 {
			b = tw.free[n-1]
			tw.free = tw.free[:n-1]
		} else {
			b = new(timerBucket)
		}
		b.tick = tick
		tw.buckets[tick] = b
		tw.ticks.push(tick)
	}
	s.tbucket = b
	s.tprev = nil
	s.tnext = b.head
	if b.head != nil {
		b.head.tprev = s
	}
	b.head = s
	if tw.armed == 0 || tick < tw.armed {
		tw.arm(tick)
	}
}

// unlink removes s from its bucket (tw.mu held). An empty bucket stays in
// the heap until its tick comes, unless it is the earliest: the timer is
// then armed for the next bucket that holds a session.
func (tw *timerWheel) unlink(s *Session) {
	b := s.tbucket
	if s.tprev != nil {
		s.tprev.tnext = s.tnext
	} else {
		b.head = s.tnext
	}
	if s.tnext != nil {
		s.tnext.tprev = s.tprev
	}
	s.tbucket, s.tnext, s.tprev = nil, nil, nil
	if b.head == nil && b.tick == tw.armed {
		for len(tw.ticks) > 0 {
			top := tw.buckets[tw.ticks[0]]
			if top.head != nil {
				break
			}
			tw.ticks.pop()
			delete(tw.buckets, top.tick)
			tw.free = append(tw.free, top)
		}
		tw.armed = 0
		if len(tw.ticks) > 0 {
			tw.arm(tw.ticks[0])
		} else {
			tw.t.Stop()
		}
	}
}

// arm sets the runtime timer for tick (tw.mu held), unless the wheel is
// held.
func (tw *timerWheel) arm(tick int64) {
	if tw.held || tw.stopped {
		return
	}
	tw.armed = tick
	tw.t.Reset(time.Until(tw.epoch.Add(time.Duration(tick) * timerTick)))
}

// fire queues the sessions whose deadline passed and arms the timer for
// the next bucket that holds any.
func (tw *timerWheel) fire() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.popDue(time.Now(), nil)
	tw.armed = 0
	if len(tw.ticks) > 0 {
		tw.arm(tw.ticks[0])
	}
}

// due runs the wheel from the receive goroutine while it holds it: the
// sessions whose deadline passed are queued for w, the receive goroutine's
// worker.
func (tw *timerWheel) due(now time.Time, w *worker) {
	tw.mu.Lock()
	tw.popDue(now, w)
	tw.mu.Unlock()
}

// hold hands the wheel to the receive goroutine (see held); release hands
// it back to the runtime timer, armed for the earliest deadline.
func (tw *timerWheel) hold() { tw.disarm(&tw.held) }

func (tw *timerWheel) release() {
	tw.mu.Lock()
	tw.held = false
	tw.armed = 0
	if len(tw.ticks) > 0 {
		tw.arm(tw.ticks[0])
	}
	tw.mu.Unlock()
}

// popDue takes the buckets due at now off the wheel and queues their
// sessions: for the receive goroutine's worker w, or for the endpoint's
// workers when w is nil (tw.mu held).
func (tw *timerWheel) popDue(now time.Time, w *worker) {
	nowTick := int64(now.Sub(tw.epoch) / timerTick)
	for len(tw.ticks) > 0 {
		tick := tw.ticks[0]
		b := tw.buckets[tick]
		if tick > nowTick && b.head != nil {
			break
		}
		tw.ticks.pop()
		delete(tw.buckets, tick)
		for s := b.head; s != nil; {
			next := s.tnext
			s.tbucket, s.tnext, s.tprev = nil, nil, nil
			if w == nil || !w.take(s) {
				s.schedule()
			}
			s = next
		}
		b.head = nil
		tw.free = append(tw.free, b)
	}
}

// stop stops the runtime timer for good.
func (tw *timerWheel) stop() { tw.disarm(&tw.stopped) }

// disarm sets flag (held or stopped), which keeps the runtime timer from
// being armed, and stops it.
func (tw *timerWheel) disarm(flag *bool) {
	tw.mu.Lock()
	*flag = true
	tw.t.Stop()
	tw.armed = 0
	tw.mu.Unlock()
}

// tickHeap is a min-heap of ticks.
type tickHeap []int64

func (h *tickHeap) push(t int64) {
	*h = append(*h, t)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *tickHeap) pop() int64 {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a[r] < a[l] {
			m = r
		}
		if a[i] <= a[m] {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
