package flv

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Bounds of an Index: what one file can make the server hold however it
// is built.
const (
	// MaxKeyPoints bounds the seek points of an index; past it they are
	// thinned (every other one dropped, the spacing doubled).
	MaxKeyPoints = 1 << 18
	// maxHeaders bounds the codec headers an index keeps per media type
	// (a stream that changes codec configuration more often keeps the
	// latest).
	maxHeaders = 64
	// maxScriptTag bounds the onMetaData tag an index decodes.
	maxScriptTag = 1 << 20
	// keySpacing is the least time between two seek points (audio-only
	// files get one that often).
	keySpacing = 500
)

// ErrCorrupt is returned for a file whose tags cannot be read.
var ErrCorrupt = errors.New("flv: corrupt file")

// KeyPoint is a place a reader can start from: a video key frame (or, in a
// file without video, an audio tag), by timestamp and file offset.
type KeyPoint struct {
	TS     uint32
	Offset int64
}

// header is a codec configuration tag (AVC/HEVC or AAC sequence header)
// and where it is in the file.
type header struct {
	offset int64
	m      media.Message
}

// Index locates what readers of one FLV file need: where its tags begin
// and end, its timestamps, its onMetaData, its key frames and its codec
// headers. It holds no media: every reader reads the frames from disk as it
// plays, and all readers of a file share one index. An index is built by
// scanning a file (ScanIndex) or grows with a recording (Add, SetSize,
// Finish), which readers can follow as it is written.
type Index struct {
	mu         sync.RWMutex
	dataStart  int64 // offset of the first tag
	size       int64 // end of the last complete tag (with its trailing size)
	first      uint32
	last       uint32
	seenMedia  bool
	flags      byte
	meta       *amf.Object
	metaOffset int64 // offset of the onMetaData tag readers skip, or -1
	keys       []KeyPoint
	spacing    uint32
	video      []header
	audio      []header
	growing    bool
	changed    chan struct{}
}

// NewIndex returns an empty index of a file whose first tag is at
// dataStart; growing marks a recording in progress.
func NewIndex(dataStart int64, growing bool) *Index {
	return &Index{dataStart: dataStart, size: dataStart, metaOffset: -1, spacing: keySpacing,
		growing: growing, changed: make(chan struct{})}
}

// Add records the tag at offset (its whole length on disk is 11 + len of
// its body + 4). body needs only its first two bytes, except for codec
// headers and onMetaData, which are kept whole (copied).
func (x *Index) Add(offset int64, typ uint8, ts uint32, body []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.add(offset, typ, ts, body)
}

func (x *Index) add(offset int64, typ uint8, ts uint32, body []byte) {
	m := media.Message{Type: typ, Timestamp: ts, Payload: body}
	switch typ {
	case media.TypeAudio, media.TypeVideo:
	case media.TypeDataAMF0:
		if x.meta == nil && x.metaOffset < 0 && !x.seenMedia {
			if vs, err := amf.DecodeAll(body); err == nil && len(vs) >= 2 {
				if name, _ := vs[0].(string); name == "onMetaData" {
					if o, ok := amf.AsObject(vs[1]); ok {
						x.meta, x.metaOffset = o, offset
					}
				}
			}
		}
		return
	default:
		return
	}
	if !x.seenMedia {
		x.first, x.seenMedia = ts, true
	}
	x.last = max(x.last, ts)
	if typ == media.TypeAudio {
		x.flags |= FlagAudio
	} else if x.flags&FlagVideo == 0 {
		x.flags |= FlagVideo
		// Audio seek points made while there was no video are no
		// places to start the video: only its key frames are.
		x.keys, x.spacing = x.keys[:0], keySpacing
	}
	switch {
	case m.IsSequenceHeader():
		m.Payload = append([]byte(nil), body...)
		if typ == media.TypeVideo {
			x.video = appendHeader(x.video, header{offset, m})
		} else {
			x.audio = appendHeader(x.audio, header{offset, m})
		}
	case typ == media.TypeVideo && m.IsKeyframe(), typ == media.TypeAudio && x.flags&FlagVideo == 0:
		if n := len(x.keys); n > 0 && ts < x.keys[n-1].TS+x.spacing {
			return // too close to the last one, or before it
		}
		x.keys = append(x.keys, KeyPoint{TS: ts, Offset: offset})
		if len(x.keys) >= MaxKeyPoints {
			kept := x.keys[:0]
			for i, k := range x.keys {
				if i%2 == 0 {
					kept = append(kept, k)
				}
			}
			x.keys = kept
			x.spacing *= 2
		}
	}
}

func appendHeader(hs []header, h header) []header {
	if len(hs) == maxHeaders {
		copy(hs, hs[1:])
		hs = hs[:len(hs)-1]
	}
	return append(hs, h)
}

// Reopen makes a scanned index a recording in progress again (an append
// to the file): readers follow what is added until Finish.
func (x *Index) Reopen() {
	x.mu.Lock()
	x.growing = true
	x.mu.Unlock()
}

