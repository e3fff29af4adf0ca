package wire

import "encoding/binary"

// IIKeying is the Initiator Initial Keying chunk, type 0x38
// (RFC 7016 §2.3.7), the initiator's second handshake message:
//
//	+--------------------+--------------+-------------+
//	| initiatorSessionID | cookieLength | cookieEcho  |
//	| 4 bytes            | VLU          |             |
//	+--------------------+--------------+-------------+
//	| certLength | initiatorCertificate | skicLength | sessionKeyInitiatorComponent |
//	| VLU        |                      | VLU        |                              |
//	+------------+----------------------+------------+------------------------------+
//	| signature (rest of chunk)                                                     |
//	+-------------------------------------------------------------------------------+
//
// InitiatorSessionID is the session ID the initiator wants to receive in
// packets sent to it; it is read and written big-endian (the bytes are
// opaque to the protocol, and peers copy them verbatim). Slices alias the
// parsed input.
type IIKeying struct {
	InitiatorSessionID uint32
	Cookie             []byte
	Certificate        []byte
	SKIC               []byte
	Signature          []byte
}

// ParseIIKeying parses an IIKeying chunk value.
func ParseIIKeying(v []byte) (IIKeying, error) {
	if len(v) < 4 {
		return IIKeying{}, ErrTruncated
	}
	c := IIKeying{InitiatorSessionID: binary.BigEndian.Uint32(v)}
	var err error
	off := 4
	if c.Cookie, off, err = readBytes(v, off); err != nil {
		return IIKeying{}, err
	}
	if c.Certificate, off, err = readBytes(v, off); err != nil {
		return IIKeying{}, err
	}
	if c.SKIC, off, err = readBytes(v, off); err != nil {
		return IIKeying{}, err
	}
	c.Signature = rest(v, off)
	return c, nil
}

func (c IIKeying) valueLen() int {
	return 4 + bytesLen(c.Cookie) + bytesLen(c.Certificate) + bytesLen(c.SKIC) + len(c.Signature)
}

// Len returns the encoded size of the chunk, header included.
func (c IIKeying) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c IIKeying) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeIIKeying, c.valueLen())
	b = binary.BigEndian.AppendUint32(b, c.InitiatorSessionID)
	b = appendBytes(b, c.Cookie)
	b = appendBytes(b, c.Certificate)
	b = appendBytes(b, c.SKIC)
	return append(b, c.Signature...)
}
