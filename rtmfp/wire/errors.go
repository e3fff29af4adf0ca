package wire

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// Errors returned by the parsers. Parsers return these sentinels unwrapped so
// that the hot path allocates nothing; compare with errors.Is.
var (
	// ErrTruncated means the input ended inside a field: a VLU, a
	// length-prefixed byte string, an address or a fixed-size field.
	ErrTruncated = errors.New("wire: truncated")
	// ErrBadVLU means a VLU is longer than ten bytes or overflows 64 bits.
	ErrBadVLU = errors.New("wire: VLU overflows 64 bits")
	// ErrChunkOverrun means a chunk header announces more bytes than the
	// packet holds (and the chunk is not padding).
	ErrChunkOverrun = errors.New("wire: chunk length overruns the packet")
	// ErrForbiddenMode means a packet header has mode 0, which RFC 7016
	// §2.2.4 forbids.
	ErrForbiddenMode = errors.New("wire: packet mode 0 is forbidden")
	// ErrMissingMarker means an option list is not closed by its marker.
	ErrMissingMarker = errors.New("wire: option list has no end marker")
	// ErrTrailing means bytes follow a structure that must end its input.
	ErrTrailing = errors.New("wire: trailing bytes")
	// ErrAckOverflow means an acknowledgement describes sequence numbers
	// beyond 2^64-1.
	ErrAckOverflow = errors.New("wire: acknowledgement overflows 64-bit sequence numbers")
)

// readVLU reads a VLU at b[off:] and returns it with the offset after it.
func readVLU(b []byte, off int) (uint64, int, error) {
	v, n, err := vlu.Parse(b[off:])
	if err != nil {
		if err == vlu.ErrTruncated {
			return 0, off, ErrTruncated
		}
		return 0, off, ErrBadVLU
	}
	return v, off + n, nil
}

// readBytes reads a VLU length and that many bytes at b[off:]. The result
// aliases b and has its capacity clipped to its length.
func readBytes(b []byte, off int) ([]byte, int, error) {
	l, off, err := readVLU(b, off)
	if err != nil {
		return nil, off, err
	}
	if l > uint64(len(b)-off) {
		return nil, off, ErrTruncated
	}
	end := off + int(l)
	return b[off:end:end], end, nil
}

// rest returns b[off:] with its capacity clipped.
func rest(b []byte, off int) []byte { return b[off:len(b):len(b)] }

// appendBytes appends a VLU length followed by p.
func appendBytes(b, p []byte) []byte {
	b = vlu.Append(b, uint64(len(p)))
	return append(b, p...)
}

// bytesLen is the encoded size of appendBytes(nil, p).
func bytesLen(p []byte) int { return vlu.Len(uint64(len(p))) + len(p) }
