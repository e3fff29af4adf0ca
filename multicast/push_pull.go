package multicast

import "github.com/rtmfpd/rtmfpd/vlu"

// Push asks the receiver to send, without being asked, every new fragment
// whose ID modulo 8 is a bit set in Mask (23 <mask>); 0 cancels
// (librtmfp writeGroupPlay, PeerMedia::isPushable).
type Push struct {
	Mask uint8
}

// Type returns TypePush.
func (Push) Type() byte { return TypePush }

// Len returns the encoded size (2).
func (Push) Len() int { return 2 }

// Append appends the encoding to b.
func (p Push) Append(b []byte) []byte { return append(b, TypePush, p.Mask) }

// Pushes reports whether fragment id falls in the mask.
func (p Push) Pushes(id uint64) bool { return p.Mask&(1<<(id%8)) != 0 }

// ParsePush decodes a push request.
func ParsePush(b []byte) (Push, error) {
	switch {
	case len(b) == 0:
		return Push{}, ErrTruncated
	case b[0] != TypePush:
		return Push{}, ErrType
	case len(b) < 2:
		return Push{}, ErrTruncated
	case len(b) > 2:
		return Push{}, ErrTrailing
	}
	return Push{Mask: b[1]}, nil
}

// Pull asks for one fragment (2B VLU(id)); the answer comes on the media
// flow (librtmfp writeGroupPull).
type Pull struct {
	ID uint64
}

// Type returns TypePull.
func (Pull) Type() byte { return TypePull }

// Len returns the encoded size.
func (p Pull) Len() int { return 1 + vlu.Len(p.ID) }

// Append appends the encoding to b.
func (p Pull) Append(b []byte) []byte { return vlu.Append(append(b, TypePull), p.ID) }

// ParsePull decodes a pull request.
func ParsePull(b []byte) (Pull, error) {
	if len(b) == 0 {
		return Pull{}, ErrTruncated
	}
	if b[0] != TypePull {
		return Pull{}, ErrType
	}
	id, n, err := readVLU(b[1:])
	if err != nil {
		return Pull{}, err
	}
	if 1+n != len(b) {
		return Pull{}, ErrTrailing
	}
	return Pull{ID: id}, nil
}

// readVLU reads a VLU and maps its errors to this package's.
func readVLU(b []byte) (uint64, int, error) {
	v, n, err := vlu.Parse(b)
	switch err {
	case nil:
		return v, n, nil
	case vlu.ErrTruncated:
		return 0, 0, ErrTruncated
	}
	return 0, 0, ErrFormat
}
