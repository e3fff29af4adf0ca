package netstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
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

// FlushSink is a BatchSink that can also take a batch of messages without
// ever blocking. A publisher that flushes (Stream.WriteHeld, an RTMP
// connection's reader) then writes them itself when the transport is idle —
// no hand-off to the subscription's goroutine — and the messages it read
// together go out in one write (see Stream.Flush). Only what the transport
// cannot take at once goes through the subscription's queue and goroutine,
// whose bounds and drops are those of any sink.
type FlushSink interface {
	BatchSink
	// TryWriteMediaBatch writes msgs if the transport can take them
	// without waiting, and returns false, having taken nothing, when it
	// cannot. An error ends the subscription.
	TryWriteMediaBatch(msgs []media.Message) (bool, error)
	// Prepare is called, on the publisher's goroutine and before m is
	// queued for anyone else, for each message queued for the sink: the
	// sink may attach to m a serialized form of it that every sink of the
	// fan-out writing the same form shares (m.Encoded). It returns the
	// bytes that form holds, charged to the queue with m.
	Prepare(m *media.Message) int
}

// PrepareThreshold is implemented by a FlushSink whose Prepare does
// nothing for a message of at most PrepareAbove bytes (asked once, when the
// subscription starts): the subscription then does not call it for those,
// saving a call per message and player.
type PrepareThreshold interface {
	PrepareAbove() int
}

// DirectSink is a Sink that can take a message without blocking:
// TryWriteMedia returns false, having taken nothing, when the message would
// have to wait (its transport's buffer is full). While a subscription's
// queue is empty it hands each message to such a sink directly, on the
// publisher's goroutine, with no hand-off to its own; it queues messages
// only while the sink is behind, and its goroutine then delivers them with
// WriteMedia (or a batch) as for any sink. TryWriteMedia is called with the
// stream locked: it must be quick and must not call back into the stream.
type DirectSink interface {
	Sink
	TryWriteMedia(m media.Message) (bool, error)
}

// Bounds of one batch given to a BatchSink.
const (
	maxBatch      = 32
	maxBatchBytes = 256 << 10
)

// entryOverhead is what a queued message costs besides its payload; it
// counts against the queue's bound so that a flood of tiny messages is
// bounded too.
const entryOverhead = 64

// supersedeScan is how far back from the tail a new codec header or
// metadata looks for the one it replaces.
const supersedeScan = 64

// ErrSlowConsumer is wrapped by the error that ends a subscription whose
// queue stayed over its bound for longer than its SlowTimeout.
var ErrSlowConsumer = errors.New("netstream: slow consumer")

// SubscriptionStats counts what a subscription delivered and dropped.
type SubscriptionStats struct {
	Delivered, Dropped uint64
	DroppedBytes       uint64
}

// SubscribeOptions configure a subscription.
type SubscribeOptions struct {
	// Limit bounds the queue in bytes (payloads plus a small per-message
	// overhead), codec headers and metadata included.
	Limit int
	// SlowTimeout ends the subscription when its queue has been over its
	// bound (dropping) without catching up for this long; 0 never does.
	SlowTimeout time.Duration
	// OnSlow is called, on its own goroutine, when the subscription ends
	// for being slow (typically to disconnect the player).
	OnSlow func(error)
	// Account is charged with what the queue holds.
	Account *budget.Account
	// AtKeyframe starts the consumer at the stream's last key frame (the
	// group of pictures the stream keeps, see Config.GOPCache) instead of
	// the next one.
	AtKeyframe bool
}

