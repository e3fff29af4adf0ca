package netgroup

import "errors"

// Flow exception codes this package sends when it refuses a flow (RFC 7016
// §2.3.16 leaves their meaning to the application; librtmfp sends an
// exception without a meaningful code and Flash's values are unknown).
const (
	// RejectUnsupported refuses a flow nobody handles.
	RejectUnsupported uint64 = 0
	// RejectHandshake refuses a group init: wrong group, peer ID or key,
	// or no group of that ID on this endpoint.
	RejectHandshake uint64 = 1
	// RejectFull refuses a group init when the neighbour limit is reached.
	RejectFull uint64 = 2
	// RejectAskClose answers an accepted "please disconnect" (0C): the
	// asker, seeing its GR 1C flow refused, closes the session, as librtmfp
	// does.
	RejectAskClose uint64 = 3
	// RejectDuplicate refuses a second group handshake with the same peer.
	RejectDuplicate uint64 = 4
)

// Errors a Member reports.
var (
	// ErrClosed is returned by operations on a closed member, and is the
	// reason given for neighbours dropped when it closes.
	ErrClosed = errors.New("netgroup: member closed")
	// ErrDuplicateGroup is returned by Join when the endpoint already has a
	// member of the group.
	ErrDuplicateGroup = errors.New("netgroup: the endpoint is already a member of the group")
	// ErrLeft is the reason of a neighbour that ended its GR 1C flow or
	// its session.
	ErrLeft = errors.New("netgroup: neighbour left")
	// ErrAskedToClose is the reason of a neighbour dropped because it asked
	// to be disconnected (0C) and this member agreed.
	ErrAskedToClose = errors.New("netgroup: neighbour asked to disconnect")
	// ErrRefused is the reason of a neighbour that refused the group
	// handshake or accepted our request to disconnect (a flow exception on
	// our GR 1C flow).
	ErrRefused = errors.New("netgroup: neighbour refused the group flow")
	// ErrHandshakeTimeout is the reason of a group handshake that did not
	// complete within Config.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("netgroup: group handshake timed out")
	// ErrReplaced is the reason of a neighbour whose group handshake moved
	// to another session with the same peer.
	ErrReplaced = errors.New("netgroup: neighbour moved to another session")
	// ErrBadInit is returned for a group init whose group, recipient or key
	// is wrong.
	ErrBadInit = errors.New("netgroup: group init refused")
)
