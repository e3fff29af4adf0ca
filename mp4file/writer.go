package mp4file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/rtmfpd/rtmfpd/internal/chunkfile"
	"github.com/rtmfpd/rtmfpd/media"
)

// writeChunk is how much a Writer gathers before writing it out.
const writeChunk = 64 << 10

// File is what a Writer writes (an *os.File).
type File interface {
	io.WriterAt
	io.ReaderAt
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// Errors of a Writer.
var (
	// ErrTooLong: the recording reached MaxSamples.
	ErrTooLong = errors.New("mp4file: too many samples for one file")
	// ErrConfigChanged: a track's codec configuration changed, which one
	// MP4 track cannot hold.
	ErrConfigChanged = errors.New("mp4file: the codec configuration changed")
)

// Writer records FLV-style video and audio messages (H.264 or H.265 video,
// AAC or MP3 audio) as a progressive MP4 file: ftyp, one mdat written as
// the messages come, and at the end the movie box with the sample tables
// (mp4ff builds its boxes). Until Close the file has no movie box; its
// Index can be read meanwhile (a DVR). Frames that come before their
// track's codec header, and codecs MP4 cannot carry here, are dropped.
type Writer struct {
	f         File
	idx       *Index
	reserve   chunkfile.Budget
	buf       chunkfile.Buffer
	pending   []Sample // the samples gathered in buf
	headed    bool     // buf begins with the file's (or the new mdat's) header
	off       int64    // end, with what is gathered
	durable   int64    // end of what is on disk
	mdatStart int64
	video     int // track index, or -1
	audio     int
	had       bool
	last      uint32
	dropped   int
}

// NewWriter starts a new file (f4v: the F4V brand) on f, which must be
// empty; reserve (if not nil) is asked before each write (see
// chunkfile.Budget).
func NewWriter(f File, f4v bool, reserve chunkfile.Budget) (*Writer, error) {
	w := &Writer{f: f, idx: newIndex(true), reserve: reserve, video: -1, audio: -1}
	ftyp := mp4.NewFtyp("isom", 0x200, []string{"isom", "iso2", "avc1", "mp41"})
	if f4v {
		ftyp = mp4.NewFtyp("f4v ", 0, []string{"isom", "mp42", "m4v "})
	}
	var b bytes.Buffer
	if err := ftyp.Encode(&b); err != nil {
		return nil, err
	}
	w.mdatStart = int64(b.Len())
	w.buf.Append(b.Bytes(), mdatHeader())
	w.off, w.headed = int64(w.buf.Len()), true
	return w, nil
}

// AppendWriter continues the MP4 file f: its samples stay where they are,
// its movie box is dropped (cut off when it is last, renamed "free"
// otherwise), new samples go into a new mdat at the end, and Close writes
// a movie box for all of them.
func AppendWriter(f File, reserve chunkfile.Budget) (*Writer, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	x, err := Scan(f, fi.Size())
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, idx: x, reserve: reserve, video: -1, audio: -1, had: len(x.samples) > 0}
	for i, t := range x.tracks {
		if t.Video {
			w.video = i
		} else {
			w.audio = i
		}
	}
	for _, s := range x.samples {
		w.last = max(w.last, s.DTS)
	}
	end := fi.Size()
	if m := x.moov; m.off+m.size == end {
		if err := f.Truncate(m.off); err != nil {
			return nil, err
		}
		end = m.off
	} else if _, err := f.WriteAt([]byte("free"), m.off+4); err != nil {
		return nil, err
	}
	x.growing, x.moov = true, topBox{}
	w.durable, w.mdatStart = end, end
	w.buf.Append(mdatHeader())
	w.off, w.headed = end+int64(w.buf.Len()), true
	return w, nil
}

// Index is the recording's index, which readers can follow as it grows.
func (w *Writer) Index() *Index { return w.idx }

// Size is the file's size on disk.
func (w *Writer) Size() int64 { return w.durable }

// LastTimestamp is the last decoding time in the file.
func (w *Writer) LastTimestamp() uint32 { return w.last }

// HasContent reports whether the file had samples before (an append).
func (w *Writer) HasContent() bool { return w.had }

// Dropped counts the messages that could not be recorded.
func (w *Writer) Dropped() int { return w.dropped }

