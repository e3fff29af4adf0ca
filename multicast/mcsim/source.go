package mcsim

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// Stream describes the synthetic live stream the publisher sends: H.264
// video at FPS frames per second with a key frame every KeyInterval (ten
// times the size of the other frames, sizes varying ±20%), AAC audio
// frames of 1024 samples at 44.1 kHz, and metadata plus the two sequence
// headers first. Zero fields take the defaults.
type Stream struct {
	Bitrate     int           // total bits per second; default 1 000 000
	AudioRate   int           // audio bits per second; default 64 000
	FPS         int           // default 25
	KeyInterval time.Duration // default 2 s
	// KeyBytes, if set, is the size of the key frames (±10%) instead of
	// ten inter frames: large key frames.
	KeyBytes int
	Seed     uint64
}

func (s Stream) withDefaults() Stream {
	if s.Bitrate <= 0 {
		s.Bitrate = 1_000_000
	}
	if s.AudioRate <= 0 {
		s.AudioRate = 64_000
	}
	s.AudioRate = min(s.AudioRate, s.Bitrate/4)
	if s.FPS <= 0 {
		s.FPS = 25
	}
	if s.KeyInterval <= 0 {
		s.KeyInterval = 2 * time.Second
	}
	return s
}

// audioFrame is the duration of an AAC frame (1024 samples at 44.1 kHz).
const audioFrame = time.Second * 1024 / 44100

// source yields the messages of a Stream in timestamp order.
type source struct {
	s          Stream
	rng        *rand.Rand
	seq        uint32
	headers    int
	video      int // video frames emitted
	audio      int // audio frames emitted
	pSize      float64
	audioBytes float64
}

func newSource(s Stream) *source {
	s = s.withDefaults()
	gop := float64(s.FPS) * s.KeyInterval.Seconds()
	videoBytesPerGOP := float64(s.Bitrate-s.AudioRate) / 8 * s.KeyInterval.Seconds()
	return &source{
		s:          s,
		rng:        rand.New(rand.NewPCG(s.Seed, 0x736f75726365)),
		pSize:      videoBytesPerGOP / (gop - 1 + 10),
		audioBytes: float64(s.AudioRate) / 8 * audioFrame.Seconds(),
	}
}

// next returns the next message and its offset from the stream start.
func (src *source) next() (time.Duration, media.Message) {
	src.seq++
	switch src.headers {
	case 0:
		src.headers++
		return 0, src.message(media.TypeDataAMF0, 0, 300, []byte{0x02, 0x00, 0x0a})
	case 1:
		src.headers++
		return 0, src.message(media.TypeVideo, 0, 40, []byte{0x17, 0x00, 0, 0, 0})
	case 2:
		src.headers++
		return 0, src.message(media.TypeAudio, 0, 4, []byte{0xAF, 0x00})
	}
	vt := time.Duration(src.video) * time.Second / time.Duration(src.s.FPS)
	at := time.Duration(src.audio) * audioFrame
	if at < vt {
		src.audio++
		size := int(src.audioBytes * (0.9 + 0.2*src.rng.Float64()))
		return at, src.message(media.TypeAudio, at, size, []byte{0xAF, 0x01})
	}
	gop := src.s.FPS * int(src.s.KeyInterval/time.Second)
	if gop <= 0 {
		gop = 1
	}
	key := src.video%gop == 0
	src.video++
	size := src.pSize * (0.8 + 0.4*src.rng.Float64())
	head := []byte{0x27, 0x01, 0, 0, 0}
	if key {
		size *= 10
		if src.s.KeyBytes > 0 {
			size = float64(src.s.KeyBytes) * (0.9 + 0.2*src.rng.Float64())
		}
		head[0] = 0x17
	}
	return vt, src.message(media.TypeVideo, vt, int(size), head)
}

// message builds a payload of size bytes: the FLV tag head, the message
// sequence number, then bytes derived from it (so that every delivered
// payload can be checked).
func (src *source) message(typ uint8, at time.Duration, size int, head []byte) media.Message {
	size = max(size, len(head)+4)
	p := make([]byte, size)
	n := copy(p, head)
	binary.BigEndian.PutUint32(p[n:], src.seq)
	for i := n + 4; i < size; i++ {
		p[i] = byte(uint32(i)*31 + src.seq)
	}
	return media.Message{Type: typ, Timestamp: uint32(at / time.Millisecond), Payload: p}
}