// Subscription is one consumer of a stream: a bounded queue and a goroutine
// draining it into a Sink (a DirectSink takes messages straight from the
// publisher while the queue is empty). The publisher only ever appends to
// the queue or hands a message to a sink that takes it at once, so
// a slow consumer never slows the publisher or other consumers: when the
// queue is over its limit, whole groups of pictures are dropped from its
// head (audio and data with them) and after a drop video restarts at the
// next key frame. Metadata and codec headers are kept through drops, but
// only the latest of each kind (metadata, audio header, video header) that
// nothing queued still needs: whatever the publisher sends, the queue stays
// within its bound. A consumer that stays behind for SlowTimeout is ended.
type Subscription struct {
	stream  *Stream
	sink    Sink
	direct  DirectSink // sink, when it takes messages without blocking
	flusher FlushSink  // sink, when it takes batches without blocking
	opts    SubscribeOptions
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	mu          sync.Mutex
	q           []entry
	bytes       int
	waitKey     bool // video waits for a key frame
	noAudio     bool
	noVideo     bool
	paused      bool
	writing     bool // the goroutine is delivering messages taken off q
	ready       chan struct{}
	stats       SubscriptionStats
	closeErr    error
	behindSince time.Time // first drop since the queue last caught up
	held        bool      // the stream's next Flush delivers the queue
	scratch     []media.Message
	// unacct is the part of bytes not charged to opts.Account yet: what
	// push held for the stream's next Flush, charged (or not, once
	// delivered) when that flush settles. opts.Account holds bytes-unacct.
	unacct int
	// prepareAbove: only messages longer than this are passed to the
	// flusher's Prepare (see PrepareThreshold).
	prepareAbove int
}

// stickyKind sorts what a queue keeps through drops.
type stickyKind uint8

const (
	notSticky   stickyKind = iota
	stickyMeta             // onMetaData
	stickyAudio            // audio sequence header
	stickyVideo            // video sequence header
	stickyMark             // an After marker
)

type entry struct {
	m    media.Message
	kind stickyKind
	fn   func() // a marker queued by After: run, not delivered
	size int    // what it is charged: payload, prepared form, overhead
}

func (e *entry) sticky() bool { return e.kind != notSticky }

func (e *entry) cost() int { return e.size }

// stickyOf tells what kind of sticky message m is, for a message the
// stream keeps for late joiners.
func stickyOf(m media.Message) stickyKind {
	switch {
	case m.IsData():
		return stickyMeta
	case m.Type == media.TypeAudio:
		return stickyAudio
	case m.Type == media.TypeVideo:
		return stickyVideo
	}
	return notSticky
}

func newSubscription(s *Stream, sink Sink, o SubscribeOptions) *Subscription {
	ctx, cancel := context.WithCancel(context.Background())
	sub := &Subscription{stream: s, sink: sink, opts: o, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), ready: make(chan struct{}, 1), waitKey: true}
	sub.direct, _ = sink.(DirectSink)
	sub.flusher, _ = sink.(FlushSink)
	if pt, ok := sink.(PrepareThreshold); ok {
		sub.prepareAbove = pt.PrepareAbove()
	}
	go sub.run()
	return sub
}

// Done is closed when the subscription ended.
func (sub *Subscription) Done() <-chan struct{} { return sub.done }

// Err is why the subscription ended (the sink's error, or a slow consumer),
// or nil.
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
	if sub.noVideo && video {
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
	sub.release()
}

// release gives back what the queue holds once the subscription ended.
func (sub *Subscription) release() {
	sub.mu.Lock()
	n := sub.bytes - sub.unacct
	sub.bytes, sub.unacct = 0, 0
	clear(sub.q)
	sub.q = nil
	sub.mu.Unlock()
	sub.opts.Account.Add(-n)
}

// take counts n more queued bytes (under sub.mu).
func (sub *Subscription) take(n int) {
	sub.bytes += n
	sub.opts.Account.Add(n)
}

// settle charges the account with what push held for the flush and the
// flush has not delivered (under sub.mu).
func (sub *Subscription) settle() {
	if sub.unacct != 0 {
		sub.opts.Account.Add(sub.unacct)
		sub.unacct = 0
	}
}

