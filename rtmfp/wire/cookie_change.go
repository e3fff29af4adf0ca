package wire

// CookieChange is the RHello Cookie Change chunk, type 0x79
// (RFC 7016 §2.3.6), sent by a responder (in a startup packet carrying the
// initiator's session ID) when an IIKeying echoed a cookie that is still
// acceptable but stale:
//
//	+-----------------+-----------+-----------------------+
//	| oldCookieLength | oldCookie | newCookie             |
//	| VLU             |           | rest of chunk         |
//	+-----------------+-----------+-----------------------+
//
// Slices alias the parsed input.
type CookieChange struct {
	OldCookie []byte
	NewCookie []byte
}

// ParseCookieChange parses a Cookie Change chunk value.
func ParseCookieChange(v []byte) (CookieChange, error) {
	old, off, err := readBytes(v, 0)
	if err != nil {
		return CookieChange{}, err
	}
	return CookieChange{OldCookie: old, NewCookie: rest(v, off)}, nil
}

func (c CookieChange) valueLen() int { return bytesLen(c.OldCookie) + len(c.NewCookie) }

// Len returns the encoded size of the chunk, header included.
func (c CookieChange) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c CookieChange) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeCookieChange, c.valueLen())
	b = appendBytes(b, c.OldCookie)
	return append(b, c.NewCookie...)
}
