package multicast

import (
	"encoding/binary"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Fragment is one piece of a media message on a GR 12 flow (librtmfp
// RTMFPWriter::writeGroupFragment, GroupStream::process):
//
//	20 VLU(id) type time(u32) payload          whole message
//	30 VLU(id) count type time(u32) payload    first piece; count = pieces that follow
//	10 VLU(id) count payload                   middle piece; count counts down
//	00 VLU(id) payload                         last piece
//
// IDs are the publisher's fragment counter. Payload aliases the decoded
// buffer.
type Fragment struct {
	Marker byte // TypeFragmentWhole, TypeFragmentFirst, TypeFragmentNext or TypeFragmentLast
	ID     uint64
	// Count is the number of fragments after this one in its message
	// (first and next pieces).
	Count uint8
	// NoCount marks a first piece written without its count byte, which
	// librtmfp's reader tolerates ("in rare case the splitNumber is not
	// written"); the message then ends at the next last piece.
	NoCount bool
	// MediaType and Time describe the message (whole and first pieces).
	MediaType uint8
	Time      uint32
	Payload   []byte
}

// Type returns the marker.
func (f Fragment) Type() byte { return f.Marker }

// hasHeader reports whether the fragment carries the message type and time.
func (f Fragment) hasHeader() bool {
	return f.Marker == TypeFragmentWhole || f.Marker == TypeFragmentFirst
}

// hasCount reports whether the fragment carries a count byte.
func (f Fragment) hasCount() bool {
	return f.Marker == TypeFragmentNext || f.Marker == TypeFragmentFirst && !f.NoCount
}

// Len returns the encoded size.
func (f Fragment) Len() int {
	n := 1 + vlu.Len(f.ID) + len(f.Payload)
	if f.hasCount() {
		n++
	}
	if f.hasHeader() {
		n += 5
	}
	return n
}

// Append appends the encoding to b.
func (f Fragment) Append(b []byte) []byte {
	b = vlu.Append(append(b, f.Marker), f.ID)
	if f.hasCount() {
		b = append(b, f.Count)
	}
	if f.hasHeader() {
		b = append(b, f.MediaType)
		b = binary.BigEndian.AppendUint32(b, f.Time)
	}
	return append(b, f.Payload...)
}

// isMessageType reports the media message types a fragment can carry; it
// tells a first piece's count byte from its type byte.
func isMessageType(t byte) bool {
	switch t {
	case media.TypeAudio, media.TypeVideo, media.TypeDataAMF3, media.TypeCommandAMF3,
		media.TypeDataAMF0, media.TypeCommandAMF0:
		return true
	}
	return false
}

// ParseFragment decodes a fragment. A first piece has a count byte unless
// the byte after it is not a message type while the byte in the count's
// place is one (librtmfp checks for audio and video only; this decoder also
// accepts the AMF data and command types, so split data messages with a
// count are read correctly).
func ParseFragment(b []byte) (Fragment, error) {
	if len(b) == 0 {
		return Fragment{}, ErrTruncated
	}
	f := Fragment{Marker: b[0]}
	switch f.Marker {
	case TypeFragmentWhole, TypeFragmentFirst, TypeFragmentNext, TypeFragmentLast:
	default:
		return Fragment{}, ErrType
	}
	id, n, err := readVLU(b[1:])
	if err != nil {
		return Fragment{}, err
	}
	f.ID = id
	p := b[1+n:]
	switch f.Marker {
	case TypeFragmentFirst:
		if len(p) < 1 {
			return Fragment{}, ErrTruncated
		}
		if (len(p) < 2 || !isMessageType(p[1])) && isMessageType(p[0]) {
			f.NoCount = true
		} else {
			f.Count, p = p[0], p[1:]
		}
	case TypeFragmentNext:
		if len(p) < 1 {
			return Fragment{}, ErrTruncated
		}
		f.Count, p = p[0], p[1:]
	}
	if f.hasHeader() {
		if len(p) < 5 {
			return Fragment{}, ErrTruncated
		}
		f.MediaType, f.Time, p = p[0], binary.BigEndian.Uint32(p[1:5]), p[5:]
	}
	if len(p) > 0 {
		f.Payload = p[:len(p):len(p)]
	}
	return f, nil
}
