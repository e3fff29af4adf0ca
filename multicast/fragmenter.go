package multicast

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/media"
)

// DefaultMaxFragmentPayload is librtmfp's largest fragment payload
// (NETGROUP_MAX_PACKET_SIZE). Flash's own value is unknown.
const DefaultMaxFragmentPayload = 959

// maxPieces is the most fragments one message can use: the count byte of
// the first piece holds at most 255 followers.
const maxPieces = 256

// ErrMessageTooLarge is returned for a message that needs more than 256
// fragments.
var ErrMessageTooLarge = errors.New("multicast: message needs more than 256 fragments")

// Fragmenter numbers and cuts a publisher's media messages into fragments
// the way librtmfp does (GroupMedia onMedia): one counter for every message
// type, a message that fits in MaxPayload goes whole (0x20), a longer one is
// cut into MaxPayload-sized pieces: a first (0x30, count = pieces that
// follow), nexts (0x10, count counting down) and a last (0x00).
//
// The zero value starts at fragment 1 with DefaultMaxFragmentPayload.
type Fragmenter struct {
	// MaxPayload is the largest payload per fragment; 0 means
	// DefaultMaxFragmentPayload.
	MaxPayload int
	last       uint64
}

// NewFragmenter returns a fragmenter whose next fragment is last+1.
func NewFragmenter(last uint64, maxPayload int) *Fragmenter {
	return &Fragmenter{MaxPayload: maxPayload, last: last}
}

// Last returns the ID of the last fragment made (0 before the first).
func (f *Fragmenter) Last() uint64 { return f.last }

func (f *Fragmenter) max() int {
	if f.MaxPayload <= 0 {
		return DefaultMaxFragmentPayload
	}
	return f.MaxPayload
}

// Fragment appends the fragments of m to dst. Payloads alias m.Payload.
// Empty messages make no fragment (librtmfp drops them). A message that
// needs more than 256 fragments is refused and uses no ID.
func (f *Fragmenter) Fragment(dst []Fragment, m media.Message) ([]Fragment, error) {
	size, mp := len(m.Payload), f.max()
	if size == 0 {
		return dst, nil
	}
	pieces := (size + mp - 1) / mp
	if pieces > maxPieces {
		return dst, ErrMessageTooLarge
	}
	if pieces == 1 {
		f.last++
		return append(dst, Fragment{Marker: TypeFragmentWhole, ID: f.last, MediaType: m.Type, Time: m.Timestamp, Payload: m.Payload}), nil
	}
	for i := range pieces {
		f.last++
		fr := Fragment{ID: f.last, Count: uint8(pieces - 1 - i), Payload: m.Payload[i*mp : min(size, (i+1)*mp)]}
		switch i {
		case 0:
			fr.Marker, fr.MediaType, fr.Time = TypeFragmentFirst, m.Type, m.Timestamp
		case pieces - 1:
			fr.Marker = TypeFragmentLast
		default:
			fr.Marker = TypeFragmentNext
		}
		dst = append(dst, fr)
	}
	return dst, nil
}
