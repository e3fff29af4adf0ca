// Package readbuf reads a file at arbitrary offsets through a small
// read-ahead window, so that a reader walking a media file from tag to tag
// (or sample to sample) makes one system call per window rather than per
// message, while many readers of one file share its descriptor (ReadAt is
// safe for concurrent use) and nothing else.
package readbuf

import (
	"errors"
	"io"
)

// DefaultSize is the window a Reader reads ahead by default.
const DefaultSize = 16 << 10

// Reader reads r through a window. It is used by one goroutine.
type Reader struct {
	r   io.ReaderAt
	buf []byte
	off int64 // file offset of buf[0]
	n   int   // valid bytes in buf
}

// New returns a reader of r with a window of size bytes (DefaultSize when
// size <= 0).
func New(r io.ReaderAt, size int) *Reader {
	if size <= 0 {
		size = DefaultSize
	}
	return &Reader{r: r, buf: make([]byte, size)}
}

// ReadAt fills dst with the bytes at off. It returns io.EOF when off is at
// or past the end of the file and io.ErrUnexpectedEOF when the file ends
// inside dst.
func (b *Reader) ReadAt(dst []byte, off int64) error {
	if off < 0 {
		return errors.New("readbuf: negative offset")
	}
	if len(dst) == 0 {
		return nil
	}
	if off >= b.off && off+int64(len(dst)) <= b.off+int64(b.n) {
		copy(dst, b.buf[off-b.off:])
		return nil
	}
	if len(dst) >= len(b.buf)/2 {
		// Large reads go straight to the destination.
		n, err := b.r.ReadAt(dst, off)
		return short(n, len(dst), err)
	}
	n, err := b.r.ReadAt(b.buf, off)
	b.off, b.n = off, n
	if n >= len(dst) {
		copy(dst, b.buf[:len(dst)])
		return nil
	}
	copy(dst, b.buf[:n])
	return short(n, len(dst), err)
}

// Invalidate forgets the window (the file may have changed under it).
func (b *Reader) Invalidate() { b.n = 0 }

func short(n, want int, err error) error {
	switch {
	case n == want:
		return nil
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return io.EOF
	case err == nil || errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	}
	return err
}

// Closer runs a release function once: the Close of a reader that shares
// a file with others.
type Closer struct{ f func() error }

// NewCloser returns a Closer of f (nil: nothing to do).
func NewCloser(f func() error) Closer { return Closer{f} }

// Close runs the function, the first time only.
func (c *Closer) Close() error {
	f := c.f
	c.f = nil
	if f == nil {
		return nil
	}
	return f()
}