// push queues m (publisher side: never blocks); kind says whether the
// queue must keep it through drops. With direct, a message for an idle
// FlushSink is held for the stream's Flush instead of waking the
// subscription's goroutine: push reports true when the subscription must be
// added to the stream's list of those to flush. The sink may attach a
// shared form to *m (FlushSink.Prepare).
func (sub *Subscription) push(m *media.Message, kind stickyKind, direct bool) (flush bool) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sticky := kind != notSticky
	if sub.ctx.Err() != nil || (sub.paused && !sticky) {
		return false
	}
	switch {
	case m.Type == media.TypeAudio && sub.noAudio && !sticky,
		m.Type == media.TypeVideo && sub.noVideo && !sticky:
		return false
	case m.Type == media.TypeVideo && !sticky && sub.waitKey:
		if !m.IsKeyframe() {
			sub.stats.Dropped++
			return false
		}
		sub.waitKey = false
	}
	if sub.direct != nil && len(sub.q) == 0 && !sub.writing {
		// Nothing waits: straight to the sink, if it takes it now. An
		// error ends the subscription on its goroutine (WriteMedia
		// reports it again).
		if ok, err := sub.direct.TryWriteMedia(*m); ok && err == nil {
			sub.stats.Delivered++
			sub.behindSince = time.Time{}
			return false
		}
	}
	if sticky {
		sub.settle() // supersede may drop what push held
		sub.supersede(kind)
	}
	e := entry{kind: kind, size: len(m.Payload) + entryOverhead}
	if sub.flusher != nil && len(m.Payload) > sub.prepareAbove {
		e.size += sub.flusher.Prepare(m)
	}
	e.m = *m
	sub.q = append(sub.q, e)
	// Counted now, charged to the account once settled: a message held
	// for the flush is most often delivered by it, and then costs the
	// account nothing.
	sub.bytes += e.size
	sub.unacct += e.size
	if sub.bytes > sub.opts.Limit {
		sub.settle()
		for sub.bytes > sub.opts.Limit && sub.dropOldestGOP() {
		}
		sub.behind()
	}
	if direct && sub.flusher != nil && !sub.writing && (sub.held || len(sub.q) == 1) {
		flush = !sub.held
		sub.held = true
		return flush
	}
	sub.settle()
	sub.signal()
	return false
}

