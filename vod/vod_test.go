package vod

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
)

var quiet = slog.New(slog.DiscardHandler)

// out records what a playback delivers, with the (fake) time it came.
type out struct {
	mu     sync.Mutex
	events []event
	notify chan struct{}
}

type event struct {
	at     time.Time
	m      media.Message // media and data
	status string        // onStatus code
	ev     int           // user control event, or -1
}

func newOut() *out { return &out{notify: make(chan struct{}, 1)} }

func (o *out) add(e event) {
	o.mu.Lock()
	e.at = time.Now()
	o.events = append(o.events, e)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

func (o *out) WriteMedia(_ context.Context, m media.Message) error {
	o.add(event{m: m, ev: -1})
	return nil
}
func (o *out) Status(code, _ string, _ ...amf.Property) { o.add(event{status: code, ev: -1}) }
func (o *out) Event(ev uint16)                          { o.add(event{ev: int(ev)}) }

func (o *out) snapshot() []event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]event(nil), o.events...)
}

// statuses lists the status codes and onPlayStatus codes, in order.
func statuses(evs []event) []string {
	var out []string
	for _, e := range evs {
		switch {
		case e.status != "":
			out = append(out, e.status)
		case e.m.IsData():
			vs, _ := netstream.DecodeData(e.m)
			if len(vs) >= 2 && vs[0] == "onPlayStatus" {
				o, _ := amf.AsObject(vs[1])
				c, _ := o.GetString("code")
				out = append(out, c)
			}
		}
	}
	return out
}

// writeFLV writes a file of n seconds: video at 10 frames/s with a key
// frame every second, audio every 50 ms, an AVC and an AAC sequence header
// and onMetaData first.
func writeFLV(t *testing.T, path string, seconds int) []media.Message {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := flv.NewWriter(f, flv.FlagAudio|flv.FlagVideo)
	md, _ := flv.EncodeMetadata(amf.NewObject(amf.Property{Key: "width", Value: 320.0}))
	msgs := []media.Message{
		{Type: media.TypeDataAMF0, Payload: md},
		{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1, 2, 3}},
		{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}},
	}
	for ts := 0; ts < seconds*1000; ts += 50 {
		msgs = append(msgs, media.Message{Type: media.TypeAudio, Timestamp: uint32(ts), Payload: []byte{0xaf, 1, byte(ts)}})
		if ts%100 == 0 {
			ft := byte(0x27)
			if ts%1000 == 0 {
				ft = 0x17
			}
			msgs = append(msgs, media.Message{Type: media.TypeVideo, Timestamp: uint32(ts), Payload: []byte{ft, 1, 0, 0, 0, byte(ts >> 8), byte(ts)}})
		}
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	return msgs
}

func newService(t *testing.T, pol Policy) (*Service, string) {
	t.Helper()
	dir := t.TempDir()
	lib, err := mediafile.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	s, err := New(Config{Library: lib, Logger: quiet, Policy: func(string) Policy { return pol }})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// waitFor waits (in the bubble) until cond holds on what was delivered.
func waitFor(t *testing.T, o *out, what string, cond func([]event) bool) []event {
	t.Helper()
	for {
		evs := o.snapshot()
		if cond(evs) {
			return evs
		}
		select {
		case <-o.notify:
		case <-time.After(time.Minute):
			t.Fatalf("timed out waiting for %s; got %v", what, statuses(evs))
		}
	}
}

func completed(evs []event) bool {
	for _, s := range statuses(evs) {
		if s == netstream.PlayStop {
			return true
		}
	}
	return false
}

// TestPlayPaced: every message of a 30 s file is delivered, the metadata
// first with the duration first, paced so that no message comes more than
// the lead ahead of its time (all along: the fake clock of the bubble
// runs through the whole file), and the end is Stream EOF, onPlayStatus
// NetStream.Play.Complete, NetStream.Play.Stop.
func TestPlayPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, dir := newService(t, Policy{Play: true, MinLead: time.Second, MaxLead: 3 * time.Second})
		msgs := writeFLV(t, filepath.Join(dir, "vod/streams/_definst_/clip.flv"), 30)
		pb, err := s.OpenStream("vod", "_definst_", "clip", "test")
		if err != nil {
			t.Fatal(err)
		}
		defer pb.Close()
		if d := pb.Duration(); d != 29.95 {
			t.Fatalf("duration %v", d)
		}
		o := newOut()
		pb.SetBufferTime(2000)
		began := time.Now()
		pb.Start(o, 0, -1)
		evs := waitFor(t, o, "the end", completed)
		var media []media.Message
		for _, e := range evs {
			if e.m.Type != 0 {
				media = append(media, e.m)
				if e.m.IsAudio() || e.m.IsVideo() {
					due := began.Add(time.Duration(e.m.Timestamp)*time.Millisecond - 2*time.Second)
					if e.at.Before(due) {
						t.Fatalf("message at %d ms sent %v early", e.m.Timestamp, due.Sub(e.at))
					}
				}
			}
		}
		vs, _ := netstream.DecodeData(media[0])
		meta, _ := amf.AsObject(vs[1])
		if vs[0] != "onMetaData" || meta.Props[0].Key != "duration" || meta.Props[0].Value != 29.95 || !meta.Has("width") {
			t.Fatalf("first message %v", vs)
		}
		// Everything but the file's own metadata, in order, then
		// onPlayStatus.
		if len(media) != len(msgs)+1 {
			for i := 0; i < 6; i++ {
				t.Logf("%d: got %+v want %+v", i, media[i], msgs[i])
			}
			t.Fatalf("%d messages delivered, file has %d", len(media), len(msgs))
		}
		for i, m := range msgs[1:] {
			if got := media[i+1]; got.Type != m.Type || got.Timestamp != m.Timestamp || string(got.Payload) != string(m.Payload) {
				t.Fatalf("message %d: %+v, want %+v", i, got, m)
			}
		}
		if took := time.Since(began); took < 29950*time.Millisecond-2*time.Second {
			t.Fatalf("played in %v", took)
		}
		if got := statuses(evs); len(got) != 2 || got[0] != netstream.PlayComplete || got[1] != netstream.PlayStop {
			t.Fatalf("statuses %v", got)
		}
		last := evs[len(evs)-3]
		if last.ev != int(netstream.EventStreamEOF) {
			t.Fatalf("no Stream EOF before the end: %+v", last)
		}
	})
}