// SetSize tells the readers of a recording that the file holds complete
// tags up to size.
func (x *Index) SetSize(size int64) {
	x.mu.Lock()
	if size > x.size {
		x.size = size
		close(x.changed)
		x.changed = make(chan struct{})
	}
	x.mu.Unlock()
}

// Finish marks a recording's end: readers reaching size get io.EOF.
func (x *Index) Finish() {
	x.mu.Lock()
	if x.growing {
		x.growing = false
		close(x.changed)
		x.changed = make(chan struct{})
	}
	x.mu.Unlock()
}

// Size is the end of the last complete tag.
func (x *Index) Size() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.size
}

// DataStart is the offset of the first tag.
func (x *Index) DataStart() int64 { return x.dataStart }

// Flags says which media the file holds (FlagAudio, FlagVideo).
func (x *Index) Flags() byte {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.flags
}

// LastTimestamp is the largest timestamp of an audio or video tag.
func (x *Index) LastTimestamp() uint32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.last
}

// Duration is the length of the file's timeline in milliseconds (its last
// timestamp), 0 while it is being recorded.
func (x *Index) Duration() uint32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.growing {
		return 0
	}
	return x.last
}

// Metadata is the file's own onMetaData object, or nil.
func (x *Index) Metadata() *amf.Object {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.meta
}

// MetadataOffset is the offset of the onMetaData tag, or -1.
func (x *Index) MetadataOffset() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.metaOffset
}

// KeyPoints returns a copy of the seek points.
func (x *Index) KeyPoints() []KeyPoint {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]KeyPoint(nil), x.keys...)
}

// seek returns where to start for ms and the codec headers in force there.
func (x *Index) seek(ms uint32) (int64, uint32, []media.Message) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	// The last key point at or before ms.
	lo, hi := 0, len(x.keys)
	for lo < hi {
		mid := (lo + hi) / 2
		if x.keys[mid].TS <= ms {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 || x.keys[lo-1].TS <= x.first {
		// Before the first key frame, or at the very start: from the top.
		return x.dataStart, x.first, nil
	}
	k := x.keys[lo-1]
	var hdrs []media.Message
	for _, hs := range [][]header{x.video, x.audio} {
		for i := len(hs) - 1; i >= 0; i-- {
			if hs[i].offset < k.Offset {
				h := hs[i].m
				h.Timestamp = k.TS
				hdrs = append(hdrs, h)
				break
			}
		}
	}
	return k.Offset, k.TS, hdrs
}

// state returns what a reader needs to read on: the size, whether more is
// coming, and the channel that says so.
func (x *Index) state() (size int64, growing bool, changed <-chan struct{}) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.size, x.growing, x.changed
}

// ReadHeader reads and checks the FLV header at the start of r and returns
// the offset of the first tag and the header's flags.
func ReadHeader(r io.ReaderAt) (dataStart int64, flags byte, err error) {
	var h [13]byte
	if _, err := r.ReadAt(h[:9], 0); err != nil {
		return 0, 0, ErrNotFLV
	}
	if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
		return 0, 0, ErrNotFLV
	}
	off := binary.BigEndian.Uint32(h[5:9])
	if off < 9 || off > 1<<16 {
		return 0, 0, ErrNotFLV
	}
	return int64(off) + 4, h[4], nil
}

// ScanIndex builds the index of the FLV file r of size bytes by reading
// its tag headers (and the onMetaData and codec header tags whole). A file
// cut inside a tag, or with garbage after its last good tag, is indexed up
// to its last complete tag; tags over maxTag bytes (0: MaxTagSize) end it
// too.
func ScanIndex(r io.ReaderAt, size int64, maxTag int) (*Index, error) {
	dataStart, _, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	if dataStart > size {
		return nil, ErrNotFLV // the header announces more than there is
	}
	if maxTag <= 0 || maxTag > MaxTagSize {
		maxTag = MaxTagSize
	}
	x := NewIndex(dataStart, false)
	off := dataStart
	var h [13]byte
	for off+11 <= size {
		n, err := r.ReadAt(h[:], off)
		if n < 11 {
			if err != nil && err != io.EOF {
				return nil, err
			}
			break
		}
		typ := h[0] & 0x1f
		n32 := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
		if h[0]&0x20 != 0 || n32 > maxTag || (typ != media.TypeAudio && typ != media.TypeVideo && typ != media.TypeDataAMF0) {
			break // encrypted, oversized or not a tag: the good part ends here
		}
		end := off + 11 + int64(n32)
		if end > size {
			break
		}
		body := h[11:min(n, 11+n32)]
		whole := typ == media.TypeDataAMF0 && x.metaOffset < 0 && !x.seenMedia && n32 <= maxScriptTag
		if !whole && n32 >= 2 && typ != media.TypeDataAMF0 {
			m := media.Message{Type: typ, Payload: body}
			whole = m.IsSequenceHeader() && n32 <= maxScriptTag
		}
		if whole {
			buf := make([]byte, n32)
			if k, _ := r.ReadAt(buf, off+11); k < n32 {
				break
			}
			body = buf
		}
		x.add(off, typ, ts, body)
		off = end + 4
		if off > size {
			off = size // a last tag without its trailing size
		}
	}
	x.size = off
	return x, nil
}
