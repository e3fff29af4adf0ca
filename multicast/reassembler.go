package multicast

import "github.com/rtmfpd/rtmfpd/media"

// Reassembler defaults.
const (
	// DefaultMaxFragments bounds how far ahead of the next expected
	// fragment the reassembler accepts fragments.
	DefaultMaxFragments = 8192
	// DefaultMaxBytes bounds the payload bytes it buffers.
	DefaultMaxBytes = 16 << 20
)

// ReassemblerConfig bounds a Reassembler and lets the caller observe
// losses.
type ReassemblerConfig struct {
	// MaxFragments is the width of the ID window [next, next+MaxFragments)
	// kept in memory; a fragment beyond it forces the window forward,
	// abandoning what is missing. 0 means DefaultMaxFragments.
	MaxFragments uint64
	// MaxBytes bounds the buffered payload bytes; when exceeded, the oldest
	// pending message is abandoned. 0 means DefaultMaxBytes.
	MaxBytes int
	// First, if non-zero, is the first ID to deliver; earlier fragments are
	// refused. When zero, the reassembler starts at the first fragment it
	// receives and moves its start back for earlier ones until it delivers
	// or gives up something.
	First uint64
	// OnLoss, if set, is called with the first and last ID of every range
	// skipped without delivery: missing fragments given up on, pieces of
	// messages that could not be completed, or pieces that do not start a
	// message (when joining mid-stream).
	OnLoss func(first, last uint64)
}

// Reassembler rebuilds the publisher's media messages from fragments that
// arrive in any order, from any neighbour, possibly twice, and delivers them
// in fragment-ID order. It is a plain data structure: no goroutines, no
// clock (the caller applies the multicast window and fetch period through
// GiveUp), not safe for concurrent use.
type Reassembler struct {
	cfg     ReassemblerConfig
	frags   map[uint64]Fragment
	bytes   int
	next    uint64 // next ID to deliver
	started bool   // next is set
	popped  bool   // something was delivered or given up (next is final)
}

// NewReassembler returns an empty reassembler.
func NewReassembler(cfg ReassemblerConfig) *Reassembler {
	if cfg.MaxFragments == 0 {
		cfg.MaxFragments = DefaultMaxFragments
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	r := &Reassembler{cfg: cfg, frags: map[uint64]Fragment{}}
	if cfg.First != 0 {
		r.next, r.started, r.popped = cfg.First, true, true
	}
	return r
}

// Next returns the ID the reassembler waits for.
func (r *Reassembler) Next() uint64 { return r.next }

// Buffered returns the number of fragments and payload bytes held.
func (r *Reassembler) Buffered() (fragments, bytes int) { return len(r.frags), r.bytes }

// Has reports whether fragment id is held or already behind the window
// (so need not be fetched).
func (r *Reassembler) Has(id uint64) bool {
	if r.started && id < r.next {
		return true
	}
	_, ok := r.frags[id]
	return ok
}

// Add stores a fragment. It returns false for a duplicate, a fragment
// behind the window, or ID 0. The fragment's payload is kept as is: the
// caller must not modify it afterwards.
func (r *Reassembler) Add(f Fragment) bool {
	if f.ID == 0 {
		return false
	}
	if !r.started {
		r.next, r.started = f.ID, true
	}
	if f.ID < r.next {
		if r.popped {
			return false
		}
		r.next = f.ID
	}
	if _, dup := r.frags[f.ID]; dup {
		return false
	}
	if f.ID-r.next >= r.cfg.MaxFragments {
		r.GiveUp(f.ID - r.cfg.MaxFragments + 1)
	}
	r.frags[f.ID] = f
	r.bytes += len(f.Payload)
	for r.bytes > r.cfg.MaxBytes && len(r.frags) > 1 {
		r.dropFront()
	}
	return true
}

// GiveUp abandons every fragment below id: buffered ones are dropped and
// reported to OnLoss with the missing ones, and delivery resumes at id (at
// the first message starting there or later).
func (r *Reassembler) GiveUp(id uint64) {
	if !r.started {
		r.next, r.started = id, true
	}
	r.popped = true
	if id <= r.next {
		return
	}
	for k, f := range r.frags {
		if k < id {
			r.bytes -= len(f.Payload)
			delete(r.frags, k)
		}
	}
	r.loss(r.next, id-1)
	r.next = id
}

// dropFront abandons the pending message (or gap) at the front.
func (r *Reassembler) dropFront() {
	if _, ok := r.frags[r.next]; !ok {
		// Skip the gap up to the first buffered fragment.
		low := r.next
		for k := range r.frags {
			if k > r.next && (low == r.next || k < low) {
				low = k
			}
		}
		r.GiveUp(low)
		return
	}
	r.GiveUp(r.next + 1)
}

func (r *Reassembler) loss(first, last uint64) {
	if r.cfg.OnLoss != nil && first <= last {
		r.cfg.OnLoss(first, last)
	}
}

// take removes and returns the fragment at id.
func (r *Reassembler) take(id uint64) Fragment {
	f := r.frags[id]
	delete(r.frags, id)
	r.bytes -= len(f.Payload)
	return f
}

// Pop returns the next complete message in ID order, with the ID of its
// first fragment. It returns false when the next message is not complete
// yet. Pieces that cannot form a message are skipped (and reported to
// OnLoss).
func (r *Reassembler) Pop() (uint64, media.Message, bool) {
	for r.started {
		f, ok := r.frags[r.next]
		if !ok {
			return 0, media.Message{}, false
		}
		switch f.Marker {
		case TypeFragmentWhole:
			id := r.next
			r.take(id)
			r.advance(id + 1)
			return id, media.Message{Type: f.MediaType, Timestamp: f.Time, Payload: f.Payload}, true
		case TypeFragmentFirst:
			end, state := r.findEnd(f)
			switch state {
			case endPending:
				return 0, media.Message{}, false
			case endBroken:
				for k := r.next; k <= end; k++ {
					r.take(k)
				}
				r.loss(r.next, end)
				r.advance(end + 1)
				continue
			}
			id := r.next
			size := 0
			for k := id; k <= end; k++ {
				size += len(r.frags[k].Payload)
			}
			payload := make([]byte, 0, size)
			for k := id; k <= end; k++ {
				payload = append(payload, r.take(k).Payload...)
			}
			r.advance(end + 1)
			return id, media.Message{Type: f.MediaType, Timestamp: f.Time, Payload: payload}, true
		default: // a piece without its first: skip it
			r.take(r.next)
			r.loss(r.next, r.next)
			r.advance(r.next + 1)
		}
	}
	return 0, media.Message{}, false
}

func (r *Reassembler) advance(id uint64) {
	r.next, r.popped = id, true
}

type endState int

const (
	endComplete endState = iota
	endPending
	endBroken
)

// findEnd looks for the last piece of the message whose first piece is
// first (at r.next). For a broken message it returns the last ID to skip.
func (r *Reassembler) findEnd(first Fragment) (uint64, endState) {
	limit := r.next + uint64(maxPieces) - 1
	if !first.NoCount {
		limit = r.next + uint64(first.Count)
		if first.Count == 0 {
			return r.next, endBroken
		}
	}
	for id := r.next + 1; id <= limit; id++ {
		f, ok := r.frags[id]
		if !ok {
			return 0, endPending
		}
		switch {
		case f.Marker == TypeFragmentLast && (first.NoCount || id == limit):
			return id, endComplete
		case f.Marker == TypeFragmentNext && (first.NoCount || f.Count == uint8(limit-id)):
			continue
		}
		return id - 1, endBroken
	}
	return limit, endBroken
}
