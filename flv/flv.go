// Package flv reads and writes FLV files (Adobe Flash Video File Format,
// version 10.1, annex E): a 9-byte header, then tags each preceded by the
// size of the previous one. A tag carries one media.Message (audio, video or
// script data) with a 24-bit size and a 32-bit timestamp split over 24+8
// bits.
package flv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/rtmfpd/rtmfpd/media"
)

// MaxTagSize is the largest tag body the 24-bit size field allows.
const MaxTagSize = 1<<24 - 1

// Header flags.
const (
	FlagAudio = 0x04
	FlagVideo = 0x01
)

var (
	// ErrNotFLV is returned for input that does not start with an FLV header.
	ErrNotFLV = errors.New("flv: not an FLV file")
	// ErrTruncated is returned when the input ends inside a tag.
	ErrTruncated = errors.New("flv: truncated tag")
)

// Reader reads tags from an FLV stream.
type Reader struct {
	r     *bufio.Reader
	Flags byte // audio/video presence flags from the header
	hdr   [11]byte
	limit int
}

// NewReader reads the FLV header from r. Tags larger than maxTag bytes (0:
// MaxTagSize) are an error rather than an allocation.
func NewReader(r io.Reader, maxTag int) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var h [9]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, ErrNotFLV
	}
	if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
		return nil, ErrNotFLV
	}
	off := binary.BigEndian.Uint32(h[5:9])
	if off < 9 || off > 1<<16 {
		return nil, ErrNotFLV
	}
	if _, err := br.Discard(int(off - 9)); err != nil {
		return nil, ErrNotFLV
	}
	// PreviousTagSize0.
	var p [4]byte
	if _, err := io.ReadFull(br, p[:]); err != nil {
		return nil, ErrNotFLV
	}
	if maxTag <= 0 || maxTag > MaxTagSize {
		maxTag = MaxTagSize
	}
	return &Reader{r: br, Flags: h[4], limit: maxTag}, nil
}

// Read returns the next tag as a message. It returns io.EOF at the end of
// the file.
func (r *Reader) Read() (media.Message, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if err == io.EOF {
			return media.Message{}, io.EOF
		}
		return media.Message{}, ErrTruncated
	}
	h := r.hdr[:]
	typ := h[0] & 0x1f
	if h[0]&0x20 != 0 {
		return media.Message{}, fmt.Errorf("flv: encrypted tags are not supported")
	}
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	if size > r.limit {
		return media.Message{}, fmt.Errorf("flv: tag of %d bytes exceeds the limit", size)
	}
	ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
	body := make([]byte, size)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return media.Message{}, ErrTruncated
	}
	var p [4]byte
	if _, err := io.ReadFull(r.r, p[:]); err != nil && err != io.EOF {
		return media.Message{}, ErrTruncated
	}
	return media.Message{Type: typ, Timestamp: ts, Payload: body}, nil
}

// Writer writes an FLV stream.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter writes an FLV header announcing the given flags (FlagAudio,
// FlagVideo) to w.
func NewWriter(w io.Writer, flags byte) (*Writer, error) {
	h := []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0}
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// Write writes one message as a tag. Only audio, video and AMF0 data
// messages have an FLV form; others are skipped.
func (w *Writer) Write(m media.Message) error {
	switch m.Type {
	case media.TypeAudio, media.TypeVideo, media.TypeDataAMF0:
	default:
		return nil
	}
	if len(m.Payload) > MaxTagSize {
		return fmt.Errorf("flv: message of %d bytes is too large for a tag", len(m.Payload))
	}
	n := len(m.Payload)
	b := w.buf[:0]
	b = append(b, m.Type, byte(n>>16), byte(n>>8), byte(n),
		byte(m.Timestamp>>16), byte(m.Timestamp>>8), byte(m.Timestamp), byte(m.Timestamp>>24), 0, 0, 0)
	b = append(b, m.Payload...)
	b = binary.BigEndian.AppendUint32(b, uint32(11+n))
	w.buf = b
	_, err := w.w.Write(b)
	return err
}
