package multicast

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// MaxFragmentsMapBytes bounds the bitmap this package builds (8 bytes per
// 64 fragments: 32768 fragments, about 30 MB of 959-byte pieces). It is
// librtmfp's buffer size (4 × MAX_FRAGMENT_MAP_SIZE); decoding accepts
// longer maps.
const MaxFragmentsMapBytes = 4096

// ErrMapTooLarge is returned when a map would need more than
// MaxFragmentsMapBytes.
var ErrMapTooLarge = errors.New("multicast: fragments map too large")

// FragmentsMap tells a neighbour which fragments the sender holds (22
// VLU(last) bitmap): fragment Last, and for bitmap byte k, bit b (least
// significant first) fragment Last − 1 − 8k − b (librtmfp
// GroupMedia::updateFragmentMap, PeerMedia::hasFragment). Bitmap aliases the
// decoded buffer; a map declaring any Last costs only its actual bytes.
type FragmentsMap struct {
	Last   uint64
	Bitmap []byte
}

// NewFragmentsMap starts an empty map whose newest fragment is last.
func NewFragmentsMap(last uint64) FragmentsMap { return FragmentsMap{Last: last} }

// FullFragmentsMap returns the map of a peer holding every fragment from
// first to last, the bytes a publisher sends: FF… then a byte of the
// remaining ones.
func FullFragmentsMap(first, last uint64) (FragmentsMap, error) {
	if first > last {
		return FragmentsMap{}, ErrFormat
	}
	n := last - first // fragments in the bitmap
	if n > MaxFragmentsMapBytes*8 {
		return FragmentsMap{}, ErrMapTooLarge
	}
	m := FragmentsMap{Last: last, Bitmap: make([]byte, (n+7)/8)}
	for i := range m.Bitmap {
		m.Bitmap[i] = 0xFF
	}
	if r := n % 8; r != 0 {
		m.Bitmap[len(m.Bitmap)-1] = byte(1)<<r - 1
	}
	return m, nil
}

// Type returns TypeFragmentsMap.
func (FragmentsMap) Type() byte { return TypeFragmentsMap }

// Len returns the encoded size.
func (m FragmentsMap) Len() int { return 1 + vlu.Len(m.Last) + len(m.Bitmap) }

// Append appends the encoding to b.
func (m FragmentsMap) Append(b []byte) []byte {
	return append(vlu.Append(append(b, TypeFragmentsMap), m.Last), m.Bitmap...)
}

// position returns the bitmap byte and bit of fragment id (< Last).
func (m FragmentsMap) position(id uint64) (uint64, byte) {
	d := m.Last - 1 - id
	return d / 8, byte(1) << (d % 8)
}

// Has reports whether the map shows fragment id. Last is always held
// (when non-zero).
func (m FragmentsMap) Has(id uint64) bool {
	switch {
	case m.Last == 0 || id > m.Last:
		return false
	case id == m.Last:
		return true
	}
	k, bit := m.position(id)
	return k < uint64(len(m.Bitmap)) && m.Bitmap[k]&bit != 0
}

// Oldest returns the oldest fragment ID the bitmap can describe.
func (m FragmentsMap) Oldest() uint64 {
	span := uint64(len(m.Bitmap)) * 8
	if span >= m.Last {
		return 1
	}
	return m.Last - span
}

// Set marks fragment id as held, growing the bitmap up to
// MaxFragmentsMapBytes. It writes into Bitmap in place: use it on maps made
// by NewFragmentsMap or FullFragmentsMap, or on a Clone of a decoded one.
// It fails for 0, ids above Last, and ids too old for the size limit.
func (m *FragmentsMap) Set(id uint64) error {
	if id == 0 || id > m.Last {
		return ErrFormat
	}
	if id == m.Last {
		return nil
	}
	k, bit := m.position(id)
	if k >= MaxFragmentsMapBytes {
		return ErrMapTooLarge
	}
	if k >= uint64(len(m.Bitmap)) {
		grown := make([]byte, k+1, max(k+1, uint64(2*len(m.Bitmap))))
		copy(grown, m.Bitmap)
		m.Bitmap = grown
	}
	m.Bitmap[k] |= bit
	return nil
}

// Clone returns a copy that owns its bitmap.
func (m FragmentsMap) Clone() FragmentsMap {
	if m.Bitmap != nil {
		m.Bitmap = append([]byte(nil), m.Bitmap...)
	}
	return m
}

// Iterate calls fn for every fragment the map shows, newest first, until fn
// returns false. It visits at most 1 + 8·len(Bitmap) IDs.
func (m FragmentsMap) Iterate(fn func(id uint64) bool) {
	if m.Last == 0 || !fn(m.Last) {
		return
	}
	for k, byt := range m.Bitmap {
		for b := range uint64(8) {
			d := uint64(k)*8 + b + 1 // distance below Last
			if d >= m.Last {
				return
			}
			if byt&(1<<b) != 0 && !fn(m.Last-d) {
				return
			}
		}
	}
}

// Count returns the number of fragments the map shows.
func (m FragmentsMap) Count() int {
	n := 0
	m.Iterate(func(uint64) bool { n++; return true })
	return n
}

// ParseFragmentsMap decodes a fragments map.
func ParseFragmentsMap(b []byte) (FragmentsMap, error) {
	if len(b) == 0 {
		return FragmentsMap{}, ErrTruncated
	}
	if b[0] != TypeFragmentsMap {
		return FragmentsMap{}, ErrType
	}
	last, n, err := readVLU(b[1:])
	if err != nil {
		return FragmentsMap{}, err
	}
	m := FragmentsMap{Last: last}
	if p := b[1+n:]; len(p) > 0 {
		m.Bitmap = p[:len(p):len(p)]
	}
	return m, nil
}
