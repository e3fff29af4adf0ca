package rtmfpcheck

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// A generated stream: onMetaData, the AVC and AAC sequence headers, then
// 25 video frames a second with a key frame every 10 (0.4 s) and an audio
// frame every 40 ms. Every frame carries a marker and its number, so that
// a player can tell which arrived and how late.
const (
	frameInterval = 40 * time.Millisecond
	gopFrames     = 10
	keyFrameSize  = 6000 // several RTMFP fragments
	interSize     = 800
	audioSize     = 200
	// maxFrames bounds a generated stream (40 s).
	maxFrames = 1000
)

var marker = [4]byte{'R', 'C', 'H', 'K'}

// metadata is the onMetaData a publisher sets (NetStream.send of
// "@setDataFrame", as Flash and ffmpeg publish it).
func metadata() (media.Message, error) {
	return netstream.EncodeData("@setDataFrame", "onMetaData", amf.NewObject(
		amf.Property{Key: "width", Value: 640.0}, amf.Property{Key: "height", Value: 360.0},
		amf.Property{Key: "framerate", Value: 25.0}, amf.Property{Key: "videocodecid", Value: 7.0},
		amf.Property{Key: "audiocodecid", Value: 10.0}, amf.Property{Key: "encoder", Value: "rtmfp check"}))
}

// headers are the AVC and AAC sequence headers.
func headers() []media.Message {
	avc := []byte{0x17, 0, 0, 0, 0, // key frame, AVC sequence header
		1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 8, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 1, 0, 4, 0x68, 0xce, 0x3c, 0x80}
	aac := []byte{0xaf, 0, 0x12, 0x10} // AAC LC, 44.1 kHz, stereo
	return []media.Message{{Type: media.TypeVideo, Payload: avc}, {Type: media.TypeAudio, Payload: aac}}
}

// frame builds frame number i of a kind.
func frame(typ uint8, i uint32) media.Message {
	var p []byte
	size := audioSize
	switch {
	case typ == media.TypeAudio:
		p = []byte{0xaf, 1}
	case i%gopFrames == 0:
		p, size = []byte{0x17, 1, 0, 0, 0}, keyFrameSize
	default:
		p, size = []byte{0x27, 1, 0, 0, 0}, interSize
	}
	p = append(p, marker[:]...)
	p = binary.BigEndian.AppendUint32(p, i)
	for len(p) < size {
		p = append(p, byte(len(p)))
	}
	return media.Message{Type: typ, Timestamp: i * uint32(frameInterval/time.Millisecond), Payload: p}
}

// frameNumber reads the number of a generated frame.
func frameNumber(m media.Message) (uint32, bool) {
	off := 2
	if m.Type == media.TypeVideo {
		off = 5
	}
	p := m.Payload
	if len(p) < off+8 || [4]byte(p[off:off+4]) != marker {
		return 0, false
	}
	return binary.BigEndian.Uint32(p[off+4:]), true
}

// generator publishes a generated stream in real time and remembers when
// each frame was written.
type generator struct {
	write func(context.Context, media.Message) error

	mu      sync.Mutex
	sent    map[uint32]time.Time // video frame number → time written
	audio   map[uint32]time.Time
	n       uint32
	err     error
	advance chan struct{} // closed and replaced at every frame
	stop    context.CancelFunc
	done    chan struct{}
}

// startGenerator writes the metadata and headers, then frames until stop.
func startGenerator(write func(context.Context, media.Message) error) *generator {
	ctx, stop := context.WithCancel(context.Background())
	g := &generator{write: write, sent: map[uint32]time.Time{}, audio: map[uint32]time.Time{},
		advance: make(chan struct{}), stop: stop, done: make(chan struct{})}
	go g.run(ctx)
	return g
}

func (g *generator) run(ctx context.Context) {
	defer close(g.done)
	fail := func(err error) {
		g.mu.Lock()
		if g.err == nil && ctx.Err() == nil {
			g.err = err
		}
		g.mu.Unlock()
	}
	md, err := metadata()
	if err == nil {
		err = g.write(ctx, md)
	}
	for _, h := range headers() {
		if err == nil {
			err = g.write(ctx, h)
		}
	}
	if err != nil {
		fail(err)
		return
	}
	tick := time.NewTicker(frameInterval)
	defer tick.Stop()
	for i := uint32(0); i < maxFrames; i++ {
		for _, typ := range []uint8{media.TypeVideo, media.TypeAudio} {
			m := frame(typ, i)
			now := time.Now()
			if err := g.write(ctx, m); err != nil {
				fail(err)
				return
			}
			g.mu.Lock()
			if typ == media.TypeVideo {
				g.sent[i] = now
			} else {
				g.audio[i] = now
			}
			g.mu.Unlock()
		}
		g.mu.Lock()
		g.n = i + 1
		close(g.advance)
		g.advance = make(chan struct{})
		g.mu.Unlock()
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// waitFrames waits until n frames of each kind were written.
func (g *generator) waitFrames(ctx context.Context, n uint32) error {
	for {
		g.mu.Lock()
		got, adv, err := g.n, g.advance, g.err
		g.mu.Unlock()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		select {
		case <-adv:
		case <-g.done:
			g.mu.Lock()
			err := g.err
			g.mu.Unlock()
			if err == nil {
				return context.Canceled
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close stops the generator and waits for it.
func (g *generator) close() {
	g.stop()
	<-g.done
}

// sentAt returns when frame i of a kind was written.
func (g *generator) sentAt(typ uint8, i uint32) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.sent
	if typ == media.TypeAudio {
		m = g.audio
	}
	t, ok := m[i]
	return t, ok
}

// arrival is a message a player got, and when.
type arrival struct {
	m  media.Message
	at time.Time
}

// latencies summarizes delays: median, 95th percentile, maximum.
func latencies(ds []time.Duration) (p50, p95, maxD time.Duration) {
	if len(ds) == 0 {
		return
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)*95)/100], s[len(s)-1]
}

// countFrames reads a player's messages until it got want video frames of
// the generator's, and returns what it counted and the frames' latencies.
func countFrames(ctx context.Context, read func(context.Context) (media.Message, error), gen *generator, want int) (video, audio int, lat []time.Duration, err error) {
	for video < want {
		m, err := read(ctx)
		if err != nil {
			return video, audio, lat, err
		}
		n, ok := frameNumber(m)
		if !ok {
			continue
		}
		if t, ok := gen.sentAt(m.Type, n); ok {
			lat = append(lat, time.Since(t))
		}
		if m.IsVideo() {
			video++
		} else if m.IsAudio() {
			audio++
		}
	}
	return video, audio, lat, nil
}
