package wire

import "github.com/rtmfpd/rtmfpd/vlu"

// User Data flags (RFC 7016 §2.3.11). Bits 0x40 and 0x0C are reserved.
const (
	FlagOptions  byte = 0x80 // OPT: an option list follows the header fields
	FragmentMask byte = 0x30 // FRA: fragment control
	FragWhole    byte = 0x00 // the chunk holds a whole message
	FragFirst    byte = 0x10 // first fragment of a message (more follow)
	FragLast     byte = 0x20 // last fragment of a message
	FragMiddle   byte = 0x30 // a middle fragment
	FlagAbandon  byte = 0x02 // ABN: the sequence number is abandoned
	FlagFinal    byte = 0x01 // FIN: last sequence number of the flow
)

// UserData is the User Data chunk, type 0x10 (RFC 7016 §2.3.11): one message
// fragment of a flow.
//
//	+-------+--------+----------------+-----------+----------------------+----------+
//	| flags | flowID | sequenceNumber | fsnOffset | options … marker     | userData |
//	| u8    | VLU    | VLU            | VLU       | only if flags & 0x80 | rest     |
//	+-------+--------+----------------+-----------+----------------------+----------+
//
// fsnOffset = sequenceNumber - forwardSequenceNumber, where the forward
// sequence number is the highest one below which the sender will not
// retransmit. Options is the raw option list, marker included (see
// UserDataOptions); it is nil when flags lacks FlagOptions. Options and Data
// alias the parsed input.
type UserData struct {
	Flags     byte
	FlowID    uint64
	Seq       uint64
	FSNOffset uint64
	Options   []byte
	Data      []byte
}

// Fragment returns the fragment control bits: FragWhole, FragFirst, FragLast
// or FragMiddle.
func (c UserData) Fragment() byte { return c.Flags & FragmentMask }

// FSN returns the forward sequence number Seq-FSNOffset, and false when
// FSNOffset exceeds Seq (a malformed chunk rtmfp-cpp drops).
func (c UserData) FSN() (uint64, bool) {
	if c.FSNOffset > c.Seq {
		return 0, false
	}
	return c.Seq - c.FSNOffset, true
}

// ParseUserData parses a User Data chunk value without allocating.
func ParseUserData(v []byte) (UserData, error) {
	if len(v) < 1 {
		return UserData{}, ErrTruncated
	}
	c := UserData{Flags: v[0]}
	var err error
	off := 1
	if c.FlowID, off, err = readVLU(v, off); err != nil {
		return UserData{}, err
	}
	if c.Seq, off, err = readVLU(v, off); err != nil {
		return UserData{}, err
	}
	if c.FSNOffset, off, err = readVLU(v, off); err != nil {
		return UserData{}, err
	}
	if c.Options, off, err = readOptions(v, off, c.Flags); err != nil {
		return UserData{}, err
	}
	c.Data = rest(v, off)
	return c, nil
}

// readOptions returns the option list at v[off:] when flags has FlagOptions.
func readOptions(v []byte, off int, flags byte) ([]byte, int, error) {
	if flags&FlagOptions == 0 {
		return nil, off, nil
	}
	it := vlu.NewOptionList(v[off:])
	for it.Next() {
	}
	if err := it.Err(); err != nil {
		if err == vlu.ErrTruncated {
			return nil, off, ErrTruncated
		}
		return nil, off, ErrBadVLU
	}
	if !it.Marker() {
		return nil, off, ErrMissingMarker
	}
	end := off + it.Consumed()
	return v[off:end:end], end, nil
}

// flagsFor returns flags with FlagOptions set exactly when options is
// non-empty, so that an encoding always parses back.
func flagsFor(flags byte, options []byte) byte {
	if len(options) > 0 {
		return flags | FlagOptions
	}
	return flags &^ FlagOptions
}

func (c UserData) valueLen() int {
	return 1 + vlu.Len(c.FlowID) + vlu.Len(c.Seq) + vlu.Len(c.FSNOffset) + len(c.Options) + len(c.Data)
}

// Len returns the encoded size of the chunk, header included.
func (c UserData) Len() int { return ChunkHeaderLen + c.valueLen() }

// Append appends the whole chunk, header included, to b. FlagOptions is
// written set exactly when Options is non-empty, whatever Flags says; Options
// must be a complete option list ending with its marker (see
// UserDataOptions.Append).
func (c UserData) Append(b []byte) []byte {
	b = appendChunkHeader(b, TypeUserData, c.valueLen())
	b = append(b, flagsFor(c.Flags, c.Options))
	b = vlu.Append(b, c.FlowID)
	b = vlu.Append(b, c.Seq)
	b = vlu.Append(b, c.FSNOffset)
	b = append(b, c.Options...)
	return append(b, c.Data...)
}

// AsNext reports whether c may be sent as a Next User Data chunk right after
// prev in the same packet (same flow, next sequence number, same forward
// sequence number) and returns that chunk.
func (c UserData) AsNext(prev UserData) (NextUserData, bool) {
	if c.FlowID != prev.FlowID || c.Seq != prev.Seq+1 || c.FSNOffset != prev.FSNOffset+1 || c.Seq == 0 {
		return NextUserData{}, false
	}
	return NextUserData{Flags: c.Flags, Options: c.Options, Data: c.Data}, true
}
