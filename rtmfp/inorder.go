package rtmfp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// In-order reading. RFC 7016 flows are independent: each delivers its own
// messages in order, and nothing orders one flow against another. The Flash
// profile however sends a NetStream's audio, video, data and commands on
// separate flows and expects them handled as they arrived — a closeStream
// must not overtake the last frames (single-threaded servers such as
// MonaServer2 and rtmfp-cpp's tcserver handle messages in arrival order).
// A session whose Config.InOrder says so keeps one queue of the messages of
// all its flows in arrival order, read with ReadInOrder.

// arrival is one entry of a session's in-order queue: a message of f, or
// the end of f (msg nil, err set).
type arrival struct {
	f   *RecvFlow
	msg []byte
	err error
}

// inOrderQueue is a session's queue of arrivals.
type inOrderQueue struct {
	mu     sync.Mutex
	q      []arrival
	head   int
	ready  chan struct{}
	notify atomic.Pointer[func()] // Session.NotifyInOrder's
}

func (q *inOrderQueue) push(a arrival) {
	q.mu.Lock()
	q.q = append(q.q, a)
	ready := q.ready
	q.mu.Unlock()
	if ready != nil {
		select {
		case ready <- struct{}{}:
		default:
		}
	}
	q.wake()
}

// popOrWait pops the next arrival or, when there is none, returns the
// channel a push signals (made on first use: a queue read through
// NotifyInOrder never needs it).
func (q *inOrderQueue) popOrWait() (arrival, bool, chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.q) {
		if q.ready == nil {
			q.ready = make(chan struct{}, 1)
		}
		return arrival{}, false, q.ready
	}
	a := q.popLocked()
	return a, true, nil
}

// wake calls the function NotifyInOrder set, if any.
func (q *inOrderQueue) wake() {
	if fn := q.notify.Load(); fn != nil {
		(*fn)()
	}
}

// pending reports whether the queue holds an arrival.
func (q *inOrderQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head < len(q.q)
}

func (q *inOrderQueue) pop() (arrival, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.q) {
		return arrival{}, false
	}
	return q.popLocked(), true
}

func (q *inOrderQueue) popLocked() arrival {
	a := q.q[q.head]
	q.q[q.head] = arrival{}
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return a
}

// InOrder reports whether the session's flows are read with ReadInOrder.
func (s *Session) InOrder() bool { return s.ordered != nil }

// ReadInOrder returns the next message of any of the far end's flows, in
// the order the messages became complete, together with its flow. The first
// message of a new flow introduces it (check its Metadata). When a flow
// ends, ReadInOrder returns it once more with a nil message and io.EOF (or
// the flow's error). When the session ends it returns a nil flow and the
// session's error. Only for sessions opened with Config.InOrder; AcceptFlow
// and RecvFlow.ReadMessage are then unused.
func (s *Session) ReadInOrder(ctx context.Context) (*RecvFlow, []byte, error) {
	q := s.ordered
	if q == nil {
		return nil, nil, errNotInOrder
	}
	for {
		a, ok, ready := q.popOrWait()
		if ok {
			return a.deliver()
		}
		select {
		case <-ready:
		case <-s.done:
			if a, ok := q.pop(); ok { // what is left before the end
				return a.deliver()
			}
			return nil, nil, s.Err()
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// NotifyInOrder makes the session call fn whenever an arrival is queued
// for ReadInOrder and once when the session ends, so that a reader needs no
// goroutine blocked in ReadInOrder while the session is idle: fn starts
// one that reads with TryReadInOrder until nothing is left. fn runs on the
// endpoint's goroutines and must not block. Only for sessions read in
// order; fn is called at once if something is already waiting.
func (s *Session) NotifyInOrder(fn func()) {
	q := s.ordered
	if q == nil {
		return
	}
	q.notify.Store(&fn)
	select {
	case <-s.done:
		fn()
		return
	default:
	}
	if q.pending() {
		fn()
	}
}

// InOrderPending reports whether TryReadInOrder has something to return:
// a queued arrival, or the session's end.
func (s *Session) InOrderPending() bool {
	q := s.ordered
	if q == nil {
		return false
	}
	select {
	case <-s.done:
		return true
	default:
	}
	return q.pending()
}

// TryReadInOrder is ReadInOrder without waiting: ok is false when nothing
// is queued and the session has not ended. When it has ended and the queue
// is empty, it returns a nil flow, ok and the session's error.
func (s *Session) TryReadInOrder() (f *RecvFlow, msg []byte, ok bool, err error) {
	q := s.ordered
	if q == nil {
		return nil, nil, true, errNotInOrder
	}
	if a, ok := q.pop(); ok {
		f, msg, err = a.deliver()
		return f, msg, true, err
	}
	select {
	case <-s.done:
		if a, ok := q.pop(); ok { // queued as the session ended
			f, msg, err = a.deliver()
			return f, msg, true, err
		}
		return nil, nil, true, s.Err()
	default:
		return nil, nil, false, nil
	}
}

// deliver hands an arrival to the reader.
func (a arrival) deliver() (*RecvFlow, []byte, error) {
	if a.msg != nil {
		a.f.consumed(len(a.msg))
		return a.f, a.msg, nil
	}
	return a.f, nil, a.err
}

var errNotInOrder = errors.New("rtmfp: the session is not read in order (Config.InOrder)")
