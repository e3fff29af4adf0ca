package wire

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// MaxAckRanges caps the ranges an Ack keeps when parsed. Further ranges in a
// chunk are dropped without error: acknowledging fewer sequence numbers than
// the receiver holds is always safe (the sender only learns less), and it
// bounds the work and memory an ack can cost.
const MaxAckRanges = 256

// ErrNotAck is returned by ParseAck and ParseAckInto for a chunk type other
// than TypeAckBitmap and TypeAckRanges.
var ErrNotAck = errors.New("wire: not an acknowledgement chunk")

// AckRange is one run after the cumulative acknowledgement: Holes sequence
// numbers not received, then Received sequence numbers received. Both are
// actual counts (at least 1); the Range Ack chunk carries each minus one.
type AckRange struct {
	Holes    uint64
	Received uint64
}

// Ack is the in-memory form of both acknowledgement chunks (RFC 7016
// §2.3.13, §2.3.14). Everything up to CumulativeAck is received (or
// abandoned); CumulativeAck+1 is missing. Ranges then walk upward from
// CumulativeAck+1: each skips Holes missing sequence numbers and covers
// Received present ones. Sequence numbers after the last range are unknown.
//
// BufferBlocksAvailable is the receive window in 1024-byte blocks.
// librtmfp and Cumulus close the session when an open writer is acked with 0.
//
// Example: CumulativeAck 10, Ranges {2,3} {1,1} means 1–10 received, 11–12
// missing, 13–15 received, 16 missing, 17 received.
//
// Encoders require Holes and Received to be at least 1 and write a 0 as 1.
type Ack struct {
	FlowID                uint64
	BufferBlocksAvailable uint64
	CumulativeAck         uint64
	Ranges                []AckRange
}

// ParseAck parses an acknowledgement chunk value of type TypeAckBitmap or
// TypeAckRanges.
func ParseAck(typ byte, v []byte) (Ack, error) {
	var a Ack
	err := ParseAckInto(typ, v, &a)
	return a, err
}

// ParseAckInto parses an acknowledgement chunk value of type TypeAckBitmap or
// TypeAckRanges into a, reusing a.Ranges' backing array: once it has grown to
// the ranges a peer sends (at most MaxAckRanges), parsing allocates nothing.
// At most MaxAckRanges ranges are kept; the rest of the chunk is not read.
// On error *a holds no ranges and zero fields.
func ParseAckInto(typ byte, v []byte, a *Ack) error {
	var err error
	switch typ {
	case TypeAckRanges:
		err = parseAckRanges(v, a)
	case TypeAckBitmap:
		err = parseAckBitmap(v, a)
	default:
		err = ErrNotAck
	}
	if err != nil {
		*a = Ack{Ranges: a.Ranges[:0]}
	}
	return err
}

// parseAckHead reads the three VLUs both acknowledgement chunks start with.
func parseAckHead(v []byte, a *Ack) (int, error) {
	var err error
	off := 0
	a.Ranges = a.Ranges[:0]
	if a.FlowID, off, err = readVLU(v, off); err != nil {
		return off, err
	}
	if a.BufferBlocksAvailable, off, err = readVLU(v, off); err != nil {
		return off, err
	}
	if a.CumulativeAck, off, err = readVLU(v, off); err != nil {
		return off, err
	}
	return off, nil
}

func (a Ack) headLen() int {
	return vlu.Len(a.FlowID) + vlu.Len(a.BufferBlocksAvailable) + vlu.Len(a.CumulativeAck)
}

func (a Ack) appendHead(b []byte) []byte {
	b = vlu.Append(b, a.FlowID)
	b = vlu.Append(b, a.BufferBlocksAvailable)
	return vlu.Append(b, a.CumulativeAck)
}

// atLeast1 returns n, or 1 when n is 0.
func atLeast1(n uint64) uint64 { return max(n, 1) }
