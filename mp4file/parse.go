package mp4file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Bounds of what a file can make a reader hold.
const (
	// MaxMoov bounds the movie box read into memory to index a file.
	MaxMoov = 64 << 20
	// MaxSamples bounds the samples of a file (all tracks); a longer file
	// is indexed up to there.
	MaxSamples = 1 << 22
	// maxTopBoxes bounds the top-level boxes walked to find the movie box.
	maxTopBoxes = 1 << 16
)

// ErrCorrupt is returned for a file whose boxes or sample tables cannot be
// read.
var ErrCorrupt = errors.New("mp4file: corrupt file")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// box is one box inside a buffer.
type box struct {
	typ     string
	payload []byte
}

// boxes splits b into its boxes. A box whose size does not fit is an
// error.
func boxes(b []byte) ([]box, error) {
	var out []box
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, corrupt("%d stray bytes", len(b))
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return nil, corrupt("truncated %q header", typ)
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return nil, corrupt("box %q of %d bytes in %d", typ, size, len(b))
		}
		out = append(out, box{typ: typ, payload: b[hdr:size]})
		b = b[size:]
	}
	return out, nil
}

// child returns the first box of type typ among bs.
func child(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// path descends through container boxes: path(moov, "trak", "mdia").
func path(b []byte, types ...string) ([]byte, bool) {
	for _, t := range types {
		bs, err := boxes(b)
		if err != nil {
			return nil, false
		}
		c, ok := child(bs, t)
		if !ok {
			return nil, false
		}
		b = c.payload
	}
	return b, true
}

// topBox is a top-level box of the file.
type topBox struct {
	typ        string
	off, size  int64
	headerSize int64
}

// topBoxes walks the file's top-level boxes.
func topBoxes(r io.ReaderAt, size int64) ([]topBox, error) {
	var out []topBox
	var h [16]byte
	for off := int64(0); off < size; {
		if len(out) == maxTopBoxes {
			return nil, corrupt("more than %d top-level boxes", maxTopBoxes)
		}
		n, _ := r.ReadAt(h[:], off)
		if n < 8 {
			break // a stray tail
		}
		bs := int64(binary.BigEndian.Uint32(h[:]))
		hs := int64(8)
		switch bs {
		case 0:
			bs = size - off
		case 1:
			if n < 16 {
				return nil, corrupt("truncated box header at %d", off)
			}
			v := binary.BigEndian.Uint64(h[8:])
			if v > uint64(size) {
				return nil, corrupt("box at %d is longer than the file", off)
			}
			bs, hs = int64(v), 16
		}
		if bs < hs {
			return nil, corrupt("box of %d bytes at %d", bs, off)
		}
		if off+bs > size {
			// A last box cut short (a recording interrupted): keep it
			// to its end, as mdat may be.
			bs = size - off
		}
		out = append(out, topBox{typ: string(h[4:8]), off: off, size: bs, headerSize: hs})
		off += bs
	}
	return out, nil
}

// fullBox skips a full box's version and flags, returning the version.
func fullBox(b []byte) (byte, []byte, bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	return b[0], b[4:], true
}

// table returns the entries of a full box holding a 32-bit entry count
// followed by entries of entrySize bytes; the count must fit the box.
func table(b []byte, entrySize int) ([]byte, int, error) {
	_, b, ok := fullBox(b)
	if !ok || len(b) < 4 {
		return nil, 0, corrupt("short table")
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n)*uint64(entrySize) > uint64(len(b)) {
		return nil, 0, corrupt("table of %d entries in %d bytes", n, len(b))
	}
	return b, int(n), nil
}

// decodeESDS returns the object type and the decoder-specific information
// (for AAC, the AudioSpecificConfig) of an esds box's payload, through
// mp4ff's descriptor parser (which checks every length against the box).
func decodeESDS(payload []byte) (objType byte, config []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt("esds: %v", r)
		}
	}()
	if len(payload) > 1<<16 {
		return 0, nil, corrupt("esds of %d bytes", len(payload))
	}
	hdr := mp4.BoxHeader{Name: "esds", Size: uint64(8 + len(payload)), Hdrlen: 8}
	bx, err := mp4.DecodeEsdsSR(hdr, 0, bits.NewFixedSliceReader(payload))
	if err != nil {
		return 0, nil, corrupt("esds: %v", err)
	}
	e := bx.(*mp4.EsdsBox)
	dc := e.DecConfigDescriptor
	if dc == nil {
		return 0, nil, corrupt("esds without a decoder configuration")
	}
	if dc.DecSpecificInfo != nil {
		config = dc.DecSpecificInfo.DecConfig
	}
	return dc.ObjectType, config, nil
}
