package wire

// NextUserData is the Next User Data chunk, type 0x11 (RFC 7016 §2.3.12). It
// may follow a User Data or Next User Data chunk in the same packet and
// stands for a User Data chunk of the same flow with the next sequence number
// and the same forward sequence number (so fsnOffset one higher):
//
//	+-------+----------------------+----------+
//	| flags | options … marker     | userData |
//	| u8    | only if flags & 0x80 | rest     |
//	+-------+----------------------+----------+
//
// Options and Data alias the parsed input; Options is nil without
// FlagOptions.
type NextUserData struct {
	Flags   byte
	Options []byte
	Data    []byte
}

// ParseNextUserData parses a Next User Data chunk value without allocating.
func ParseNextUserData(v []byte) (NextUserData, error) {
	if len(v) < 1 {
		return NextUserData{}, ErrTruncated
	}
	c := NextUserData{Flags: v[0]}
	opts, off, err := readOptions(v, 1, c.Flags)
	if err != nil {
		return NextUserData{}, err
	}
	c.Options, c.Data = opts, rest(v, off)
	return c, nil
}

// Expand returns the User Data chunk that c stands for, given the chunk
// before it in the packet (a UserData, or the expansion of the previous
// NextUserData).
func (c NextUserData) Expand(prev UserData) UserData {
	return UserData{
		Flags:     c.Flags,
		FlowID:    prev.FlowID,
		Seq:       prev.Seq + 1,
		FSNOffset: prev.FSNOffset + 1,
		Options:   c.Options,
		Data:      c.Data,
	}
}

func (c NextUserData) valueLen() int { return 1 + len(c.Options) + len(c.Data) }

// Len returns the encoded size of the chunk, header included.
func (c NextUserData) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b. As for UserData,
// FlagOptions is written set exactly when Options is non-empty.
func (c NextUserData) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeNextUserData, c.valueLen())
	b = append(b, flagsFor(c.Flags, c.Options))
	b = append(b, c.Options...)
	return append(b, c.Data...)
}
