package wire

import "github.com/rtmfpd/rtmfpd/vlu"

// Data Acknowledgement Ranges chunk, type 0x51 (RFC 7016 §2.3.14), the
// acknowledgement every recorded implementation sends:
//
//	+--------+-----------------------+---------------+-----------------------------------+
//	| flowID | bufferBlocksAvailable | cumulativeAck | holesMinusOne, receivedMinusOne … |
//	| VLU    | VLU                   | VLU           | VLU pairs, to the end of chunk    |
//	+--------+-----------------------+---------------+-----------------------------------+
//
// Example from MonaServer2: 51 00 05 | 02 83fe7f 01 = flow 2, 65407 blocks,
// everything up to 1 received, no ranges.

// ParseAckRanges parses a Range Ack chunk value (see ParseAckInto).
func ParseAckRanges(v []byte) (Ack, error) { return ParseAck(TypeAckRanges, v) }

// parseAckRanges reads a Range Ack into a. A pair cut in half is an error
// (ErrTruncated); a range that would pass sequence number 2^64-1 is
// ErrAckOverflow.
func parseAckRanges(v []byte, a *Ack) error {
	off, err := parseAckHead(v, a)
	if err != nil {
		return err
	}
	pos := a.CumulativeAck
	for off < len(v) && len(a.Ranges) < MaxAckRanges {
		var h, r uint64
		if h, off, err = readVLU(v, off); err != nil {
			return err
		}
		if r, off, err = readVLU(v, off); err != nil {
			return err
		}
		// Counts are wire+1; the range must stay within uint64.
		if h == ^uint64(0) || r == ^uint64(0) {
			return ErrAckOverflow
		}
		h, r = h+1, r+1
		if h > ^uint64(0)-pos || r > ^uint64(0)-pos-h {
			return ErrAckOverflow
		}
		pos += h + r
		a.Ranges = append(a.Ranges, AckRange{Holes: h, Received: r})
	}
	return nil
}

func (a Ack) rangesValueLen() int {
	n := a.headLen()
	for _, r := range a.Ranges {
		n += vlu.Len(atLeast1(r.Holes)-1) + vlu.Len(atLeast1(r.Received)-1)
	}
	return n
}

// RangesLen returns the encoded size of the Range Ack chunk, header included.
func (a Ack) RangesLen() int { return ChunkHeaderLen + a.rangesValueLen() }

// AppendRanges appends a as a Range Ack chunk, header included.
func (a Ack) AppendRanges(b []byte) []byte {
	b = appendChunkHeader(b, TypeAckRanges, a.rangesValueLen())
	b = a.appendHead(b)
	for _, r := range a.Ranges {
		b = vlu.Append(b, atLeast1(r.Holes)-1)
		b = vlu.Append(b, atLeast1(r.Received)-1)
	}
	return b
}

// AckRanges is an Ack to be written as a Range Ack chunk, for code that
// handles every chunk through Append and Len: AckRanges(a).Append(b) is
// a.AppendRanges(b).
type AckRanges Ack

// Len returns the encoded size of the chunk, header included.
func (c AckRanges) Len() int { return Ack(c).RangesLen() }

// Append appends the whole chunk, header included, to b.
func (c AckRanges) Append(b []byte) []byte { return Ack(c).AppendRanges(b) }
