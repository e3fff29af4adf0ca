package groupstream

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// keyFrame returns a video key frame of size bytes whose content depends
// on ts.
func keyFrame(ts uint32, size int) media.Message {
	p := make([]byte, size)
	p[0], p[1] = 0x17, 1
	for i := 2; i < size; i++ {
		p[i] = byte(uint32(i)*13 + ts)
	}
	return media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: p}
}

// TestLargeKeyFrames: key frames of 300 kB and 1 MB (more than 255
// fragments of 959 bytes, which the fragmenter used to refuse silently)
// reach every member whole, between ordinary frames, over lossy links.
func TestLargeKeyFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 5, Link: simnet.LinkConfig{Delay: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.005}})
		defer n.Close()
		sh, _ := n.NewHost()
		sg := New(quiet)
		t.Cleanup(sg.Close)
		url := server(t, sh, sg)
		pbs := []*Playback{player(t, n, url, "big"), player(t, n, url, "big")}
		time.Sleep(10 * time.Second) // the mesh forms
		pub, err := sg.Publish("big", multicast.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []media.Message
		for sec := range 8 {
			for i := range 25 {
				ts := uint32(sec*1000 + i*40)
				if i == 0 {
					size := 300_000
					if sec%2 == 1 {
						size = 1 << 20
					}
					msgs = append(msgs, keyFrame(ts, size))
					continue
				}
				msgs = append(msgs, media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: []byte{0x27, 1, byte(ts >> 8), byte(ts), byte(sec)}})
			}
		}
		publishPaced(t, msgs, func(m media.Message) error { return pub.WriteMedia(context.Background(), m) })
		time.Sleep(12 * time.Second)
		if st := pub.Stats(); st.MessagesRefused != 0 || st.MessagesPublished != uint64(len(msgs)) {
			t.Errorf("publisher: %d published, %d refused", st.MessagesPublished, st.MessagesRefused)
		}
		pub.Close()
		for i, pb := range pbs {
			got := readUntilIdle(pb, time.Second)
			keys := 0
			for _, m := range got {
				if m.IsKeyframe() {
					keys++
					if want := keyFrame(m.Timestamp, len(m.Payload)); !bytes.Equal(m.Payload, want.Payload) {
						t.Errorf("player %d: key frame at %d ms corrupt", i, m.Timestamp)
					}
				}
			}
			// Members join before the publication: they get everything.
			if keys != 8 || len(got) != len(msgs) {
				t.Errorf("player %d: %d of 8 key frames, %d of %d messages; stats %+v", i, keys, len(got), len(msgs), pb.Stats())
			}
		}
	})
}

// logRecorder keeps the messages of the records it handles.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	r.msgs = append(r.msgs, b.String())
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// TestRefusedMessageLoggedAndCounted: a message the fragmenter refuses
// (above multicast.MaxMessagePayload) is logged and counted, not dropped
// in silence, and the stream goes on.
func TestRefusedMessageLoggedAndCounted(t *testing.T) {
	rec := &logRecorder{}
	g := New(slog.New(rec))
	defer g.Close()
	pub, err := g.Publish("s", multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := pub.WriteMedia(ctx, keyFrame(0, multicast.MaxMessagePayload+1)); err != nil {
		t.Fatal(err)
	}
	if err := pub.WriteMedia(ctx, keyFrame(40, 1000)); err != nil {
		t.Fatal(err)
	}
	st := pub.Stats() // queued behind the two writes: they were handled
	if st.MessagesRefused != 1 || st.MessagesPublished != 1 {
		t.Errorf("refused %d, published %d", st.MessagesRefused, st.MessagesPublished)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 1 || !strings.Contains(rec.msgs[0], "not published") || !strings.Contains(rec.msgs[0], "bytes=16711681") {
		t.Errorf("log: %q", rec.msgs)
	}
}
