package rtmfp

import (
	"errors"
	"fmt"
)

var (
	// ErrEndpointClosed is returned by operations on a closed endpoint.
	ErrEndpointClosed = errors.New("rtmfp: endpoint closed")
	// ErrSessionClosed is returned by operations on a closed session.
	ErrSessionClosed = errors.New("rtmfp: session closed")
	// ErrTimeout is returned when a session or handshake made no progress
	// within its limit.
	ErrTimeout = errors.New("rtmfp: timed out")
	// ErrAbandoned is the error of a session dropped at endpoint shutdown
	// because the far end answered nothing: it is gone, or unreachable.
	ErrAbandoned = errors.New("rtmfp: session abandoned: no answer to the close")
	// ErrFarClose is the error of a session the far end closed.
	ErrFarClose = errors.New("rtmfp: session closed by the far end")
	// ErrBufferFull is returned by a write that would exceed a flow's send
	// buffer.
	ErrBufferFull = errors.New("rtmfp: flow send buffer full")
	// ErrFlowClosed is returned by a write on a flow that was closed.
	ErrFlowClosed = errors.New("rtmfp: flow closed")
	// ErrTooManyFlows is returned when a session has as many flows as its
	// configuration allows.
	ErrTooManyFlows = errors.New("rtmfp: too many flows")
	// ErrTooManySessions is returned when the endpoint is at its session cap.
	ErrTooManySessions = errors.New("rtmfp: too many sessions")
	// ErrMessageTooLarge is returned by a write of a message larger than
	// the configured maximum.
	ErrMessageTooLarge = errors.New("rtmfp: message too large")
	// ErrRecvBudget is the error of a session closed because its receive
	// buffers filled its Config.SessionRecvBudget with data that could not
	// be delivered (unfinished messages, out-of-order data).
	ErrRecvBudget = errors.New("rtmfp: receive budget exhausted by undeliverable data")
	// ErrStalled is the error of a session whose data made no
	// acknowledged progress within Config.RetransmitLimit.
	ErrStalled = fmt.Errorf("%w: no acknowledged progress", ErrTimeout)
)

// FlowException is the error of a send flow the far end rejected with a Flow
// Exception Report (RFC 7016 §2.3.16).
type FlowException struct {
	FlowID uint64
	Code   uint64
}

func (e *FlowException) Error() string {
	return fmt.Sprintf("rtmfp: flow %d rejected by the far end (exception code %d)", e.FlowID, e.Code)
}
