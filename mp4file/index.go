// Package mp4file reads and writes MP4 and F4V files (ISO/IEC 14496-12
// and -14) for video on demand and recording, in the form Flash Media
// Server streamed them: H.264 (and H.265) video and AAC (and MP3) audio,
// carried to players as FLV-style messages (RTMP video and audio tags with
// their codec headers).
//
// Reading indexes a file once: the movie box is read (up to MaxMoov) and
// its sample tables are turned into one list of samples in decoding order,
// which every reader of the file shares; each reader then reads the
// samples from disk as it plays. The sample tables are parsed here, every
// count checked against its box; the elementary stream descriptor is
// parsed by github.com/Eyevinn/mp4ff, which also builds the boxes a
// recording writes (package Writer).
package mp4file

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mp3file"
)

// keySpacing is the least time between two seek points.
const keySpacing = 500

// Codecs of a track.
const (
	CodecAVC  = "avc1"
	CodecHEVC = "hvc1"
	CodecAAC  = "mp4a"
	CodecMP3  = ".mp3"
)

// Sample is one access unit of a track, where it is in the file and when
// it is decoded (milliseconds) and presented (DTS + CTS).
type Sample struct {
	Offset int64
	Size   uint32
	DTS    uint32
	CTS    int32
	Track  uint8 // index in Index.Tracks
	Key    bool
}

// Track is a video or audio track.
type Track struct {
	Video bool
	Codec string // CodecAVC, CodecHEVC, CodecAAC, CodecMP3
	// Config is the decoder configuration: the AVC or HEVC decoder
	// configuration record, or the AAC AudioSpecificConfig (none for
	// MP3).
	Config []byte
	// Width and Height (video), SampleRate and Channels (audio).
	Width, Height        int
	SampleRate, Channels int
}

// Index lists the samples of a file (or of a recording in progress) in
// the order readers play them, with the tracks' configurations, seek
// points and metadata. All readers of a file share it.
type Index struct {
	mu       sync.RWMutex
	tracks   []Track
	samples  []Sample
	keys     []int32 // samples to start from
	duration uint32  // milliseconds
	meta     *amf.Object
	growing  bool
	changed  chan struct{}
	moov     topBox // the movie box (files read from disk)
	hasVideo bool
}

// newIndex returns an empty index; growing marks a recording in progress.
func newIndex(growing bool) *Index {
	return &Index{growing: growing, changed: make(chan struct{})}
}

// Tracks returns the tracks.
func (x *Index) Tracks() []Track {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]Track(nil), x.tracks...)
}

// Len is the number of samples.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.samples)
}

// Duration is the length of the file in milliseconds (0 while it is being
// recorded).
func (x *Index) Duration() uint32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.growing {
		return 0
	}
	return x.duration
}

// Metadata returns the onMetaData properties of the file.
func (x *Index) Metadata() *amf.Object {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return media.SourceMetadata(x.durationLocked(), x.meta)
}

func (x *Index) durationLocked() uint32 {
	if x.growing {
		return 0
	}
	return x.duration
}

// sample returns sample i, whether it exists, and (when it does not)
// whether more are coming and the channel that says so.
func (x *Index) sample(i int) (Sample, Track, bool, bool, <-chan struct{}) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if i < len(x.samples) {
		s := x.samples[i]
		return s, x.tracks[s.Track], true, false, nil
	}
	return Sample{}, Track{}, false, x.growing, x.changed
}

// seek returns the sample to start from for ms and its timestamp.
func (x *Index) seek(ms uint32) (int, uint32) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(x.keys, ms, func(k int32, ms uint32) int {
		if x.samples[k].DTS <= ms {
			return -1
		}
		return 1
	})
	if i == 0 {
		return 0, 0
	}
	k := int(x.keys[i-1])
	if x.samples[k].DTS <= x.samples[0].DTS {
		return 0, x.samples[0].DTS // at the very start: from the top
	}
	return k, x.samples[k].DTS
}

// headers returns the tracks' codec headers as FLV messages at ts.
func (x *Index) headers(ts uint32) []media.Message {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []media.Message
	for _, t := range x.tracks {
		if h, ok := t.header(); ok {
			h.Timestamp = ts
			out = append(out, h)
		}
	}
	return out
}