// Write records one message: codec headers configure their track, frames
// become samples.
func (w *Writer) Write(m media.Message) error {
	var (
		video      = m.Type == media.TypeVideo
		codec      string
		config     []byte
		data       []byte
		cts        int32
		key        bool
		header, ok bool
	)
	switch m.Type {
	case media.TypeVideo:
		codec, config, data, cts, key, header, ok = videoFrame(m.Payload)
	case media.TypeAudio:
		codec, config, data, header, ok = audioFrame(m.Payload)
		key = true
	default:
		return nil // metadata and the like have no place here
	}
	if !ok || !header && len(data) == 0 {
		w.dropped++ // not recordable, or an empty frame
		return nil
	}
	ti := w.audio
	if video {
		ti = w.video
	}
	if header {
		return w.configure(video, codec, config)
	}
	if codec == CodecMP3 && ti < 0 {
		// MP3 has no header message: its track is made with the first
		// frame, described by the FLV tag's rate and channel bits.
		rates := [4]int{5512, 11025, 22050, 44100}
		t := Track{Codec: CodecMP3, SampleRate: rates[(m.Payload[0]>>2)&3], Channels: 1 + int(m.Payload[0]&1)}
		if m.Payload[0]>>4 == 14 {
			t.SampleRate = 8000
		}
		w.idx.mu.Lock()
		w.idx.tracks = append(w.idx.tracks, t)
		w.idx.mu.Unlock()
		w.audio = len(w.idx.tracks) - 1
		ti = w.audio
	}
	if ti < 0 || w.idx.tracks[ti].Codec != codec {
		w.dropped++ // no header yet, or another codec
		return nil
	}
	if w.idx.Len()+len(w.pending) >= MaxSamples {
		return ErrTooLong
	}
	w.pending = append(w.pending, Sample{Offset: w.off, Size: uint32(len(data)), DTS: m.Timestamp, CTS: cts,
		Track: uint8(ti), Key: key})
	w.buf.Append(data)
	w.off += int64(len(data))
	w.last = max(w.last, m.Timestamp)
	if w.buf.Len() >= writeChunk {
		return w.Flush()
	}
	return nil
}

// configure sets a track's codec configuration (the first time; the same
// one again is fine).
func (w *Writer) configure(video bool, codec string, config []byte) error {
	ti := w.audio
	if video {
		ti = w.video
	}
	if ti >= 0 {
		t := w.idx.tracks[ti]
		if t.Codec == codec && bytes.Equal(t.Config, config) {
			return nil
		}
		return fmt.Errorf("%w: %s track", ErrConfigChanged, codec)
	}
	t, err := describe(video, codec, config)
	if err != nil {
		w.dropped++
		return nil // an unreadable header: the track stays unconfigured
	}
	w.idx.mu.Lock()
	w.idx.tracks = append(w.idx.tracks, t)
	w.idx.mu.Unlock()
	if video {
		w.video = len(w.idx.tracks) - 1
	} else {
		w.audio = len(w.idx.tracks) - 1
	}
	return nil
}

// Flush writes the gathered samples (those the budget allows) and shows
// them to readers.
func (w *Writer) Flush() error {
	records, n, err := w.buf.WriteAt(w.f, w.durable, w.reserve)
	if records > 0 && w.headed {
		w.headed = false
		records--
	}
	w.durable += int64(n)
	w.idx.publish(w.pending[:records])
	w.pending = w.pending[:copy(w.pending, w.pending[records:])]
	return err
}

// mdatHeader is the header of an mdat box whose (64-bit) size is written
// at the end.
func mdatHeader() []byte { return []byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 16} }

// Close completes the file: the gathered samples are written (unless
// abort), anything not on disk is cut, the mdat's size is set and the
// movie box written after it. When the disk is full, the last samples
// are dropped until the movie box fits: the file stays playable.
func (w *Writer) Close(abort bool) error {
	var err error
	if !abort {
		err = w.Flush()
	}
	if abort || err != nil {
		w.buf.Reset()
		w.pending = w.pending[:0]
	}
	if fi, serr := w.f.Stat(); serr == nil && fi.Size() != w.durable {
		if terr := w.f.Truncate(w.durable); terr != nil && err == nil {
			err = terr
		}
	}
	if w.durable < w.mdatStart+16 {
		// Not even the mdat header is on disk: an empty recording.
		w.idx.finish(0)
		return err
	}
	for attempt := 0; ; attempt++ {
		moov, dur, merr := w.moov()
		if merr != nil {
			w.idx.finish(0)
			return errors.Join(err, merr)
		}
		var size [8]byte
		binary.BigEndian.PutUint64(size[:], uint64(w.durable-w.mdatStart))
		_, werr := w.f.WriteAt(size[:], w.mdatStart+8)
		if werr == nil {
			_, werr = w.f.WriteAt(moov, w.durable)
		}
		if werr == nil {
			w.idx.finish(dur)
			return err
		}
		if attempt == 8 || !w.shrink(int64(len(moov))+4096) {
			w.f.Truncate(w.durable)
			w.idx.finish(dur)
			return errors.Join(err, werr)
		}
		if err == nil {
			err = werr
		}
	}
}