// signal wakes the subscription's goroutine.
func (sub *Subscription) signal() {
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// flush writes the queue through the FlushSink, on the publisher's
// goroutine, as far as the transport takes it without waiting; the
// subscription's goroutine delivers the rest. The write happens under
// sub.mu: it never blocks, and the queue cannot change under it.
func (sub *Subscription) flush() {
	sub.mu.Lock()
	sub.held = false
	var err error
	for !sub.writing && sub.ctx.Err() == nil && len(sub.q) > 0 {
		size, cost, n := 0, 0, 0
		for n < len(sub.q) && n < maxBatch && sub.q[n].fn == nil && size < maxBatchBytes {
			sub.scratch = append(sub.scratch, sub.q[n].m)
			size += len(sub.q[n].m.Payload)
			cost += sub.q[n].size
			n++
		}
		if n == 0 {
			break // an After marker: the goroutine runs it
		}
		var ok bool
		ok, err = sub.flusher.TryWriteMediaBatch(sub.scratch)
		clear(sub.scratch)
		sub.scratch = sub.scratch[:0]
		if err != nil || !ok {
			break
		}
		clear(sub.q[:n])
		sub.q = sub.q[n:]
		sub.bytes -= cost // and from what settle charges
		sub.unacct -= cost
		sub.stats.Delivered += uint64(n)
		if sub.bytes <= sub.opts.Limit/4 {
			sub.behindSince = time.Time{} // caught up
		}
	}
	sub.settle()
	if err == nil && len(sub.q) > 0 {
		sub.signal()
	}
	sub.mu.Unlock()
	if err != nil {
		sub.delivered(err, 0)
	}
}

// supersede removes the latest queued sticky message of kind if nothing
// queued after it needs it: the new one replaces it. Metadata is always
// replaced; a codec header only when no media of its track follows it.
func (sub *Subscription) supersede(kind stickyKind) {
	for i := len(sub.q) - 1; i >= max(len(sub.q)-supersedeScan, 0); i-- {
		e := &sub.q[i]
		if e.kind == kind {
			sub.drop(i)
			return
		}
		if kind == stickyMeta || e.kind == stickyMark {
			continue
		}
		if (kind == stickyAudio && e.m.Type == media.TypeAudio) || (kind == stickyVideo && e.m.Type == media.TypeVideo) {
			return // media of the track uses the queued header
		}
	}
}

// drop removes entry i, counting it as dropped.
func (sub *Subscription) drop(i int) {
	c := sub.q[i].cost()
	sub.stats.Dropped++
	sub.stats.DroppedBytes += uint64(len(sub.q[i].m.Payload))
	sub.take(-c)
	copy(sub.q[i:], sub.q[i+1:])
	sub.q[len(sub.q)-1] = entry{}
	sub.q = sub.q[:len(sub.q)-1]
}

// behind notes a drop: the consumer is behind since the first drop after
// it last caught up, and is ended once that has lasted SlowTimeout.
func (sub *Subscription) behind() {
	if sub.opts.SlowTimeout <= 0 {
		return
	}
	now := time.Now()
	if sub.behindSince.IsZero() {
		sub.behindSince = now
		return
	}
	if d := now.Sub(sub.behindSince); d >= sub.opts.SlowTimeout && sub.closeErr == nil {
		sub.closeErr = fmt.Errorf("%w: its queue stayed over its %d-byte bound for %v (dropped %d messages)",
			ErrSlowConsumer, sub.opts.Limit, d.Round(time.Millisecond), sub.stats.Dropped)
		sub.cancel()
		go sub.endSlow(sub.closeErr)
	}
}

// endSlow detaches a subscription ended for being slow and tells its owner.
func (sub *Subscription) endSlow(err error) {
	if sub.stream != nil {
		sub.stream.unsubscribe(sub)
	}
	sub.release()
	if sub.opts.OnSlow != nil {
		sub.opts.OnSlow(err)
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
	sub.q = append(sub.q, entry{kind: stickyMark, fn: fn})
	sub.signal()
}

// dropOldestGOP removes queued messages from the head up to the second key
// frame (so the queue starts at a key frame); of the sticky messages ahead
// of that point only the latest of each kind stays. When the queue holds
// less than two key frames, everything droppable goes and video waits for
// the next key frame. It reports whether anything was removed.
func (sub *Subscription) dropOldestGOP() bool {
	// The cut is the first video key frame with something droppable
	// before it: everything droppable ahead of it goes, so the queue
	// restarts on that key frame.
	cut := -1
	droppable := false
	for i, e := range sub.q {
		if e.sticky() {
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
	// The sticky messages ahead of the cut that a later one of their kind
	// (also ahead of the cut) replaces: once the media between them is
	// gone, nothing needs them.
	var last [stickyMark]int
	for i := range cut {
		if k := sub.q[i].kind; k != notSticky && k != stickyMark {
			last[k] = i + 1
		}
	}
	kept := sub.q[:0]
	removed := 0
	for i, e := range sub.q {
		if i < cut && e.kind != stickyMark && (!e.sticky() || last[e.kind] != i+1) {
			sub.stats.Dropped++
			sub.stats.DroppedBytes += uint64(len(e.m.Payload))
			removed += e.cost()
			continue
		}
		kept = append(kept, e)
	}
	clear(sub.q[len(kept):])
	changed := len(kept) < len(sub.q)
	sub.q = kept
	sub.take(-removed)
	return changed
}

// run delivers queued messages to the sink.
func (sub *Subscription) run() {
	defer close(sub.done)
	bs, _ := sub.sink.(BatchSink)
	var batch []media.Message
	for {
		sub.mu.Lock()
		sub.writing = false
		if sub.bytes <= sub.opts.Limit/4 {
			sub.behindSince = time.Time{} // caught up
		}
		if len(sub.q) == 0 || sub.ctx.Err() != nil {
			sub.mu.Unlock()
			select {
			case <-sub.ready:
				continue
			case <-sub.ctx.Done():
				return
			}
		}
		// Until it loops, the goroutine delivers (or runs a marker):
		// Stream.Flush leaves the queue to it, so that order holds.
		sub.writing = true
		if bs != nil && sub.q[0].fn == nil && len(sub.q) > 1 {
			// Every message up to the next After marker, within bounds.
			size, cost := 0, 0
			n := 0
			for n < len(sub.q) && n < maxBatch && sub.q[n].fn == nil && size < maxBatchBytes {
				batch = append(batch, sub.q[n].m)
				size += len(sub.q[n].m.Payload)
				cost += sub.q[n].cost()
				n++
			}
			clear(sub.q[:n])
			sub.q = sub.q[n:]
			sub.take(-cost)
			sub.writing = true
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
		sub.take(-e.cost())
		sub.writing = true
		sub.mu.Unlock()
		if e.fn != nil {
			e.fn()
			sub.doneWriting()
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
		sub.release()
		return false
	}
	sub.mu.Lock()
	sub.stats.Delivered += uint64(n)
	sub.writing = false
	sub.mu.Unlock()
	return true
}

// doneWriting notes that the goroutine delivered what it took off the
// queue.
func (sub *Subscription) doneWriting() {
	sub.mu.Lock()
	sub.writing = false
	sub.mu.Unlock()
}
