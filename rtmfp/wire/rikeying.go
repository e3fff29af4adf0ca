package wire

import "encoding/binary"

// RIKeying is the Responder Initial Keying chunk, type 0x78
// (RFC 7016 §2.3.8), the responder's answer to an IIKeying:
//
//	+--------------------+------------+------------------------------+-----------+
//	| responderSessionID | skrcLength | sessionKeyResponderComponent | signature |
//	| 4 bytes            | VLU        |                              | rest      |
//	+--------------------+------------+------------------------------+-----------+
//
// ResponderSessionID is read and written big-endian, like
// IIKeying.InitiatorSessionID. Slices alias the parsed input.
type RIKeying struct {
	ResponderSessionID uint32
	SKRC               []byte
	Signature          []byte
}

// ParseRIKeying parses an RIKeying chunk value.
func ParseRIKeying(v []byte) (RIKeying, error) {
	if len(v) < 4 {
		return RIKeying{}, ErrTruncated
	}
	skrc, off, err := readBytes(v, 4)
	if err != nil {
		return RIKeying{}, err
	}
	return RIKeying{ResponderSessionID: binary.BigEndian.Uint32(v), SKRC: skrc, Signature: rest(v, off)}, nil
}

func (c RIKeying) valueLen() int { return 4 + bytesLen(c.SKRC) + len(c.Signature) }

// Len returns the encoded size of the chunk, header included.
func (c RIKeying) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c RIKeying) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeRIKeying, c.valueLen())
	b = binary.BigEndian.AppendUint32(b, c.ResponderSessionID)
	b = appendBytes(b, c.SKRC)
	return append(b, c.Signature...)
}
