package wire

// RHello is the Responder Hello chunk, type 0x70 (RFC 7016 §2.3.4), the
// answer to an IHello:
//
//	+-----------+---------+--------------+--------+-------------------------+
//	| tagLength | tagEcho | cookieLength | cookie | responderCertificate    |
//	| VLU       |         | VLU          |        | rest of chunk           |
//	+-----------+---------+--------------+--------+-------------------------+
//
// Flash and librtmfp expect a 64-byte cookie and a 77-byte certificate.
// Slices alias the parsed input.
type RHello struct {
	Tag         []byte
	Cookie      []byte
	Certificate []byte
}

// ParseRHello parses an RHello chunk value.
func ParseRHello(v []byte) (RHello, error) {
	tag, off, err := readBytes(v, 0)
	if err != nil {
		return RHello{}, err
	}
	cookie, off, err := readBytes(v, off)
	if err != nil {
		return RHello{}, err
	}
	return RHello{Tag: tag, Cookie: cookie, Certificate: rest(v, off)}, nil
}

func (c RHello) valueLen() int { return bytesLen(c.Tag) + bytesLen(c.Cookie) + len(c.Certificate) }

// Len returns the encoded size of the chunk, header included.
func (c RHello) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c RHello) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeRHello, c.valueLen())
	b = appendBytes(b, c.Tag)
	b = appendBytes(b, c.Cookie)
	return append(b, c.Certificate...)
}
