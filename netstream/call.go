package netstream

import (
	"context"
	"errors"
	"sync"

	"github.com/rtmfpd/rtmfpd/amf"
)

// maxCalls bounds the server's calls a connection waits answers for.
const maxCalls = 16

// Errors of Conn.Call.
var (
	// ErrCallFailed: the client answered _error (or has no such method).
	ErrCallFailed = errors.New("netstream: the client's method failed")
	// ErrConnClosed: the connection ended before the answer.
	ErrConnClosed = errors.New("netstream: connection closed")
	// ErrTooManyCalls: maxCalls calls are waiting already.
	ErrTooManyCalls = errors.New("netstream: too many calls waiting")
)

// calls are the server's calls to the client waiting for _result or
// _error (FMS's Client.call with a responder).
type calls struct {
	mu      sync.Mutex
	next    float64
	pending map[float64]chan callAnswer
	closed  bool
}

type callAnswer struct {
	ok   bool
	args []amf.Value
}

// Call calls the client's method name (a NetConnection client method, as
// FMS's Client.call does) and returns the values of its _result. An
// _error answer is ErrCallFailed.
func (c *Conn) Call(ctx context.Context, name string, args ...amf.Value) ([]amf.Value, error) {
	cs := &c.calls
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil, ErrConnClosed
	}
	if len(cs.pending) >= maxCalls {
		cs.mu.Unlock()
		return nil, ErrTooManyCalls
	}
	if cs.pending == nil {
		cs.pending = map[float64]chan callAnswer{}
	}
	// Transaction IDs of their own, far from the client's.
	cs.next++
	txn := 1e9 + cs.next
	ch := make(chan callAnswer, 1)
	cs.pending[txn] = ch
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		delete(cs.pending, txn)
		cs.mu.Unlock()
	}()
	m, err := EncodeCommand(name, txn, nil, args...)
	if err != nil {
		return nil, err
	}
	if err := c.t.Send(0, m); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		if a.args == nil && !a.ok {
			return nil, ErrConnClosed
		}
		if !a.ok {
			return a.args, ErrCallFailed
		}
		return a.args, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Invoke calls the client's method name without waiting for an answer
// (FMS's Client.call without a responder).
func (c *Conn) Invoke(name string, args ...amf.Value) error {
	m, err := EncodeCommand(name, 0, nil, args...)
	if err != nil {
		return err
	}
	return c.t.Send(0, m)
}

// answered delivers the client's answer to a call.
func (c *Conn) answered(cmd Command) {
	cs := &c.calls
	cs.mu.Lock()
	ch := cs.pending[cmd.TxnID]
	delete(cs.pending, cmd.TxnID)
	cs.mu.Unlock()
	if ch != nil {
		ch <- callAnswer{ok: cmd.Name == "_result", args: append([]amf.Value{cmd.Object}, cmd.Args...)}
	}
}

// fail ends the calls waiting when the connection closes.
func (cs *calls) fail() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for txn, ch := range cs.pending {
		delete(cs.pending, txn)
		ch <- callAnswer{}
	}
}
