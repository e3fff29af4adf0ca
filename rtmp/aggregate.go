package rtmp

import (
	"encoding/binary"
	"fmt"

	"github.com/rtmfpd/rtmfpd/media"
)

// MaxAggregateParts is the largest number of sub-messages accepted in one
// aggregate message.
const MaxAggregateParts = 1024

// aggregateHeader is the size of a sub-message header in an aggregate: type,
// 3-byte size, 4-byte timestamp (24 bits then the high 8), 3-byte stream ID.
const aggregateHeader = 11

// SplitAggregate splits an aggregate message (type 22, §7.1.6) into its
// sub-messages. Each sub-message carries a header like an FLV tag's and is
// followed by a 4-byte back pointer. Sub-message timestamps are rebased so
// that the first one gets the aggregate's timestamp and the others keep
// their offsets from it; their stream IDs are the aggregate's. Payloads
// share the aggregate's memory.
func SplitAggregate(agg media.Message) ([]media.Message, error) {
	p := agg.Payload
	var out []media.Message
	var first uint32
	for off := 0; off < len(p); {
		if len(out) == MaxAggregateParts {
			return nil, fmt.Errorf("%w: aggregate of more than %d messages", ErrMalformed, MaxAggregateParts)
		}
		if len(p)-off < aggregateHeader {
			return nil, fmt.Errorf("%w: aggregate sub-message header truncated at %d of %d bytes", ErrMalformed, off, len(p))
		}
		h := p[off : off+aggregateHeader]
		typ := h[0]
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
		switch typ {
		case media.TypeAudio, media.TypeVideo, media.TypeDataAMF0, media.TypeDataAMF3:
		default:
			return nil, fmt.Errorf("%w: aggregate sub-message of type %d", ErrMalformed, typ)
		}
		off += aggregateHeader
		if size > len(p)-off {
			return nil, fmt.Errorf("%w: aggregate sub-message of %d bytes with %d left", ErrMalformed, size, len(p)-off)
		}
		if len(out) == 0 {
			first = ts
		}
		out = append(out, media.Message{
			Type:      typ,
			Timestamp: agg.Timestamp + (ts - first),
			Payload:   p[off : off+size : off+size],
		})
		off += size
		// The back pointer (size of the previous sub-message with its
		// header) is not needed to split; it must be there, though.
		if len(p)-off < 4 {
			return nil, fmt.Errorf("%w: aggregate back pointer truncated", ErrMalformed)
		}
		off += 4
	}
	return out, nil
}

// AggregateMessage builds an aggregate message of msgs, with the first
// message's timestamp; stream IDs inside are zero.
func AggregateMessage(msgs []media.Message) media.Message {
	var b []byte
	var ts uint32
	for i, m := range msgs {
		if i == 0 {
			ts = m.Timestamp
		}
		n := len(m.Payload)
		b = append(b, m.Type, byte(n>>16), byte(n>>8), byte(n),
			byte(m.Timestamp>>16), byte(m.Timestamp>>8), byte(m.Timestamp), byte(m.Timestamp>>24), 0, 0, 0)
		b = append(b, m.Payload...)
		b = binary.BigEndian.AppendUint32(b, uint32(aggregateHeader+n))
	}
	return media.Message{Type: media.TypeAggregate, Timestamp: ts, Payload: b}
}