// shrink drops the last samples (at least n bytes of them) to make room
// for the movie box on a full disk.
func (w *Writer) shrink(n int64) bool {
	x := w.idx
	x.mu.Lock()
	defer x.mu.Unlock()
	end := w.durable - n
	i := len(x.samples)
	for i > 0 && x.samples[i-1].Offset+int64(x.samples[i-1].Size) > end {
		i--
	}
	if i == len(x.samples) && end < w.mdatStart+16 {
		return false
	}
	x.samples = x.samples[:i]
	for len(x.keys) > 0 && int(x.keys[len(x.keys)-1]) >= i {
		x.keys = x.keys[:len(x.keys)-1]
	}
	newEnd := w.mdatStart + 16
	for _, s := range x.samples {
		newEnd = max(newEnd, s.Offset+int64(s.Size))
	}
	if w.f.Truncate(newEnd) != nil {
		return false
	}
	w.durable = newEnd
	return true
}

// describe checks a codec configuration (through mp4ff's parsers) and
// makes the track.
func describe(video bool, codec string, config []byte) (t Track, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mp4file: bad %s configuration: %v", codec, r)
		}
	}()
	t = Track{Video: video, Codec: codec, Config: append([]byte(nil), config...)}
	switch codec {
	case CodecAVC:
		rec, err := avc.DecodeAVCDecConfRec(config)
		if err != nil || len(rec.SPSnalus) == 0 {
			return t, fmt.Errorf("mp4file: bad AVC configuration: %v", err)
		}
		if sps, err := avc.ParseSPSNALUnit(rec.SPSnalus[0], false); err == nil {
			t.Width, t.Height = int(sps.Width), int(sps.Height)
		}
	case CodecHEVC:
		rec, err := hevc.DecodeHEVCDecConfRec(config)
		if err != nil {
			return t, fmt.Errorf("mp4file: bad HEVC configuration: %v", err)
		}
		if sps := rec.GetNalusForType(hevc.NALU_SPS); len(sps) > 0 {
			if s, err := hevc.ParseSPSNALUnit(sps[0]); err == nil {
				w, h := s.ImageSize()
				t.Width, t.Height = int(w), int(h)
			}
		}
	case CodecAAC:
		asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(config))
		if err != nil {
			return t, fmt.Errorf("mp4file: bad AudioSpecificConfig: %v", err)
		}
		t.SampleRate, t.Channels = asc.SamplingFrequency, int(asc.ChannelConfiguration)
	}
	return t, nil
}

// videoFrame reads an FLV video payload: H.264 (codec 7), H.265 (codec
// 12, or enhanced RTMP "hvc1"/"avc1"). ok is false for what cannot be
// recorded (other codecs, end of sequence).
func videoFrame(p []byte) (codec string, config, data []byte, cts int32, key, header, ok bool) {
	if len(p) < 1 {
		return
	}
	key = (p[0]>>4)&0x07 == 1
	si24 := func(b []byte) int32 { return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8 }
	if p[0]&0x80 != 0 { // enhanced RTMP
		if len(p) < 5 {
			return
		}
		switch string(p[1:5]) {
		case "hvc1":
			codec = CodecHEVC
		case "avc1":
			codec = CodecAVC
		default:
			return
		}
		switch p[0] & 0x0f {
		case 0: // sequence start
			return codec, p[5:], nil, 0, key, true, len(p) > 5
		case 1: // coded frames, with a composition time
			if len(p) < 8 {
				return
			}
			return codec, nil, p[8:], si24(p[5:8]), key, false, true
		case 3: // coded frames without one
			return codec, nil, p[5:], 0, key, false, true
		}
		return
	}
	switch p[0] & 0x0f {
	case 7:
		codec = CodecAVC
	case 12:
		codec = CodecHEVC
	default:
		return
	}
	if len(p) < 5 {
		return
	}
	switch p[1] {
	case 0:
		return codec, p[5:], nil, 0, key, true, len(p) > 5
	case 1:
		return codec, nil, p[5:], si24(p[2:5]), key, false, true
	}
	return
}

// audioFrame reads an FLV audio payload: AAC or MP3.
func audioFrame(p []byte) (codec string, config, data []byte, header, ok bool) {
	if len(p) < 1 {
		return
	}
	switch p[0] >> 4 {
	case 10:
		if len(p) < 2 {
			return
		}
		if p[1] == 0 {
			return CodecAAC, p[2:], nil, true, len(p) > 3
		}
		return CodecAAC, nil, p[2:], false, true
	case 2, 14:
		return CodecMP3, nil, p[1:], false, true
	}
	return
}
