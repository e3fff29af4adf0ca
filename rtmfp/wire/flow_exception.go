package wire

import "github.com/rtmfpd/rtmfpd/vlu"

// FlowException is the Flow Exception Report chunk, type 0x5E
// (RFC 7016 §2.3.16): the receiver of a flow tells its sender to stop.
//
//	+---------+---------------+
//	| flowID  | exceptionCode |
//	| VLU     | VLU           |
//	+---------+---------------+
//
// The code is application defined (Cumulus and librtmfp send 0). Bytes after
// exceptionCode are ignored, so re-encoding drops them.
type FlowException struct {
	FlowID uint64
	Code   uint64
}

// ParseFlowException parses a Flow Exception Report chunk value.
func ParseFlowException(v []byte) (FlowException, error) {
	id, off, err := readVLU(v, 0)
	if err != nil {
		return FlowException{}, err
	}
	code, _, err := readVLU(v, off)
	if err != nil {
		return FlowException{}, err
	}
	return FlowException{FlowID: id, Code: code}, nil
}

func (c FlowException) valueLen() int { return vlu.Len(c.FlowID) + vlu.Len(c.Code) }

// Len returns the encoded size of the chunk, header included.
func (c FlowException) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c FlowException) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeFlowException, c.valueLen())
	b = vlu.Append(b, c.FlowID)
	return vlu.Append(b, c.Code)
}
