package multicast

import "errors"

// NeighborID names a neighbour of a Node. The caller chooses the values
// (one per P2P session of the group; 0 is reserved) and maps them to its
// sessions and flows.
type NeighborID uint64

// Flow tells the transport which of the two per-neighbour flows of a stream
// a message goes on.
type Flow uint8

// The two flows of a multicast stream towards one neighbour.
const (
	// FlowReport is the "GR 11" media report flow: stream info, fragments
	// maps, push and pull requests. It should be reliable.
	FlowReport Flow = iota
	// FlowMedia is the "GR 12" media flow (associated with the report flow
	// of the neighbour): the fragments. It may be partially reliable; the
	// engine repairs losses by pulling.
	FlowMedia
)

// String returns "report" or "media".
func (f Flow) String() string {
	if f == FlowMedia {
		return "media"
	}
	return "report"
}

// Transport is the seam between a Node and the sessions that carry its
// messages. The caller implements it.
//
// Send must not block: under back-pressure the transport may drop the
// message (the engine repairs media by pulling and resends maps and
// requests periodically). Send must not call back into the Node. The
// transport must not modify msg. A FlowMedia message is an immutable buffer
// the transport may keep; a FlowReport message is only valid until Send
// returns and must be copied to be kept.
type Transport interface {
	Send(to NeighborID, flow Flow, msg []byte)
}

// Source says where a fragment came from, for the statistics.
type Source uint8

// Fragment sources other than neighbours (HandleFragment).
const (
	// SourceServer is a fragment received from a server over a
	// client-server stream (Flash's "received from server" counters).
	SourceServer Source = iota + 1
	// SourceIPMulticast is a fragment received from native IP multicast.
	SourceIPMulticast
)

// Errors returned by Node.
var (
	ErrNotPublisher     = errors.New("multicast: node is not the publisher")
	ErrPublisher        = errors.New("multicast: node is the publisher")
	ErrClosed           = errors.New("multicast: stream closed")
	ErrTooManyNeighbors = errors.New("multicast: too many neighbours")
	ErrUnknownNeighbor  = errors.New("multicast: unknown neighbour")
	ErrNeighborID       = errors.New("multicast: neighbour ID 0 is reserved")
	ErrUnexpected       = errors.New("multicast: unexpected message on this flow")
)
