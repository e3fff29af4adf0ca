package rtmfp

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/internal/recvbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/sendbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// FlowOptions are the properties of a send flow.
type FlowOptions struct {
	// ReturnFor associates the new flow with a flow received from the far
	// end (the return flow association option of RFC 7016 §2.3.11.1.2).
	ReturnFor *RecvFlow
	// Priority orders flows: higher first, round robin among equals.
	// RFC 7425 gives audio and video precedence over data this way.
	Priority int
	// TimeCritical marks the packets carrying this flow's data with the TC
	// flag (RFC 7016 §2.2.4): live media.
	TimeCritical bool
	// Lifetime is the default lifetime of a message written with Write:
	// once it has passed, what was not delivered is abandoned (partial
	// reliability). 0 means fully reliable.
	Lifetime time.Duration
}

type pendingMsg struct {
	data     []byte
	deadline time.Time
}

// SendFlow is a flow from this end to the far end (RFC 7016 §3.6.2): an
// ordered sequence of messages, each delivered whole or not at all. Its
// methods are safe for concurrent use.
type SendFlow struct {
	s        *Session
	id       uint64
	metadata []byte
	opts     FlowOptions
	options  []byte // encoded user data option list, marker included
	fragSize int

	mu       sync.Mutex
	pending  []pendingMsg
	spare    []pendingMsg // the session's: pending's next backing array
	pendBuf  int          // bytes in pending
	queued   int          // bytes in the send queue, as last published by the session
	charged  int          // bytes counted in the session's memory account
	closeReq bool
	err      error
	done     chan struct{}
	space    chan struct{} // signalled when the buffer drains
	dirty    bool          // queued for the session goroutine (under s.mu)

	// Owned by the session goroutine.
	q              *sendbuf.Queue
	rwnd           int
	acked          bool // an acknowledgement arrived: stop repeating options
	persist        time.Time
	persistBackoff time.Duration
	finished       bool
}

// ID is the flow's identifier within its session.
func (f *SendFlow) ID() uint64 { return f.id }

// Metadata is the flow metadata given when it was opened.
func (f *SendFlow) Metadata() []byte { return f.metadata }

// Session returns the flow's session.
func (f *SendFlow) Session() *Session { return f.s }

// Write queues one message with the flow's default lifetime. The message
// is copied.
func (f *SendFlow) Write(msg []byte) error {
	return f.WriteWithLifetime(msg, f.opts.Lifetime)
}

// WriteWithLifetime queues one message that is abandoned if it is not
// delivered within lifetime (0: fully reliable). The message is copied. It
// returns ErrBufferFull, without queuing, when the flow's buffer would
// exceed Config.SendBuffer: a live media sender drops the message then.
func (f *SendFlow) WriteWithLifetime(msg []byte, lifetime time.Duration) error {
	return f.write(msg, lifetime, true)
}

// WriteShared is WriteWithLifetime without the copy: the flow keeps msg
// until it is delivered or abandoned, and the caller must never modify it.
// One message can so be written to many flows (a live stream's players).
func (f *SendFlow) WriteShared(msg []byte, lifetime time.Duration) error {
	return f.write(msg, lifetime, false)
}

func (f *SendFlow) write(msg []byte, lifetime time.Duration, copied bool) error {
	if len(msg) > f.s.ep.cfg.MaxMessageSize {
		return ErrMessageTooLarge
	}
	var deadline time.Time
	if lifetime > 0 {
		deadline = time.Now().Add(lifetime)
	}
	f.mu.Lock()
	if f.err != nil {
		err := f.err
		f.mu.Unlock()
		return err
	}
	if f.closeReq {
		f.mu.Unlock()
		return ErrFlowClosed
	}
	if f.pendBuf+f.queued+len(msg) > f.s.ep.cfg.SendBuffer {
		f.mu.Unlock()
		return ErrBufferFull
	}
	if copied {
		msg = append([]byte(nil), msg...)
	}
	f.pending = append(f.pending, pendingMsg{data: msg, deadline: deadline})
	f.pendBuf += len(msg)
	f.rechargeLocked()
	f.mu.Unlock()
	f.s.wakeFlow(f)
	return nil
}

