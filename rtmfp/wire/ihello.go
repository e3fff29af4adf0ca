package wire

// IHello is the Initiator Hello chunk, type 0x30 (RFC 7016 §2.3.2), sent in
// startup packets (session ID 0) to open a session:
//
//	+------------+--------------------------+-----------------+
//	| epdLength  | endpointDiscriminator    | tag             |
//	| VLU        | epdLength bytes          | rest of chunk   |
//	+------------+--------------------------+-----------------+
//
// The Flash profile's EPD is an option list (0x0A = URL or path, 0x0F = peer
// ID) and its tag is 16 random bytes. Slices alias the parsed input.
type IHello struct {
	EPD []byte
	Tag []byte
}

// ParseIHello parses an IHello chunk value.
func ParseIHello(v []byte) (IHello, error) {
	epd, off, err := readBytes(v, 0)
	if err != nil {
		return IHello{}, err
	}
	return IHello{EPD: epd, Tag: rest(v, off)}, nil
}

func (c IHello) valueLen() int { return bytesLen(c.EPD) + len(c.Tag) }

// Len returns the encoded size of the chunk, header included.
func (c IHello) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c IHello) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeIHello, c.valueLen())
	b = appendBytes(b, c.EPD)
	return append(b, c.Tag...)
}
