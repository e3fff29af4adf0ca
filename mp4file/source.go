package mp4file

import (
	"fmt"
	"io"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/internal/readbuf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Source reads an indexed MP4 file for one reader (a media.Source): the
// samples, in decoding order across tracks, read from disk as they are
// asked for and wrapped as FLV video and audio messages.
type Source struct {
	idx            *Index
	rb             *readbuf.Reader
	pos            int
	readbuf.Closer // Close releases the source
}

// NewSource returns a reader of the file r indexed by idx, at its start.
// closer, if not nil, is called by Close.
func NewSource(r io.ReaderAt, idx *Index, closer func() error) *Source {
	return &Source{idx: idx, rb: readbuf.New(r, 0), Closer: readbuf.NewCloser(closer)}
}

// Duration is the file's duration in milliseconds.
func (s *Source) Duration() uint32 { return s.idx.Duration() }

// Metadata describes the tracks, the duration first.
func (s *Source) Metadata() *amf.Object { return s.idx.Metadata() }

// Seek positions the source at the last key frame at or before ms and
// returns the tracks' codec headers.
func (s *Source) Seek(ms uint32) ([]media.Message, error) {
	i, ts := s.idx.seek(ms)
	s.pos = i
	return s.idx.headers(ts), nil
}

// Changed is closed when there is more to read (see media.Source).
func (s *Source) Changed() <-chan struct{} {
	_, _, ok, growing, ch := s.idx.sample(s.pos)
	if ok || !growing {
		return media.Ready()
	}
	return ch
}

// Next returns the next sample as an FLV message.
func (s *Source) Next() (media.Message, error) {
	smp, t, ok, growing, _ := s.idx.sample(s.pos)
	if !ok {
		if growing {
			return media.Message{}, media.ErrNotYet
		}
		return media.Message{}, io.EOF
	}
	s.pos++
	pre := t.prefix(smp)
	buf := make([]byte, len(pre)+int(smp.Size))
	copy(buf, pre)
	if err := s.rb.ReadAt(buf[len(pre):], smp.Offset); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return media.Message{}, fmt.Errorf("%w: sample at %d is past the end of the file", ErrCorrupt, smp.Offset)
		}
		return media.Message{}, err
	}
	typ := media.TypeAudio
	if t.Video {
		typ = media.TypeVideo
	}
	return media.Message{Type: typ, Timestamp: smp.DTS, Payload: buf}, nil
}

var _ media.Source = (*Source)(nil)