// Buffered is the number of bytes written and not yet acknowledged or
// abandoned.
func (f *SendFlow) Buffered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pendBuf + f.queued
}

// Close ends the flow after what was written: the far end sees the end of
// the flow once everything is delivered or abandoned.
func (f *SendFlow) Close() error {
	f.mu.Lock()
	if f.closeReq || f.err != nil {
		f.mu.Unlock()
		return nil
	}
	f.closeReq = true
	f.mu.Unlock()
	f.s.wakeFlow(f)
	return nil
}

// Done is closed when the flow has ended: closed and fully acknowledged,
// rejected by the far end, or its session ended.
func (f *SendFlow) Done() <-chan struct{} { return f.done }

// Err returns why the flow failed: a *FlowException, or the session's error.
// It is nil for a flow that is open or ended normally.
func (f *SendFlow) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// fail ends the flow with err (session goroutine).
func (f *SendFlow) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.pending = nil
	f.pendBuf, f.queued = 0, 0
	f.rechargeLocked()
	f.mu.Unlock()
	f.finish()
}

// rechargeLocked brings the session's memory account up to date with
// what the flow holds (f.mu held).
func (f *SendFlow) rechargeLocked() {
	if n := f.pendBuf + f.queued; n != f.charged {
		f.s.acct.Add(n - f.charged)
		f.charged = n
	}
}

func (f *SendFlow) finish() {
	if !f.finished {
		f.finished = true
		close(f.done)
	}
}

// takePending moves written messages into the send queue (session
// goroutine).
func (f *SendFlow) takePending() (closeReq bool) {
	f.mu.Lock()
	msgs := f.pending
	f.pending, f.spare = f.spare, nil
	f.pendBuf = 0
	closeReq = f.closeReq
	f.mu.Unlock()
	for _, m := range msgs {
		f.q.Push(m.data, m.deadline)
	}
	clear(msgs)
	f.spare = msgs[:0]
	if closeReq && !f.q.Closed() {
		f.q.Close()
	}
	f.publish()
	return closeReq
}

// publish records the queue's size for Write's buffer check.
func (f *SendFlow) publish() {
	n := f.q.Buffered()
	f.mu.Lock()
	drained := n < f.queued
	f.queued = n
	f.rechargeLocked()
	f.mu.Unlock()
	if drained {
		select {
		case f.space <- struct{}{}:
		default:
		}
	}
}

