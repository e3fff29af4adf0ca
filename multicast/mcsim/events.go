package mcsim

import (
	"time"

	"github.com/rtmfpd/rtmfpd/multicast"
)

// eventKind says what an event does.
type eventKind uint8

const (
	evMessage eventKind = iota // deliver msg from node `from` to node `node` on flow
	evTimer                    // wake node `node` (if still its deadline)
	evPublish                  // publish the next source message
	evFunc                     // call fn
)

// event is one entry of the simulation's agenda. Events at the same time
// run in the order they were scheduled (seq), so runs are deterministic.
type event struct {
	at   time.Time
	seq  uint64
	kind eventKind
	flow multicast.Flow
	node int32
	from int32
	msg  []byte
	fn   func()
}

// agenda is a binary min-heap of events by (at, seq).
type agenda []event

func (a agenda) less(i, j int) bool {
	if !a[i].at.Equal(a[j].at) {
		return a[i].at.Before(a[j].at)
	}
	return a[i].seq < a[j].seq
}

func (a *agenda) push(e event) {
	*a = append(*a, e)
	h := *a
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (a *agenda) pop() event {
	h := *a
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = event{}
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*a = h
	return top
}
