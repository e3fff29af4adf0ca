package multicast

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/media"
)

// DefaultMaxFragmentPayload is librtmfp's largest fragment payload
// (NETGROUP_MAX_PACKET_SIZE). Flash's own value is unknown.
const DefaultMaxFragmentPayload = 959

// Limits of one message on the wire.
//
// The first piece's count byte holds the number of pieces that follow, so
// the format allows 256 pieces, but librtmfp's reader (GroupBuffer
// processFragment) takes count+1 into a byte: a count of 255 makes it
// deliver the first piece alone as the whole message. Its own publisher
// wraps the count of longer messages (librtmfp issue #2: large I-frames
// break NetGroup streams). Neither reader bounds a piece's size: a piece is
// one message of the GR 12 flow, which RTMFP fragments into packets and
// reassembles (librtmfp RTMFPFlow, our rtmfp.RecvFlow). So a message that
// does not fit in MaxWirePieces pieces of MaxPayload is cut into
// MaxWirePieces larger pieces, up to MaxPiecePayload bytes each.
const (
	// MaxWirePieces is the most pieces the Fragmenter cuts a message into.
	MaxWirePieces = 255
	// MaxPiecePayload is the largest piece it makes (for messages of
	// more than MaxWirePieces × MaxPayload bytes).
	MaxPiecePayload = 64 << 10
	// MaxMessagePayload is the largest message it accepts: about 16 MiB,
	// RTMP's largest message.
	MaxMessagePayload = MaxWirePieces * MaxPiecePayload
)

// maxPieces is the most fragments one message can use on the wire (the
// count byte of the first piece holds at most 255 followers); readers
// accept that many.
const maxPieces = 256

// ErrMessageTooLarge is returned for a message above MaxMessagePayload.
var ErrMessageTooLarge = errors.New("multicast: message larger than MaxMessagePayload")

// Fragmenter numbers and cuts a publisher's media messages into fragments
// the way librtmfp does (GroupMedia onMedia): one counter for every message
// type, a message that fits in MaxPayload goes whole (0x20), a longer one is
// cut into MaxPayload-sized pieces: a first (0x30, count = pieces that
// follow), nexts (0x10, count counting down) and a last (0x00). A message
// that would need more than MaxWirePieces pieces is cut into MaxWirePieces
// equal pieces instead (the last one shorter), which every reader we know
// of accepts, where librtmfp's publisher breaks (see MaxWirePieces).
//
// The zero value starts at fragment 1 with DefaultMaxFragmentPayload.
type Fragmenter struct {
	// MaxPayload is the payload per fragment; 0 means
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
	return min(f.MaxPayload, MaxPiecePayload)
}

// PieceSize returns the payload size of the pieces a message of size bytes
// is cut into (size itself when it goes whole), or 0 when it is too large.
func (f *Fragmenter) PieceSize(size int) int {
	mp := f.max()
	switch {
	case size > MaxMessagePayload:
		return 0
	case size <= mp:
		return size
	case (size+mp-1)/mp > MaxWirePieces:
		return (size + MaxWirePieces - 1) / MaxWirePieces
	}
	return mp
}

// Fragment appends the fragments of m to dst. Payloads alias m.Payload.
// Empty messages make no fragment (librtmfp drops them). A message larger
// than MaxMessagePayload is refused and uses no ID.
func (f *Fragmenter) Fragment(dst []Fragment, m media.Message) ([]Fragment, error) {
	size := len(m.Payload)
	if size == 0 {
		return dst, nil
	}
	mp := f.PieceSize(size)
	if mp == 0 {
		return dst, ErrMessageTooLarge
	}
	pieces := (size + mp - 1) / mp
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
