package multicast

import "time"

// slot is one buffered fragment.
type slot struct {
	id   uint64 // 0: empty
	raw  []byte // the encoded fragment, immutable, sent as is
	frag Fragment
	at   time.Time // when it entered the buffer, or was first known if earlier
}

// fragBuffer holds the fragments a node keeps to reassemble and to serve:
// a ring indexed by fragment ID covering at most len(slots) consecutive
// IDs, with holes. It is bounded in IDs and in payload bytes.
type fragBuffer struct {
	slots    []slot
	lo, hi   uint64 // held IDs are in [lo, hi]; both 0 when empty
	count    int
	bytes    int
	maxBytes int
}

func newFragBuffer(maxFragments, maxBytes int) *fragBuffer {
	n := 64
	for n < maxFragments {
		n <<= 1
	}
	return &fragBuffer{slots: make([]slot, n), maxBytes: maxBytes}
}

func (b *fragBuffer) span() uint64 { return uint64(len(b.slots)) }

func (b *fragBuffer) slot(id uint64) *slot { return &b.slots[id&(b.span()-1)] }

// get returns the fragment id, or nil.
func (b *fragBuffer) get(id uint64) *slot {
	if id == 0 || b.count == 0 || id < b.lo || id > b.hi {
		return nil
	}
	if s := b.slot(id); s.id == id {
		return s
	}
	return nil
}

func (b *fragBuffer) has(id uint64) bool { return b.get(id) != nil }

// fits reports whether id can be stored without evicting anything newer
// than it (an ID more than span below hi cannot).
func (b *fragBuffer) fits(id uint64) bool {
	return id != 0 && (b.count == 0 || id > b.hi || b.hi-id < b.span())
}

// put stores a fragment, evicting the oldest ones to make room. It
// reports false for a duplicate or an ID too old to fit.
func (b *fragBuffer) put(s slot) bool {
	if !b.fits(s.id) || b.has(s.id) {
		return false
	}
	switch {
	case b.count == 0:
		b.lo, b.hi = s.id, s.id
	case s.id > b.hi:
		if s.id-b.lo >= b.span() {
			b.dropBelow(s.id - b.span() + 1)
		}
		if b.count == 0 {
			b.lo = s.id
		}
		b.hi = s.id
	case s.id < b.lo:
		b.lo = s.id
	}
	*b.slot(s.id) = s
	b.count++
	b.bytes += len(s.raw)
	for b.bytes > b.maxBytes && b.count > 1 {
		b.dropBelow(b.lo + 1)
	}
	return true
}

// reset empties the buffer.
func (b *fragBuffer) reset() {
	clear(b.slots)
	b.lo, b.hi, b.count, b.bytes = 0, 0, 0, 0
}

// dropBelow removes every fragment below id.
func (b *fragBuffer) dropBelow(id uint64) {
	for b.count > 0 && b.lo < id {
		if s := b.slot(b.lo); s.id == b.lo {
			b.bytes -= len(s.raw)
			b.count--
			*s = slot{}
		}
		if b.count == 0 {
			b.lo, b.hi = 0, 0
			return
		}
		b.lo++
	}
	b.skipHoles()
}

// skipHoles moves lo up to the first held fragment.
func (b *fragBuffer) skipHoles() {
	for b.count > 0 && b.slot(b.lo).id != b.lo {
		b.lo++
	}
}

// expire drops fragments, oldest ID first, while they entered the buffer
// before cutoff. It stops at the first fresh one: a fragment that arrived
// late keeps the ones above it a little longer, which only delays their
// eviction (the ID span and the byte cap still bound the buffer).
func (b *fragBuffer) expire(cutoff time.Time) {
	for b.count > 0 {
		s := b.slot(b.lo)
		if s.id != b.lo || !s.at.Before(cutoff) {
			return
		}
		b.dropBelow(b.lo + 1)
	}
}

// nextHeld returns the first held ID in [from, to], or 0.
func (b *fragBuffer) nextHeld(from, to uint64) uint64 {
	from = max(from, b.lo)
	to = min(to, b.hi)
	for id := from; b.count > 0 && id <= to; id++ {
		if b.slot(id).id == id {
			return id
		}
	}
	return 0
}

// appendMap appends a fragments map of the buffer to dst and returns its
// Last: last itself, clamped to the held range from below. The bitmap
// covers every held fragment older than Last (up to
// MaxFragmentsMapBytes). A Last above the newest fragment is the end of
// stream a closed publisher names (as librtmfp's does); one below it is a
// first map that shows a new neighbour only what came after it joined.
func (b *fragBuffer) appendMap(dst []byte, last uint64) ([]byte, uint64) {
	if b.count == 0 {
		return dst, 0
	}
	last = max(last, b.lo)
	m := FragmentsMap{Last: last}
	dst = m.Append(dst)
	n := min(last-b.lo, MaxFragmentsMapBytes*8)
	for k := uint64(0); k*8 < n; k++ {
		var byt byte
		for bit := range uint64(8) {
			d := k*8 + bit + 1
			if d > n {
				break
			}
			if id := last - d; id <= b.hi && b.slot(id).id == id {
				byt |= 1 << bit
			}
		}
		dst = append(dst, byt)
	}
	return dst, last
}
