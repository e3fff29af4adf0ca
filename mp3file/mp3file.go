// Package mp3file reads MP3 files (MPEG-1 and MPEG-2/2.5 audio, layers
// I–III, ISO/IEC 11172-3 and 13818-3) for video on demand ("mp3:name"),
// as FLV audio messages (sound format 2): an index of the file's frames
// (every half second, to seek) shared by its readers, each of which reads
// the frames from disk as it plays. An ID3v2 tag at the start and an ID3v1
// tag at the end are skipped; bytes that are no frame are skipped up to
// the next frame header.
package mp3file

import (
	"errors"
	"io"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/internal/readbuf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Bounds.
const (
	// maxResync bounds the bytes skipped looking for the next frame.
	maxResync = 64 << 10
	// checkpointEvery is the time between two seek points (ms).
	checkpointEvery = 500
)

// ErrNotMP3 is returned for a file in which no MP3 frame is found.
var ErrNotMP3 = errors.New("mp3file: no MPEG audio frame found")

// header is a parsed frame header.
type header struct {
	size     int // the whole frame, header included
	rate     int
	samples  int // per frame
	channels int
}

var (
	bitrates = [2][3][16]int{ // [MPEG-1, MPEG-2/2.5][layer I, II, III][index], kbit/s
		{
			{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0},
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0},
			{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
		},
		{
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
		},
	}
	rates = [4][3]int{ // [version bits][index]
		{11025, 12000, 8000},  // MPEG-2.5
		{},                    // reserved
		{22050, 24000, 16000}, // MPEG-2
		{44100, 48000, 32000}, // MPEG-1
	}
)

// parseHeader reads a frame header; ok is false for anything else
// (free-format frames included).
func parseHeader(b []byte) (header, bool) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return header{}, false
	}
	version := (b[1] >> 3) & 3
	layer := (b[1] >> 1) & 3
	bri := b[2] >> 4
	sri := (b[2] >> 2) & 3
	if version == 1 || layer == 0 || bri == 0 || bri == 15 || sri == 3 {
		return header{}, false
	}
	mpeg1 := version == 3
	v := 1
	if mpeg1 {
		v = 0
	}
	l := 3 - int(layer) // 0: layer I
	bitrate := bitrates[v][l][bri] * 1000
	rate := rates[version][sri]
	pad := int(b[2]>>1) & 1
	h := header{rate: rate, channels: 2}
	if b[3]>>6 == 3 {
		h.channels = 1
	}
	switch {
	case l == 0:
		h.size, h.samples = (12*bitrate/rate+pad)*4, 384
	case l == 2 && !mpeg1:
		h.size, h.samples = 72*bitrate/rate+pad, 576
	default:
		h.size, h.samples = 144*bitrate/rate+pad, 1152
	}
	if h.size < 4 {
		return header{}, false
	}
	return h, true
}

// point is a place to start reading: a frame and its time.
type point struct {
	ts  uint32
	off int64
}

// Index locates the frames of an MP3 file.
type Index struct {
	start, end int64 // the frames lie in [start, end)
	points     []point
	duration   uint32
	rate       int
	channels   int
}

// Scan indexes the MP3 file r of size bytes.
func Scan(r io.ReaderAt, size int64) (*Index, error) {
	x := &Index{start: skipID3v2(r, size), end: size}
	var tag [3]byte
	if size >= 128 {
		if _, err := r.ReadAt(tag[:], size-128); err == nil && string(tag[:]) == "TAG" {
			x.end = size - 128
		}
	}
	rb := readbuf.New(r, 64<<10)
	var micros uint64
	off := x.start
	found := false
	for off+4 <= x.end {
		h, next, ok := frameAt(rb, off, x.end)
		if !ok {
			break
		}
		if !found {
			x.start, x.rate, x.channels, found = next, h.rate, h.channels, true
			if infoFrame(rb, next, h) {
				// A LAME/Xing "Info" or VBRI frame describes the file
				// and holds no audio.
				off = next + int64(h.size)
				x.start = off
				continue
			}
		}
		ts := uint32(min(micros/1000, 1<<32-1))
		if n := len(x.points); n == 0 || ts >= x.points[n-1].ts+checkpointEvery {
			x.points = append(x.points, point{ts, next})
		}
		micros += uint64(h.samples) * 1000000 / uint64(h.rate)
		off = next + int64(h.size)
	}
	if !found {
		return nil, ErrNotMP3
	}
	x.end = min(x.end, off)
	x.duration = uint32(min(micros/1000, 1<<32-1))
	return x, nil
}

