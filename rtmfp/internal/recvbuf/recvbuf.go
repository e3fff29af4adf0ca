// Package recvbuf is the receiving side of one RTMFP flow (RFC 7016 §3.6.3):
// it puts fragments back in sequence order, honours the sender's forward
// sequence number and abandon flags, reassembles messages from their
// fragments, and produces the cumulative acknowledgement and ranges of
// §2.3.13–§2.3.14.
//
// Memory is bounded: fragments more than MaxAhead sequence numbers beyond the
// cumulative acknowledgement are refused, out-of-order data counts against a
// byte limit, and a message larger than the message limit is an error.
//
// The buffer is owned by the session goroutine; nothing here locks.
package recvbuf

import (
	"errors"
	"unsafe"
)

// Fragment bits of the User Data flags byte (RFC 7016 §2.3.11).
const (
	fragMask   byte = 0x30
	fragFirst  byte = 0x10
	fragLast   byte = 0x20
	fragMiddle byte = 0x30
	flagAbn    byte = 0x02
	flagFin    byte = 0x01
)

// MaxAhead is how far beyond the cumulative acknowledgement a fragment may
// be and still be kept.
const MaxAhead = 2048

// MaxRanges is the most acknowledgement ranges reported at once.
const MaxRanges = 64

// ErrMessageTooLarge is returned when a message being reassembled exceeds
// the limit given to New.
var ErrMessageTooLarge = errors.New("recvbuf: message exceeds the size limit")

type slot struct {
	seq     uint64
	flags   byte
	present bool
	data    []byte
}

// Range is an inclusive range of received sequence numbers.
type Range struct{ Start, End uint64 }

// Buffer reorders and reassembles one flow.
type Buffer struct {
	cum     uint64 // every sequence number up to cum is received or abandoned
	highest uint64 // highest sequence number seen
	slots   []slot // ring indexed by seq & (len-1); len is a power of two
	held    int    // bytes of out-of-order data held in slots
	finSeq  uint64 // sequence number carrying FIN, 0 while unknown
	partial []byte
	inMsg   bool
	maxMsg  int
	maxHeld int
	deliver func([]byte)
	lost    int // messages discarded because a fragment was abandoned
}

// New returns a buffer that calls deliver, in order, with every complete
// message (deliver owns the slice). maxMessage bounds the size of one
// message and maxHeld the out-of-order bytes kept waiting for a gap to fill.
func New(maxMessage, maxHeld int, deliver func([]byte)) *Buffer {
	return &Buffer{maxMsg: maxMessage, maxHeld: maxHeld, deliver: deliver}
}

// Cumulative is the cumulative acknowledgement: every sequence number up to
// it has been received or abandoned.
func (b *Buffer) Cumulative() uint64 { return b.cum }

// Held is the number of out-of-order and partially reassembled bytes held.
func (b *Buffer) Held() int { return b.held + len(b.partial) }

// HeldAhead reports whether out-of-order data waits beyond a gap.
func (b *Buffer) HeldAhead() bool { return b.held > 0 }

// slotSize is the memory of one ring slot.
const slotSize = int(unsafe.Sizeof(slot{}))

// Footprint is the memory the buffer holds: out-of-order data, the
// capacity of the message being reassembled and the ring of slots.
func (b *Buffer) Footprint() int { return b.held + cap(b.partial) + len(b.slots)*slotSize }

// Release frees the memory of a buffer that will take nothing more (its
// flow completed or was refused).
func (b *Buffer) Release() {
	b.slots, b.partial, b.held, b.inMsg = nil, nil, 0, false
}

// Complete reports whether the final fragment and everything before it have
// been received or abandoned.
func (b *Buffer) Complete() bool { return b.finSeq != 0 && b.cum >= b.finSeq }

// LostMessages counts messages discarded because part of them was
// abandoned.
func (b *Buffer) LostMessages() int { return b.lost }