// WaitBuffer blocks until n more bytes fit in the flow's send buffer, the
// flow ends or ctx is done. A sender that must not drop data calls it when
// Write returns ErrBufferFull.
func (f *SendFlow) WaitBuffer(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		err := f.err
		fits := f.pendBuf+f.queued+n <= f.s.ep.cfg.SendBuffer || f.pendBuf+f.queued == 0
		f.mu.Unlock()
		if err != nil {
			return err
		}
		if fits {
			return nil
		}
		select {
		case <-f.space:
		case <-f.done:
			return f.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// RecvFlow is a flow from the far end to this end. ReadMessage returns its
// messages in order. Its methods are safe for concurrent use.
type RecvFlow struct {
	s        *Session
	id       uint64
	metadata []byte
	assoc    *SendFlow

	mu         sync.Mutex
	msgs       [][]byte
	head       int
	queued     int // bytes of unread messages
	ended      bool
	err        error
	ready      chan struct{}
	dirty      bool // queued for the session goroutine (under s.mu)
	rejectCode uint64
	rejectReq  bool

	// Owned by the session goroutine.
	buf       *recvbuf.Buffer
	ackNeeded bool
	ackNow    bool
	lowWindow bool // the last advertised window was small
	rejected  bool
	complete  bool
	lingerEnd time.Time
	charged   int // memory counted in the session's receive budget
}

// ID is the far end's identifier of the flow.
func (f *RecvFlow) ID() uint64 { return f.id }

// Metadata is the flow metadata the far end sent when opening it.
func (f *RecvFlow) Metadata() []byte { return f.metadata }

// Association is the send flow of this end that the far end associated
// this flow with (its return flow association), or nil.
func (f *RecvFlow) Association() *SendFlow { return f.assoc }

// Session returns the flow's session.
func (f *RecvFlow) Session() *Session { return f.s }

// ReadMessage returns the next message. It returns io.EOF after the last
// message of a flow the far end ended, and the session's error if the
// session ends first.
func (f *RecvFlow) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		if m, ok, err := f.TryRead(); ok || err != nil {
			return m, err
		}
		select {
		case <-f.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryRead returns the next message if one is waiting.
func (f *RecvFlow) TryRead() ([]byte, bool, error) {
	f.mu.Lock()
	if f.head < len(f.msgs) {
		m := f.msgs[f.head]
		f.msgs[f.head] = nil
		f.head++
		if f.head == len(f.msgs) {
			f.msgs, f.head = f.msgs[:0], 0
		}
		f.queued -= len(m)
		wake := f.queued < f.s.ep.cfg.RecvWindow/2
		f.mu.Unlock()
		f.s.read(len(m))
		if wake {
			f.s.windowOpened(f)
		}
		return m, true, nil
	}
	err := f.err
	if err == nil && f.ended {
		err = io.EOF
	}
	f.mu.Unlock()
	return nil, false, err
}

// Reject refuses the flow with a Flow Exception Report carrying code
// (RFC 7016 §2.3.16); the far end stops sending on it.
func (f *RecvFlow) Reject(code uint64) {
	f.mu.Lock()
	f.rejectReq, f.rejectCode = true, code
	f.mu.Unlock()
	f.s.windowOpened(f)
}

func (f *RecvFlow) signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// deliver queues a reassembled message (session goroutine).
func (f *RecvFlow) deliver(m []byte) {
	f.s.read(-len(m))
	f.s.budgetFullAt = time.Time{}
	f.mu.Lock()
	f.queued += len(m)
	if f.s.ordered == nil {
		f.msgs = append(f.msgs, m)
	}
	f.mu.Unlock()
	if q := f.s.ordered; q != nil {
		q.push(arrival{f: f, msg: m})
		return
	}
	f.signal()
}

// consumed releases the window of a message read in order.
func (f *RecvFlow) consumed(n int) {
	f.s.read(n)
	f.mu.Lock()
	f.queued -= n
	wake := f.queued < f.s.ep.cfg.RecvWindow/2
	f.mu.Unlock()
	if wake {
		f.s.windowOpened(f)
	}
}

// end marks the flow finished (err nil: normal end).
func (f *RecvFlow) end(err error) {
	f.mu.Lock()
	first := !f.ended && f.err == nil
	if first {
		f.ended = true
		f.err = err
	}
	f.mu.Unlock()
	if q := f.s.ordered; q != nil && first {
		if err == nil {
			err = io.EOF
		}
		q.push(arrival{f: f, err: err})
		return
	}
	f.signal()
}

// window returns the receive window to advertise, in bytes: the flow's
// own, within what is left of the session's receive budget.
func (f *RecvFlow) window() int {
	return max(min(f.flowWindow(), f.s.recvFree()), 0)
}

// flowWindow is the flow's own receive window.
func (f *RecvFlow) flowWindow() int {
	f.mu.Lock()
	q := f.queued
	f.mu.Unlock()
	return max(f.s.ep.cfg.RecvWindow-q-f.buf.Held(), 0)
}

// encodeFlowOptions builds a send flow's option list.
func encodeFlowOptions(metadata []byte, assoc *RecvFlow) []byte {
	o := wire.UserDataOptions{Metadata: metadata}
	if assoc != nil {
		o.ReturnAssociation, o.HasReturnAssociation = assoc.id, true
	}
	return o.Append(nil)
}
