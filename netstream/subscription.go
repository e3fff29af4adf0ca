package netstream

import (
	"context"
	"sync"

	"github.com/rtmfpd/rtmfpd/media"
)

// Sink receives a stream's messages in order. WriteMedia may block (the
// transport applies back-pressure); the subscription's own goroutine calls
// it, never the publisher's. An error ends the subscription.
type Sink interface {
	WriteMedia(ctx context.Context, m media.Message) error
}

// BatchSink is a Sink that can take several queued messages at once, for a
// transport that then writes them with one system call. The subscription
// passes it the messages waiting in its queue (at most maxBatch of them, up
// to maxBatchBytes) instead of one WriteMedia call each.
type BatchSink interface {
	Sink
	WriteMediaBatch(ctx context.Context, msgs []media.Message) error
}

// Bounds of one batch given to a BatchSink.
const (
	maxBatch      = 32
	maxBatchBytes = 256 << 10
)

// SubscriptionStats counts what a subscription delivered and dropped.
type SubscriptionStats struct {
	Delivered, Dropped uint64
	DroppedBytes       uint64
}

// Subscription is one consumer of a stream: a bounded queue and a goroutine
// draining it into a Sink. The publisher only ever appends to the queue, so
// a slow consumer never slows the publisher or other consumers: when the
// queue is over its limit, whole groups of pictures are dropped from its
// head (audio and data with them), never the metadata and codec headers, and
// after a drop video restarts at the next key frame.
type Subscription struct {
	stream *Stream
	sink   Sink
	limit  int
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	q        []entry
	bytes    int
	waitKey  bool // video waits for a key frame
	noAudio  bool
	noVideo  bool
	paused   bool
	ready    chan struct{}
	stats    SubscriptionStats
	closeErr error
}

type entry struct {
	m      media.Message
	sticky bool   // metadata and sequence headers: never dropped
	fn     func() // a marker queued by After: run, not delivered
}

func newSubscription(s *Stream, sink Sink, limit int) *Subscription {
	ctx, cancel := context.WithCancel(context.Background())
	sub := &Subscription{stream: s, sink: sink, limit: limit, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), ready: make(chan struct{}, 1), waitKey: true}
	go sub.run()
	return sub
}

// Done is closed when the subscription ended.
func (sub *Subscription) Done() <-chan struct{} { return sub.done }

// Err is why the subscription ended (the sink's error), or nil.
func (sub *Subscription) Err() error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.closeErr
}

// Stats returns the delivery counters.
func (sub *Subscription) Stats() SubscriptionStats {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.stats
}

// SetReceive turns audio or video delivery on and off (NetStream
// receiveAudio/receiveVideo).
func (sub *Subscription) SetReceive(audio, video bool) {
	sub.mu.Lock()
	if !sub.noVideo && !video {
		// nothing
	} else if sub.noVideo && video {
		sub.waitKey = true
	}
	sub.noAudio, sub.noVideo = !audio, !video
	sub.mu.Unlock()
}

// SetPaused pauses or resumes delivery; a live stream resumes at the next
// key frame.
func (sub *Subscription) SetPaused(p bool) {
	sub.mu.Lock()
	if sub.paused && !p {
		sub.waitKey = true
	}
	sub.paused = p
	sub.mu.Unlock()
}

// Close ends the subscription and detaches it from its stream.
func (sub *Subscription) Close() {
	if sub.stream != nil {
		sub.stream.unsubscribe(sub)
	}
	sub.cancel()
}