// Insert takes one User Data fragment: its sequence number, forward sequence
// number (seq − fsnOffset), flags and data. data is copied if kept. It
// reports whether the fragment was new. It returns an error only for a
// message over the size limit; the flow should then be refused.
func (b *Buffer) Insert(seq, fsn uint64, flags byte, data []byte) (bool, error) {
	if seq == 0 || fsn > seq {
		return false, nil
	}
	if flags&flagFin != 0 && b.finSeq == 0 {
		b.finSeq = seq
	}
	fresh := false
	if seq > b.cum && seq-b.cum <= MaxAhead {
		if seq == b.cum+1 {
			// In order: consume directly without buffering a copy.
			b.cum = seq
			if err := b.consume(flags, data); err != nil {
				return true, err
			}
			fresh = true
		} else if b.held+len(data) > b.maxHeld {
			// No room: the sender retransmits once the gap fills.
		} else if s := b.slot(seq); !s.present {
			s.seq, s.flags, s.present = seq, flags, true
			if flags&flagAbn == 0 && len(data) > 0 {
				s.data = append(make([]byte, 0, len(data)), data...)
				b.held += len(data)
			}
			fresh = true
		}
		b.highest = max(b.highest, seq)
	}
	if fsn > b.cum {
		if err := b.skipTo(fsn); err != nil {
			return fresh, err
		}
	}
	return fresh, b.drain()
}

// slot returns the ring slot for seq, growing the ring when needed.
func (b *Buffer) slot(seq uint64) *slot {
	need := int(seq - b.cum)
	if need >= len(b.slots) {
		n := max(len(b.slots), 16)
		for n <= need {
			n *= 2
		}
		grown := make([]slot, n)
		for _, s := range b.slots {
			if s.present {
				grown[s.seq&uint64(n-1)] = s
			}
		}
		b.slots = grown
	}
	return &b.slots[seq&uint64(len(b.slots)-1)]
}

// take removes and returns the slot for seq if it holds that sequence number.
func (b *Buffer) take(seq uint64) (slot, bool) {
	if len(b.slots) == 0 {
		return slot{}, false
	}
	s := &b.slots[seq&uint64(len(b.slots)-1)]
	if !s.present || s.seq != seq {
		return slot{}, false
	}
	out := *s
	*s = slot{}
	b.held -= len(out.data)
	return out, true
}

// skipTo abandons everything up to fsn that has not arrived.
func (b *Buffer) skipTo(fsn uint64) error {
	for b.cum < fsn {
		b.cum++
		if s, ok := b.take(b.cum); ok {
			if err := b.consume(s.flags, s.data); err != nil {
				return err
			}
			continue
		}
		b.abandon()
	}
	return nil
}

// drain consumes the fragments that have become contiguous.
func (b *Buffer) drain() error {
	for {
		s, ok := b.take(b.cum + 1)
		if !ok {
			return nil
		}
		b.cum++
		if err := b.consume(s.flags, s.data); err != nil {
			return err
		}
	}
}

func (b *Buffer) abandon() {
	if b.inMsg {
		b.lost++
	}
	b.inMsg = false
	b.partial = b.partial[:0]
}

// consume feeds the next in-order fragment to message reassembly.
func (b *Buffer) consume(flags byte, data []byte) error {
	if flags&flagAbn != 0 {
		b.abandon()
		return nil
	}
	switch flags & fragMask {
	case 0:
		b.abandon()
		if len(data) > b.maxMsg {
			return ErrMessageTooLarge
		}
		b.deliver(append(make([]byte, 0, len(data)), data...))
	case fragFirst:
		b.abandon()
		b.inMsg = true
		return b.grow(data)
	case fragMiddle:
		if b.inMsg {
			return b.grow(data)
		}
	case fragLast:
		if b.inMsg {
			if err := b.grow(data); err != nil {
				return err
			}
			msg := append(make([]byte, 0, len(b.partial)), b.partial...)
			b.inMsg = false
			b.partial = b.partial[:0]
			if cap(b.partial) > 64<<10 {
				b.partial = nil
			}
			b.deliver(msg)
		}
	}
	return nil
}

func (b *Buffer) grow(data []byte) error {
	if len(b.partial)+len(data) > b.maxMsg {
		b.abandon()
		return ErrMessageTooLarge
	}
	b.partial = append(b.partial, data...)
	return nil
}

// AppendRanges appends the ranges of received sequence numbers above the
// cumulative acknowledgement, lowest first, at most MaxRanges of them.
func (b *Buffer) AppendRanges(dst []Range) []Range {
	if b.highest <= b.cum+1 || len(b.slots) == 0 {
		return dst
	}
	mask := uint64(len(b.slots) - 1)
	in := false
	var cur Range
	for s := b.cum + 2; s <= b.highest; s++ {
		sl := &b.slots[s&mask]
		have := sl.present && sl.seq == s
		switch {
		case have && !in:
			cur, in = Range{Start: s, End: s}, true
		case have:
			cur.End = s
		case in:
			dst = append(dst, cur)
			in = false
			if len(dst) == MaxRanges {
				return dst
			}
		}
	}
	if in {
		dst = append(dst, cur)
	}
	return dst
}
