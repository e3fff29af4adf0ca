package rtmfp

import (
	"context"
	"errors"
	"sync"
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
	mu    sync.Mutex
	q     []arrival
	head  int
	ready chan struct{}
}

func (q *inOrderQueue) push(a arrival) {
	q.mu.Lock()
	q.q = append(q.q, a)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *inOrderQueue) pop() (arrival, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.q) {
		return arrival{}, false
	}
	a := q.q[q.head]
	q.q[q.head] = arrival{}
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return a, true
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
		if a, ok := q.pop(); ok {
			if a.msg != nil {
				a.f.consumed(len(a.msg))
				return a.f, a.msg, nil
			}
			return a.f, nil, a.err
		}
		select {
		case <-q.ready:
		case <-s.done:
			if a, ok := q.pop(); ok {
				q.push(a) // deliver what is left before the end
				continue
			}
			return nil, nil, s.Err()
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

var errNotInOrder = errors.New("rtmfp: the session is not read in order (Config.InOrder)")
