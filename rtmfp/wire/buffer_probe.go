package wire

import "github.com/rtmfpd/rtmfpd/vlu"

// BufferProbe is the Buffer Probe chunk, type 0x18 (RFC 7016 §2.3.15): the
// sender of a flow whose receiver advertised no buffer asks for a fresh
// acknowledgement.
//
//	+---------+
//	| flowID  |
//	| VLU     |
//	+---------+
//
// Bytes after flowID are ignored (as rtmfp-cpp does), so re-encoding drops
// them. Note: Cumulus and librtmfp close the session when they receive one.
type BufferProbe struct {
	FlowID uint64
}

// ParseBufferProbe parses a Buffer Probe chunk value.
func ParseBufferProbe(v []byte) (BufferProbe, error) {
	id, _, err := readVLU(v, 0)
	if err != nil {
		return BufferProbe{}, err
	}
	return BufferProbe{FlowID: id}, nil
}

// Len returns the encoded size of the chunk, header included.
func (c BufferProbe) Len() int { return ChunkHeaderLen + vlu.Len(c.FlowID) }

// Append appends the whole chunk, header included, to b.
func (c BufferProbe) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeBufferProbe, vlu.Len(c.FlowID))
	return vlu.Append(b, c.FlowID)
}
