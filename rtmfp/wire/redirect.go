package wire

// Redirect is the Responder Redirect chunk, type 0x71 (RFC 7016 §2.3.5),
// sent instead of an RHello to point the initiator at other addresses (the
// introduction of a peer by a server):
//
//	+-----------+---------+--------------------------------------+
//	| tagLength | tagEcho | redirectDestination (Address) …      |
//	| VLU       |         | zero or more, to the end of chunk    |
//	+-----------+---------+--------------------------------------+
//
// An empty list means "use the address this packet came from". Tag aliases
// the parsed input; Addresses is a new slice sized to the addresses found.
type Redirect struct {
	Tag       []byte
	Addresses []Address
}

// ParseRedirect parses a Redirect chunk value.
func ParseRedirect(v []byte) (Redirect, error) {
	tag, off, err := readBytes(v, 0)
	if err != nil {
		return Redirect{}, err
	}
	// Validate and count first so the slice is allocated once, at its size.
	count := 0
	for p := off; p < len(v); count++ {
		_, n, err := ParseAddress(v[p:])
		if err != nil {
			return Redirect{}, err
		}
		p += n
	}
	r := Redirect{Tag: tag}
	if count > 0 {
		r.Addresses = make([]Address, 0, count)
		for p := off; p < len(v); {
			a, n, _ := ParseAddress(v[p:])
			r.Addresses = append(r.Addresses, a)
			p += n
		}
	}
	return r, nil
}

func (c Redirect) valueLen() int {
	n := bytesLen(c.Tag)
	for _, a := range c.Addresses {
		n += a.Len()
	}
	return n
}

// Len returns the encoded size of the chunk, header included.
func (c Redirect) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b.
func (c Redirect) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeRedirect, c.valueLen())
	b = appendBytes(b, c.Tag)
	for _, a := range c.Addresses {
		b = a.Append(b)
	}
	return b
}
