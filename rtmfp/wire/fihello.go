package wire

// FIHello is the Forwarded Initiator Hello chunk, type 0x0F
// (RFC 7016 §2.3.3). A server that receives an IHello for a peer it has a
// session with forwards it to that peer inside the session, with the
// initiator's address, so the peer can answer the initiator directly:
//
//	+-----------+-----------------------+--------------------+---------------+
//	| epdLength | endpointDiscriminator | replyAddress       | tag           |
//	| VLU       |                       | Address (§2.3.5)   | rest of chunk |
//	+-----------+-----------------------+--------------------+---------------+
//
// Slices alias the parsed input.
type FIHello struct {
	EPD          []byte
	ReplyAddress Address
	Tag          []byte
}

// ParseFIHello parses an FIHello chunk value.
func ParseFIHello(v []byte) (FIHello, error) {
	epd, off, err := readBytes(v, 0)
	if err != nil {
		return FIHello{}, err
	}
	addr, n, err := ParseAddress(v[off:])
	if err != nil {
		return FIHello{}, err
	}
	return FIHello{EPD: epd, ReplyAddress: addr, Tag: rest(v, off+n)}, nil
}

func (c FIHello) valueLen() int { return bytesLen(c.EPD) + c.ReplyAddress.Len() + len(c.Tag) }

// Len returns the encoded size of the chunk, header included.
func (c FIHello) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c FIHello) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeFIHello, c.valueLen())
	b = appendBytes(b, c.EPD)
	b = c.ReplyAddress.Append(b)
	return append(b, c.Tag...)
}
