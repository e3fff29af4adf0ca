// Package chunkfile gathers the records a recording writes (FLV tags, MP4
// samples) and writes them at the end of its file in chunks that end on
// record boundaries, so that what is on disk is always a whole number of
// records, within a byte budget (a disk quota): when the budget is short,
// the records that fit are written and the rest is refused.
package chunkfile

import (
	"errors"
	"io"
)

// Budget grants bytes to write: n when they fit (counting them), or
// nothing and how many would fit, with an error saying why.
type Budget func(n int64) (room int64, err error)

// Buffer gathers records.
type Buffer struct {
	buf  []byte
	ends []int // where each record ends in buf
}

// Append gathers one record made of parts.
func (b *Buffer) Append(parts ...[]byte) {
	for _, p := range parts {
		b.buf = append(b.buf, p...)
	}
	b.ends = append(b.ends, len(b.buf))
}

// Len is the number of bytes gathered.
func (b *Buffer) Len() int { return len(b.buf) }

// Records is the number of records gathered.
func (b *Buffer) Records() int { return len(b.ends) }

// Reset drops what is gathered.
func (b *Buffer) Reset() { b.buf, b.ends = b.buf[:0], b.ends[:0] }

// WriteAt writes the gathered records at off, within budget (nil: no
// limit), and returns how many records and bytes went out. When the budget
// is short, the records that fit are written and its error returned; on a
// write error nothing counts as written. What was written is dropped from
// the buffer.
func (b *Buffer) WriteAt(w io.WriterAt, off int64, budget Budget) (records, n int, err error) {
	if len(b.buf) == 0 {
		return 0, 0, nil
	}
	records, n = len(b.ends), len(b.buf)
	if budget != nil {
		room, berr := budget(int64(n))
		if berr != nil {
			for records > 0 && int64(b.ends[records-1]) > room {
				records--
			}
			n = 0
			if records > 0 {
				n = b.ends[records-1]
				if _, err := budget(int64(n)); err != nil {
					return 0, 0, err
				}
			}
			err = berr
		}
	}
	if n > 0 {
		k, werr := w.WriteAt(b.buf[:n], off)
		if werr == nil && k != n {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return 0, 0, errors.Join(werr, err)
		}
	}
	b.drop(records)
	return records, n, err
}

// drop removes the first records.
func (b *Buffer) drop(records int) {
	if records == 0 {
		return
	}
	n := b.ends[records-1]
	b.buf = b.buf[:copy(b.buf, b.buf[n:])]
	k := copy(b.ends, b.ends[records:])
	b.ends = b.ends[:k]
	for i := range b.ends {
		b.ends[i] -= n
	}
}
