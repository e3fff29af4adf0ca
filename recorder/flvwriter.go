package recorder

import (
	"encoding/binary"
	"fmt"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/chunkfile"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// writeChunk is how much a writer gathers before writing it out.
const writeChunk = 64 << 10

// fileWriter writes one recording's file.
type fileWriter interface {
	// Write adds a message (its timestamp already on the file's
	// timeline).
	Write(m media.Message) error
	// Flush writes what is gathered.
	Flush() error
	// Close completes the file (abort: without what is still gathered)
	// and closes it.
	Close(abort bool) error
	// Size is the file's size on disk.
	Size() int64
	// LastTimestamp is the last timestamp in the file (the old content's,
	// for an append).
	LastTimestamp() uint32
	// HasContent reports whether the file held media before this
	// recording (an append to a recording).
	HasContent() bool
	// source reads the file as it is written.
	source() (media.Source, error)
}

// flvWriter writes an FLV recording. Tags are gathered and written in
// chunks that end on tag boundaries, so that what is on disk is always a
// valid file up to its last complete tag; at the end the header's flags,
// the metadata's duration and file size are rewritten in place.
type flvWriter struct {
	f       File
	open    func() (File, error) // a reader of the file, for the DVR
	reserve chunkfile.Budget
	buf     chunkfile.Buffer
	off     int64 // end, with what is gathered
	durable int64 // end of what is on disk
	idx     *flv.Index
	flags   byte
	durOff  int64 // where the metadata's duration number is, or -1
	sizeOff int64 // where the metadata's filesize number is, or -1
	last    uint32
	had     bool // the file held tags before
	started bool // the header is written
}

// newFLVWriter prepares f for a recording: a new file, or (append) the
// file's existing tags, which the recording follows.
func newFLVWriter(f File, appendTo bool, reserve chunkfile.Budget, open func() (File, error)) (*flvWriter, error) {
	w := &flvWriter{f: f, open: open, reserve: reserve, durOff: -1, sizeOff: -1}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !appendTo || fi.Size() == 0 {
		if fi.Size() != 0 {
			if err := f.Truncate(0); err != nil {
				return nil, err
			}
		}
		w.idx = flv.NewIndex(13, true)
		return w, nil
	}
	idx, err := flv.ScanIndex(f, fi.Size(), 0)
	if err != nil {
		return nil, fmt.Errorf("appending to a file that is not FLV: %w", err)
	}
	end := idx.Size()
	if end < fi.Size() {
		// A tail that is no tag (a recording cut short): drop it.
		if err := f.Truncate(end); err != nil {
			return nil, err
		}
	}
	_, hflags, _ := flv.ReadHeader(f)
	w.flags = hflags & (flv.FlagAudio | flv.FlagVideo)
	w.flags |= idx.Flags()
	w.last = idx.LastTimestamp()
	w.had = idx.Flags() != 0
	w.off, w.durable, w.started = end, end, true
	if mo := idx.MetadataOffset(); mo >= 0 {
		var h [11]byte
		if _, err := f.ReadAt(h[:], mo); err == nil {
			n := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
			if n <= 1<<20 {
				body := make([]byte, n)
				if _, err := f.ReadAt(body, mo+11); err == nil {
					if i := flv.NumberOffset(body, "duration"); i >= 0 {
						w.durOff = mo + 11 + int64(i)
					}
					if i := flv.NumberOffset(body, "filesize"); i >= 0 {
						w.sizeOff = mo + 11 + int64(i)
					}
				}
			}
		}
	}
	idx.Reopen()
	w.idx = idx
	return w, nil
}

func (w *flvWriter) Size() int64           { return w.durable }
func (w *flvWriter) LastTimestamp() uint32 { return w.last }
func (w *flvWriter) HasContent() bool      { return w.had }

// start writes the header and the metadata tag (the publisher's metadata
// when m is it, with a duration and a file size to rewrite at the end).
// It reports whether m was consumed.
func (w *flvWriter) start(m media.Message) (bool, error) {
	w.started = true
	w.buf.Append([]byte{'F', 'L', 'V', 1, flv.FlagAudio | flv.FlagVideo, 0, 0, 0, 9, 0, 0, 0, 0})
	w.off = int64(w.buf.Len())
	props := amf.NewObject()
	consumed := false
	if m.Type == media.TypeDataAMF0 {
		if vs, err := netstream.DecodeData(m); err == nil && len(vs) >= 2 {
			if h, _ := vs[0].(string); h == "onMetaData" {
				if o, ok := amf.AsObject(vs[1]); ok {
					props, consumed = o, true
				}
			}
		}
	}
	meta := amf.NewObject(amf.Property{Key: "duration", Value: 0.0})
	for k, v := range props.All() {
		switch k {
		case "duration", "filesize", "keyframes":
			continue
		}
		meta.Props = append(meta.Props, amf.Property{Key: k, Value: v})
	}
	meta.Set("filesize", 0.0)
	body, err := flv.EncodeMetadata(meta)
	if err != nil {
		return consumed, err
	}
	at := w.off
	if err := w.tag(media.Message{Type: media.TypeDataAMF0, Payload: body}); err != nil {
		return consumed, err
	}
	if i := flv.NumberOffset(body, "duration"); i >= 0 {
		w.durOff = at + 11 + int64(i)
	}
	if i := flv.NumberOffset(body, "filesize"); i >= 0 {
		w.sizeOff = at + 11 + int64(i)
	}
	// On disk at once: from now on the file is a valid FLV file.
	return consumed, w.Flush()
}

// Write adds m as a tag.
func (w *flvWriter) Write(m media.Message) error {
	switch m.Type {
	case media.TypeAudio, media.TypeVideo, media.TypeDataAMF0:
	default:
		return nil // AMF3 data and the like have no FLV tag
	}
	if !w.started {
		consumed, err := w.start(m)
		if err != nil || consumed {
			return err
		}
	}
	if len(m.Payload) > flv.MaxTagSize {
		return nil
	}
	if err := w.tag(m); err != nil {
		return err
	}
	if w.buf.Len() >= writeChunk {
		return w.Flush()
	}
	return nil
}

// tag gathers one tag and indexes it.
func (w *flvWriter) tag(m media.Message) error {
	n := len(m.Payload)
	at := w.off
	w.buf.Append([]byte{m.Type, byte(n >> 16), byte(n >> 8), byte(n),
		byte(m.Timestamp >> 16), byte(m.Timestamp >> 8), byte(m.Timestamp), byte(m.Timestamp >> 24), 0, 0, 0},
		m.Payload, binary.BigEndian.AppendUint32(nil, uint32(11+n)))
	w.off += int64(11 + n + 4)
	switch m.Type {
	case media.TypeAudio:
		w.flags |= flv.FlagAudio
		w.last = max(w.last, m.Timestamp)
	case media.TypeVideo:
		w.flags |= flv.FlagVideo
		w.last = max(w.last, m.Timestamp)
	}
	w.idx.Add(at, m.Type, m.Timestamp, m.Payload)
	return nil
}

// Flush writes the gathered tags (those that fit the quota).
func (w *flvWriter) Flush() error {
	_, n, err := w.buf.WriteAt(w.f, w.durable, w.reserve)
	if n > 0 {
		w.durable += int64(n)
		w.idx.SetSize(w.durable)
	}
	return err
}

// Close completes the file: what is gathered is written (unless abort),
// anything after the last complete tag is cut, and the header flags, the
// duration and the file size are rewritten.
func (w *flvWriter) Close(abort bool) error {
	var err error
	if !w.started && !abort {
		// Nothing was published: an empty, valid file.
		_, err = w.start(media.Message{})
	}
	if err == nil && !abort {
		err = w.Flush()
	}
	if abort || err != nil {
		w.buf.Reset()
		if fi, serr := w.f.Stat(); serr == nil && fi.Size() != w.durable {
			if terr := w.f.Truncate(w.durable); terr != nil && err == nil {
				err = terr
			}
		}
	}
	if w.durable >= 13 {
		var b [8]byte
		if _, werr := w.f.WriteAt([]byte{w.flags}, 4); werr != nil && err == nil {
			err = werr
		}
		if w.durOff >= 0 && w.durOff+8 <= w.durable {
			flv.PutNumber(b[:], float64(w.last)/1000)
			if _, werr := w.f.WriteAt(b[:], w.durOff); werr != nil && err == nil {
				err = werr
			}
		}
		if w.sizeOff >= 0 && w.sizeOff+8 <= w.durable {
			flv.PutNumber(b[:], float64(w.durable))
			if _, werr := w.f.WriteAt(b[:], w.sizeOff); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if serr := w.f.Sync(); serr != nil && err == nil {
		err = serr
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if w.idx != nil {
		w.idx.Finish()
	}
	return err
}

// source reads the recording as it is written.
func (w *flvWriter) source() (media.Source, error) {
	fh, err := w.open()
	if err != nil {
		return nil, err
	}
	return flv.NewSource(fh, w.idx, 0, fh.Close), nil
}
