package rtmfp

import (
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/internal/sendbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Session scheduling states (Session.sched). A session is owned by at most
// one worker at a time: the one that moved it from schedQueued to
// schedRunning. Whoever has work for an idle session queues it; work that
// arrives while a worker runs it makes that worker queue it again when it
// is done.
const (
	schedNew     uint32 = iota // not started: work waits for start
	schedIdle                  // no work; owned by nobody
	schedQueued                // in the run queue
	schedRunning               // a worker runs it
	schedAgain                 // a worker runs it and more work arrived
	schedDead                  // ended: nothing runs it again
)

// runQueue is the endpoint's queue of sessions with work, served by its
// workers.
type runQueue struct {
	mu   sync.Mutex
	q    []*Session // ring buffer of len(q) slots
	head int
	n    int
	idle int           // workers waiting on wake
	wake chan struct{} // one token per idle worker woken
	// paced is set while the receive goroutine is paced (see
	// Endpoint.readDatagrams): sessions pushed then wait in deferred for
	// it, at most one pace window, instead of waking a worker; up to
	// maxDeferred of them, beyond which the workers take the rest.
	paced    bool
	deferred []*Session
}

// maxDeferred bounds the sessions waiting for a paced receive goroutine.
const maxDeferred = 1024

func newRunQueue(workers int) *runQueue {
	return &runQueue{q: make([]*Session, 64), wake: make(chan struct{}, workers)}
}

// push appends s and wakes an idle worker, if any.
func (rq *runQueue) push(s *Session) {
	rq.mu.Lock()
	if rq.paced && len(rq.deferred) < maxDeferred {
		rq.deferred = append(rq.deferred, s)
		rq.mu.Unlock()
		return
	}
	if rq.n == len(rq.q) {
		q := make([]*Session, 2*len(rq.q))
		k := copy(q, rq.q[rq.head:])
		copy(q[k:], rq.q[:rq.head])
		rq.q, rq.head = q, 0
	}
	rq.q[(rq.head+rq.n)%len(rq.q)] = s
	rq.n++
	wake := rq.idle > 0
	if wake {
		rq.idle--
	}
	rq.mu.Unlock()
	if wake {
		rq.wake <- struct{}{}
	}
}

// pop returns the next session, or nil when the queue is empty; with
// sleep set an empty queue counts the caller as an idle worker, which must
// then wait for a token on rq.wake.
func (rq *runQueue) pop(sleep bool) *Session {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	if rq.n == 0 {
		if sleep {
			rq.idle++
		}
		return nil
	}
	s := rq.q[rq.head]
	rq.q[rq.head] = nil
	rq.head = (rq.head + 1) % len(rq.q)
	rq.n--
	return s
}

// setPaced records whether the receive goroutine is paced and appends the
// sessions deferred to it to into.
func (rq *runQueue) setPaced(paced bool, into []*Session) []*Session {
	rq.mu.Lock()
	rq.paced = paced
	into = append(into, rq.deferred...)
	clear(rq.deferred)
	rq.deferred = rq.deferred[:0]
	rq.mu.Unlock()
	return into
}

// take queues s for the receive goroutine's worker w when s is idle, and
// reports whether it did.
func (w *worker) take(s *Session) bool {
	if s.sched.CompareAndSwap(schedIdle, schedQueued) {
		w.local = append(w.local, s)
		return true
	}
	return false
}

// schedule gives s work to do: it queues s unless it is queued already, or
// asks the worker running it to run it again.
func (s *Session) schedule() {
	for {
		switch st := s.sched.Load(); st {
		case schedIdle:
			if s.sched.CompareAndSwap(schedIdle, schedQueued) {
				s.ep.runq.push(s)
				return
			}
		case schedRunning:
			if s.sched.CompareAndSwap(schedRunning, schedAgain) {
				return
			}
		default: // new, queued, again, dead
			return
		}
	}
}

// worker runs sessions with work: the endpoint's worker goroutines, and the
// receive goroutine for the sessions it delivered datagrams to. Each worker
// collects the datagrams of
// every session it runs in one batch, sent with as few system calls as the
// socket allows (sendmmsg, UDP GSO), when the batch is full or when the
// worker runs out of work.
type worker struct {
	e     *Endpoint
	out   outBatch
	ack   ackScratch
	local []*Session // the receive goroutine's: sessions it queued for itself
	// keying is the receive goroutine's: key agreements it runs itself
	// (inlineKeying).
	keying []*keyingJob
}

// ackScratch is a worker's space for parsing acknowledgements.
type ackScratch struct {
	ack    wire.Ack
	ranges []sendbuf.Range
}

// run is a worker goroutine's loop.
func (w *worker) run() {
	e := w.e
	defer e.workersDone.Done()
	for {
		s := e.runq.pop(w.out.n == 0)
		if s == nil {
			if w.out.n > 0 {
				w.out.flush()
				continue
			}
			select {
			case <-e.runq.wake:
				continue
			case <-e.stopWorkers:
				return
			}
		}
		w.runSession(s)
	}
}

// runSession runs one session: everything that happened since its last run
// (datagrams, application calls, timers) and what it has to send.
func (w *worker) runSession(s *Session) {
	s.sched.Store(schedRunning)
	s.w = w
	now := time.Now()
	s.step(now)
	if s.state == stateClosed {
		s.exit()
		s.w = nil
		s.sched.Store(schedDead)
		return
	}
	w.e.timers.set(s, s.nextDeadline(now), now)
	s.w = nil
	if !s.sched.CompareAndSwap(schedRunning, schedIdle) {
		// schedAgain: work arrived while it ran.
		s.sched.Store(schedQueued)
		w.e.runq.push(s)
	}
}

// startWorkers runs n workers.
func (e *Endpoint) startWorkers(n int) {
	for range n {
		w := &worker{e: e}
		w.out.init(e)
		e.workersDone.Add(1)
		go w.run()
	}
}

// scheduleAll gives every session of the endpoint a run (shutdown).
func (e *Endpoint) scheduleAll() {
	e.mu.Lock()
	all := make([]*Session, 0, len(e.sessions))
	for _, s := range e.sessions {
		all = append(all, s)
	}
	e.mu.Unlock()
	for _, s := range all {
		s.schedule()
	}
}