// add appends samples (a scan, or what a recording wrote) and their seek
// points.
func (x *Index) add(ss ...Sample) {
	for _, s := range ss {
		x.samples = append(x.samples, s)
		t := x.tracks[s.Track]
		if t.Video && !x.hasVideo {
			// Audio seek points made before the video are no places to
			// start it.
			x.hasVideo, x.keys = true, x.keys[:0]
		}
		if !s.Key || t.Video != x.hasVideo {
			continue
		}
		if n := len(x.keys); n > 0 && s.DTS < x.samples[x.keys[n-1]].DTS+keySpacing {
			continue
		}
		x.keys = append(x.keys, int32(len(x.samples)-1))
	}
}

// publish makes samples visible to the readers of a recording in progress.
func (x *Index) publish(ss []Sample) {
	x.mu.Lock()
	x.add(ss...)
	close(x.changed)
	x.changed = make(chan struct{})
	x.mu.Unlock()
}

// finish marks the end of a recording.
func (x *Index) finish(duration uint32) {
	x.mu.Lock()
	x.growing = false
	x.duration = duration
	close(x.changed)
	x.changed = make(chan struct{})
	x.mu.Unlock()
}

// header returns the FLV sequence header of a track, if it has one.
func (t Track) header() (media.Message, bool) {
	switch t.Codec {
	case CodecAVC:
		return media.Message{Type: media.TypeVideo, Payload: append([]byte{0x17, 0, 0, 0, 0}, t.Config...)}, true
	case CodecHEVC:
		return media.Message{Type: media.TypeVideo, Payload: append([]byte{0x90, 'h', 'v', 'c', '1'}, t.Config...)}, true
	case CodecAAC:
		return media.Message{Type: media.TypeAudio, Payload: append([]byte{0xaf, 0}, t.Config...)}, true
	}
	return media.Message{}, false
}

// prefix returns the FLV tag header bytes that precede a sample's data.
func (t Track) prefix(s Sample) []byte {
	cts := uint32(s.CTS)
	switch t.Codec {
	case CodecAVC:
		ft := byte(0x27)
		if s.Key {
			ft = 0x17
		}
		return []byte{ft, 1, byte(cts >> 16), byte(cts >> 8), byte(cts)}
	case CodecHEVC:
		ft := byte(0xa1) // inter frame, coded frames with a composition time
		if s.Key {
			ft = 0x91
		}
		return []byte{ft, 'h', 'v', 'c', '1', byte(cts >> 16), byte(cts >> 8), byte(cts)}
	case CodecAAC:
		return []byte{0xaf, 1}
	case CodecMP3:
		return []byte{mp3file.FLVTag(t.SampleRate, t.Channels)}
	}
	return nil
}

// flvCodecID is the FLV codec ID of the track (what FLV metadata and
// players such as ffmpeg expect in onMetaData; FMS also sent "avc1" and
// "mp4a" there).
func (t Track) flvCodecID() float64 {
	switch t.Codec {
	case CodecAVC:
		return 7
	case CodecHEVC:
		return 12
	case CodecAAC:
		return 10
	}
	return 2
}

// meta builds the onMetaData properties of the tracks.
func (x *Index) buildMeta() {
	m := amf.NewObject()
	var videoFrames int
	for _, s := range x.samples {
		if x.tracks[s.Track].Video {
			videoFrames++
		}
	}
	for _, t := range x.tracks {
		if t.Video {
			m.Set("width", float64(t.Width)).Set("height", float64(t.Height)).Set("videocodecid", t.flvCodecID())
			if x.duration > 0 && videoFrames > 0 {
				m.Set("framerate", float64(int(float64(videoFrames)*100000/float64(x.duration)))/100)
			}
			if len(t.Config) >= 4 && t.Codec == CodecAVC {
				m.Set("avcprofile", float64(t.Config[1])).Set("avclevel", float64(t.Config[3]))
			}
		} else {
			m.Set("audiocodecid", t.flvCodecID()).Set("audiosamplerate", float64(t.SampleRate)).Set("audiochannels", float64(t.Channels))
		}
	}
	if x.moov.size > 0 {
		m.Set("moovposition", float64(x.moov.off))
	}
	x.meta = m
}

func be16(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