var _ = io.EOF

// frames returns the audio and video messages delivered.
func mediaOf(evs []event) []media.Message {
	var out []media.Message
	for _, e := range evs {
		if e.m.IsAudio() || e.m.IsVideo() {
			out = append(out, e.m)
		}
	}
	return out
}

// TestPlayStartLen: play(name, 2, 1) starts at the key frame at or
// before 2 s and stops after 3 s; len 0 plays one video frame.
func TestPlayStartLen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, dir := newService(t, Policy{Play: true})
		writeFLV(t, filepath.Join(dir, "vod/streams/_definst_/clip.flv"), 5)
		pb, _ := s.OpenStream("vod", "_definst_", "clip", "test")
		o := newOut()
		pb.Start(o, 2.5, 1)
		ms := mediaOf(waitFor(t, o, "the end", completed))
		pb.Close()
		var frames []media.Message
		for _, m := range ms {
			if !m.IsSequenceHeader() {
				frames = append(frames, m)
			}
		}
		if first, last := frames[0], frames[len(frames)-1]; first.Timestamp != 2000 || last.Timestamp > 3500 || last.Timestamp < 3400 {
			t.Fatalf("played %d to %d", first.Timestamp, last.Timestamp)
		}
		pb, _ = s.OpenStream("vod", "_definst_", "clip", "test")
		o = newOut()
		pb.Start(o, 1, 0)
		ms = mediaOf(waitFor(t, o, "the end", completed))
		pb.Close()
		video := 0
		for _, m := range ms {
			if m.IsVideo() && !m.IsSequenceHeader() {
				video++
				if m.Timestamp != 1000 || !m.IsKeyframe() {
					t.Fatalf("single frame %+v", m)
				}
			}
		}
		if video != 1 {
			t.Fatalf("%d video frames for len 0", video)
		}
	})
}

// TestSeekPauseReceive: a seek answers Seek.Notify and Play.Start and
// goes on from the key frame before the time; while paused nothing is
// sent, however long; receiveVideo(false) leaves audio only, and video
// comes back at a key frame.
func TestSeekPauseReceive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, dir := newService(t, Policy{Play: true, MinLead: 100 * time.Millisecond, MaxLead: 100 * time.Millisecond})
		writeFLV(t, filepath.Join(dir, "vod/streams/_definst_/clip.flv"), 10)
		pb, _ := s.OpenStream("vod", "_definst_", "clip", "test")
		defer pb.Close()
		o := newOut()
		pb.Start(o, 0, -1)
		time.Sleep(time.Second)
		synctest.Wait()
		n := len(o.snapshot())
		pb.Seek(6500)
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		evs := o.snapshot()[n:]
		if got := statuses(evs); len(got) < 2 || got[0] != netstream.SeekNotify || got[1] != netstream.PlayStart {
			t.Fatalf("after seek: %v", got)
		}
		for _, m := range mediaOf(evs) {
			if !m.IsSequenceHeader() {
				if m.Timestamp != 6000 {
					t.Fatalf("seek to 6.5 s went on at %d", m.Timestamp)
				}
				break
			}
		}
		pb.Pause(true)
		synctest.Wait()
		n = len(o.snapshot())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := len(o.snapshot()); got != n {
			t.Fatalf("%d messages sent while paused", got-n)
		}
		pb.SetReceive(true, false)
		pb.Pause(false)
		time.Sleep(time.Second)
		synctest.Wait()
		for _, m := range mediaOf(o.snapshot()[n:]) {
			if m.IsVideo() {
				t.Fatalf("video %d sent with receiveVideo(false)", m.Timestamp)
			}
		}
		n = len(o.snapshot())
		pb.SetReceive(true, true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		for _, m := range mediaOf(o.snapshot()[n:]) {
			if m.IsVideo() {
				if !m.IsKeyframe() {
					t.Fatalf("video came back with an inter frame at %d", m.Timestamp)
				}
				return
			}
		}
		t.Fatal("no video after receiveVideo(true)")
	})
}

// TestTimelineJump: a jump of a minute in a file's timestamps (a broken
// file, or a gap appendWithGap left) is not waited for.
func TestTimelineJump(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, dir := newService(t, Policy{Play: true})
		path := filepath.Join(dir, "vod/streams/_definst_/gap.flv")
		os.MkdirAll(filepath.Dir(path), 0o755)
		f, _ := os.Create(path)
		w, _ := flv.NewWriter(f, flv.FlagVideo)
		for _, ts := range []uint32{0, 500, 1000, 61000, 61500, 62000} {
			w.Write(media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: []byte{0x17, 1, 0, 0, 0}})
		}
		f.Close()
		pb, _ := s.OpenStream("vod", "_definst_", "gap", "test")
		defer pb.Close()
		o := newOut()
		began := time.Now()
		pb.Start(o, 0, -1)
		waitFor(t, o, "the end", completed)
		if took := time.Since(began); took > 3*time.Second {
			t.Fatalf("played 2 s of media around a 60 s jump in %v", took)
		}
	})
}
