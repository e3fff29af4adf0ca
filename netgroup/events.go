package netgroup

import (
	"sync"

	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// eventKind tells the events of a member apart.
type eventKind uint8

const (
	evConnected eventKind = iota
	evDisconnected
	evReportFlow
	evMediaFlow
)

// event is one call to make on the Handler.
type event struct {
	kind  eventKind
	n     *Neighbor
	err   error
	assoc *rtmfp.SendFlow
	flow  *rtmfp.RecvFlow
}

// eventQueue serialises a member's calls to its Handler on one goroutine.
// Neighbour events are always queued (there are at most two per
// neighbour); flow events beyond the cap are refused.
type eventQueue struct {
	h   Handler
	cap int

	mu      sync.Mutex
	q       []event
	stopped bool
	wake    chan struct{}
	done    chan struct{}
}

func newEventQueue(h Handler, capacity int) *eventQueue {
	return &eventQueue{h: h, cap: capacity, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues an event; it reports false for a flow event that was refused
// (queue full or stopped).
func (e *eventQueue) push(ev event) bool {
	e.mu.Lock()
	flowEv := ev.kind == evReportFlow || ev.kind == evMediaFlow
	if e.stopped || flowEv && len(e.q) >= e.cap {
		e.mu.Unlock()
		if flowEv {
			ev.flow.Reject(RejectUnsupported)
		}
		return false
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return true
}

// stop makes run return once the queued events are delivered.
func (e *eventQueue) stop() {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run delivers events until stop.
func (e *eventQueue) run() {
	defer close(e.done)
	for {
		e.mu.Lock()
		batch := e.q
		e.q = nil
		stopped := e.stopped
		e.mu.Unlock()
		for _, ev := range batch {
			e.deliver(ev)
		}
		if len(batch) == 0 {
			if stopped {
				return
			}
			<-e.wake
		}
	}
}

func (e *eventQueue) deliver(ev event) {
	h := e.h
	if h == nil {
		h = NopHandler{}
	}
	switch ev.kind {
	case evConnected:
		h.NeighborConnected(ev.n)
	case evDisconnected:
		h.NeighborDisconnected(ev.n, ev.err)
	case evReportFlow:
		h.ReportFlow(ev.n, ev.flow)
	case evMediaFlow:
		h.MediaFlow(ev.n, ev.assoc, ev.flow)
	}
}