// push queues m (publisher side: never blocks).
func (sub *Subscription) push(m media.Message, sticky bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ctx.Err() != nil || (sub.paused && !sticky) {
		return
	}
	switch {
	case m.Type == media.TypeAudio && sub.noAudio && !sticky,
		m.Type == media.TypeVideo && sub.noVideo && !sticky:
		return
	case m.Type == media.TypeVideo && !sticky && sub.waitKey:
		if !m.IsKeyframe() {
			sub.stats.Dropped++
			return
		}
		sub.waitKey = false
	}
	sub.q = append(sub.q, entry{m: m, sticky: sticky})
	sub.bytes += len(m.Payload)
	if sub.bytes > sub.limit {
		sub.dropOldestGOP()
	}
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// After runs fn on the subscription's goroutine once every message queued
// before it has been delivered (or dropped): an end-of-stream event sent
// after the last frames, a relay that unpublishes after draining. fn is not
// run if the subscription ends first; it never waits for a key frame and is
// never dropped.
func (sub *Subscription) After(fn func()) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ctx.Err() != nil {
		return
	}
	sub.q = append(sub.q, entry{sticky: true, fn: fn})
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// dropOldestGOP removes queued messages from the head up to the second key
// frame (so the queue starts at a key frame), keeping sticky ones. When the
// queue holds less than two key frames, everything droppable goes and video
// waits for the next key frame.
func (sub *Subscription) dropOldestGOP() {
	// The cut is the first video key frame with something droppable
	// before it: everything droppable ahead of it goes, so the queue
	// restarts on that key frame.
	cut := -1
	droppable := false
	for i, e := range sub.q {
		if e.sticky {
			continue
		}
		if droppable && e.m.Type == media.TypeVideo && e.m.IsKeyframe() {
			cut = i
			break
		}
		droppable = true
	}
	if cut < 0 {
		cut = len(sub.q)
		sub.waitKey = true
	}
	kept := sub.q[:0]
	for i, e := range sub.q {
		if i < cut && !e.sticky {
			sub.stats.Dropped++
			sub.stats.DroppedBytes += uint64(len(e.m.Payload))
			sub.bytes -= len(e.m.Payload)
			continue
		}
		kept = append(kept, e)
	}
	clear(sub.q[len(kept):])
	sub.q = kept
}

// run delivers queued messages to the sink.
func (sub *Subscription) run() {
	defer close(sub.done)
	bs, _ := sub.sink.(BatchSink)
	var batch []media.Message
	for {
		sub.mu.Lock()
		if len(sub.q) == 0 {
			sub.mu.Unlock()
			select {
			case <-sub.ready:
				continue
			case <-sub.ctx.Done():
				return
			}
		}
		if bs != nil && sub.q[0].fn == nil && len(sub.q) > 1 {
			// Every message up to the next After marker, within bounds.
			size := 0
			n := 0
			for n < len(sub.q) && n < maxBatch && sub.q[n].fn == nil && size < maxBatchBytes {
				batch = append(batch, sub.q[n].m)
				size += len(sub.q[n].m.Payload)
				n++
			}
			clear(sub.q[:n])
			sub.q = sub.q[n:]
			sub.bytes -= size
			sub.mu.Unlock()
			err := bs.WriteMediaBatch(sub.ctx, batch)
			clear(batch)
			batch = batch[:0]
			if !sub.delivered(err, n) {
				return
			}
			continue
		}
		e := sub.q[0]
		sub.q[0] = entry{}
		sub.q = sub.q[1:]
		sub.bytes -= len(e.m.Payload)
		sub.mu.Unlock()
		if e.fn != nil {
			e.fn()
			continue
		}
		if !sub.delivered(sub.sink.WriteMedia(sub.ctx, e.m), 1) {
			return
		}
	}
}

// delivered counts n messages written, or ends the subscription on the
// sink's error (false).
func (sub *Subscription) delivered(err error, n int) bool {
	if err != nil {
		sub.mu.Lock()
		if sub.closeErr == nil && sub.ctx.Err() == nil {
			sub.closeErr = err
		}
		sub.mu.Unlock()
		if sub.stream != nil {
			sub.stream.unsubscribe(sub)
		}
		sub.cancel()
		return false
	}
	sub.mu.Lock()
	sub.stats.Delivered += uint64(n)
	sub.mu.Unlock()
	return true
}
