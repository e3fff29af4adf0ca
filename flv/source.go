package flv

import (
	"fmt"
	"io"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/internal/readbuf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Source reads an indexed FLV file for one reader (a media.Source): tags
// are read from disk as they are asked for, through a small window; the
// index and the file descriptor are shared with the file's other readers.
// The file's own onMetaData tag is left out (Metadata gives it, with the
// duration first).
type Source struct {
	idx            *Index
	rb             *readbuf.Reader
	pos            int64
	limit          int
	readbuf.Closer // Close releases the source
	hdr            [11]byte
}

// NewSource returns a reader of the file r indexed by idx, positioned at
// its first tag. closer, if not nil, is called by Close. Tags over maxTag
// bytes (0: MaxTagSize) are an error.
func NewSource(r io.ReaderAt, idx *Index, maxTag int, closer func() error) *Source {
	if maxTag <= 0 || maxTag > MaxTagSize {
		maxTag = MaxTagSize
	}
	return &Source{idx: idx, rb: readbuf.New(r, 0), pos: idx.DataStart(), limit: maxTag, Closer: readbuf.NewCloser(closer)}
}

// Duration is the file's last timestamp (0 while it is being recorded).
func (s *Source) Duration() uint32 { return s.idx.Duration() }

// Metadata is the file's onMetaData with its duration first.
func (s *Source) Metadata() *amf.Object {
	return media.SourceMetadata(s.idx.Duration(), s.idx.Metadata())
}

// Seek positions the source at the last key frame at or before ms.
func (s *Source) Seek(ms uint32) ([]media.Message, error) {
	off, _, hdrs := s.idx.seek(ms)
	s.pos = off
	return hdrs, nil
}

// Changed is closed when there is more to read (see media.Source).
func (s *Source) Changed() <-chan struct{} {
	size, growing, ch := s.idx.state()
	if !growing || s.pos+11 <= size {
		return media.Ready()
	}
	return ch
}

// Next reads the next tag.
func (s *Source) Next() (media.Message, error) {
	for {
		size, growing, _ := s.idx.state()
		end := func() (media.Message, error) {
			if growing {
				return media.Message{}, media.ErrNotYet
			}
			return media.Message{}, io.EOF
		}
		if s.pos+11 > size {
			return end()
		}
		if err := s.rb.ReadAt(s.hdr[:], s.pos); err != nil {
			return media.Message{}, s.fail(err)
		}
		h := s.hdr[:]
		typ := h[0] & 0x1f
		n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
		if h[0]&0x20 != 0 || n > s.limit {
			return media.Message{}, fmt.Errorf("%w: tag at %d", ErrCorrupt, s.pos)
		}
		at := s.pos
		if at+11+int64(n) > size {
			return end()
		}
		s.pos = min(at+11+int64(n)+4, size)
		if at == s.idx.MetadataOffset() {
			continue
		}
		switch typ {
		case media.TypeAudio, media.TypeVideo, media.TypeDataAMF0:
		default:
			continue
		}
		body := make([]byte, n)
		if err := s.rb.ReadAt(body, at+11); err != nil {
			return media.Message{}, s.fail(err)
		}
		return media.Message{Type: typ, Timestamp: ts, Payload: body}, nil
	}
}

// fail turns a read error inside the indexed part into a corruption error
// (the file shrank or changed under its index).
func (s *Source) fail(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: the file changed while it was read", ErrCorrupt)
	}
	return err
}

var _ media.Source = (*Source)(nil)