// frameAt finds the frame at off or, past bytes that are none, the next
// one (within maxResync); next is where it is.
func frameAt(rb *readbuf.Reader, off, end int64) (header, int64, bool) {
	var b [4]byte
	for skipped := 0; skipped <= maxResync && off+4 <= end; skipped++ {
		if err := rb.ReadAt(b[:], off); err != nil {
			return header{}, 0, false
		}
		if h, ok := parseHeader(b[:]); ok && off+int64(h.size) <= end {
			return h, off, true
		}
		off++
	}
	return header{}, 0, false
}

// infoFrame reports whether the frame at off is a Xing, Info or VBRI
// header rather than audio.
func infoFrame(rb *readbuf.Reader, off int64, h header) bool {
	var b [40]byte
	if h.size < len(b) || rb.ReadAt(b[:], off) != nil {
		return false
	}
	mpeg1 := (b[1]>>3)&3 == 3
	side := 17 // MPEG-1 mono, MPEG-2 stereo
	switch {
	case mpeg1 && h.channels == 2:
		side = 32
	case !mpeg1 && h.channels == 1:
		side = 9
	}
	tag := string(b[4+side : 8+side])
	return tag == "Xing" || tag == "Info" || string(b[36:40]) == "VBRI"
}

// skipID3v2 returns where the audio starts after an ID3v2 tag.
func skipID3v2(r io.ReaderAt, size int64) int64 {
	var h [10]byte
	if _, err := r.ReadAt(h[:], 0); err != nil || string(h[:3]) != "ID3" {
		return 0
	}
	n := int64(h[6]&0x7f)<<21 | int64(h[7]&0x7f)<<14 | int64(h[8]&0x7f)<<7 | int64(h[9]&0x7f)
	n += 10
	if h[5]&0x10 != 0 {
		n += 10 // footer
	}
	return min(n, size)
}

// Duration is the file's length in milliseconds.
func (x *Index) Duration() uint32 { return x.duration }

// Source reads an indexed MP3 file for one reader (a media.Source).
type Source struct {
	idx            *Index
	rb             *readbuf.Reader
	off            int64
	micros         uint64
	readbuf.Closer // Close releases the source
}

// NewSource returns a reader of r indexed by idx; closer, if not nil, is
// called by Close.
func NewSource(r io.ReaderAt, idx *Index, closer func() error) *Source {
	return &Source{idx: idx, rb: readbuf.New(r, 0), off: idx.start, Closer: readbuf.NewCloser(closer)}
}

// Duration is the file's length in milliseconds.
func (s *Source) Duration() uint32 { return s.idx.duration }

// Metadata describes the audio, the duration first.
func (s *Source) Metadata() *amf.Object {
	return media.SourceMetadata(s.idx.duration, amf.NewObject(
		amf.Property{Key: "audiocodecid", Value: 2.0},
		amf.Property{Key: "audiosamplerate", Value: float64(s.idx.rate)},
		amf.Property{Key: "audiochannels", Value: float64(s.idx.channels)},
	))
}

// Seek positions the source at the last seek point at or before ms. MP3
// has no codec header.
func (s *Source) Seek(ms uint32) ([]media.Message, error) {
	p := point{0, s.idx.start}
	for _, q := range s.idx.points {
		if q.ts > ms {
			break
		}
		p = q
	}
	s.off, s.micros = p.off, uint64(p.ts)*1000
	return nil, nil
}

// Changed is closed at once: a file does not grow.
func (s *Source) Changed() <-chan struct{} { return media.Ready() }

// Next returns the next frame as an FLV audio message.
func (s *Source) Next() (media.Message, error) {
	h, at, ok := frameAt(s.rb, s.off, s.idx.end)
	if !ok {
		return media.Message{}, io.EOF
	}
	buf := make([]byte, 1+h.size)
	buf[0] = FLVTag(h.rate, h.channels)
	if err := s.rb.ReadAt(buf[1:], at); err != nil {
		return media.Message{}, io.EOF
	}
	ts := uint32(min(s.micros/1000, 1<<32-1))
	s.off = at + int64(h.size)
	s.micros += uint64(h.samples) * 1000000 / uint64(h.rate)
	return media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: buf}, nil
}

// FLVTag is the FLV audio tag header byte of MP3 audio: sound format 2
// (14 at 8 kHz), 16-bit, the rate and the channels.
func FLVTag(rate, channels int) byte {
	b := byte(2<<4) | 0x02
	switch {
	case rate == 8000:
		b = 14<<4 | 0x02
	case rate >= 44100:
		b |= 3 << 2
	case rate >= 22050:
		b |= 2 << 2
	case rate >= 11025:
		b |= 1 << 2
	}
	if channels != 1 {
		b |= 1
	}
	return b
}

var _ media.Source = (*Source)(nil)
