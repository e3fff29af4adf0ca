package daemon

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/recorder"
)

const testFLV = "../../testdata/media/test_6s.flv"

// mediaDaemon starts a daemon on loopback with a media root in which the
// application "live" records and plays; its recordings' ends go to the
// returned channel.
func mediaDaemon(t *testing.T, apps ...MediaApp) (*Daemon, string, <-chan recorder.Done) {
	t.Helper()
	root := t.TempDir()
	done := make(chan recorder.Done, 16)
	cfg := Default()
	cfg.RTMFP = []string{"127.0.0.1:0"}
	cfg.Status = "off"
	if len(apps) == 0 {
		apps = []MediaApp{{App: "live", Record: true}, {App: "vod"}}
	}
	cfg.Media = MediaConfig{Root: root, Apps: apps, OnRecordDone: func(d recorder.Done) { done <- d }}
	d, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return d, root, done
}

func rtmfpURL(d *Daemon, path string) string {
	return "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/" + path
}

// awaitStatus reads st's status events until code (failing on an error
// level one first, or on the timeout of ctx).
func awaitStatus(t *testing.T, ctx context.Context, ch <-chan client.Status, code string) client.Status {
	t.Helper()
	for {
		select {
		case s := <-ch:
			if s.Code == code {
				return s
			}
			if s.Level == netstream.LevelError {
				t.Fatalf("waiting for %s: %v", code, s)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", code, ctx.Err())
		}
	}
}

func awaitDone(t *testing.T, ch <-chan recorder.Done) recorder.Done {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no recording ended")
	}
	return recorder.Done{}
}

// counts tallies a stream's messages.
type counts struct {
	audio, video, headers int
	first, last           uint32
	started               bool
}

func (c *counts) add(m media.Message) {
	if !m.IsAudio() && !m.IsVideo() {
		return
	}
	if m.IsSequenceHeader() {
		c.headers++
	} else if m.IsAudio() {
		c.audio++
	} else {
		c.video++
	}
	if !c.started {
		c.first, c.started = m.Timestamp, true
	}
	c.last = max(c.last, m.Timestamp)
}

func countFile(t *testing.T, path string) counts {
	t.Helper()
	msgs, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var c counts
	for _, m := range msgs {
		c.add(m)
	}
	return c
}

// publishFile publishes an FLV file on st in real time, as a client
// does (over RTMFP each media type has its own flow: published faster,
// the server would get all the audio before the video).
func publishFile(t *testing.T, ctx context.Context, st *client.Stream, path string) {
	t.Helper()
	if _, err := flv.ReplayFile(ctx, path, 0, func(m media.Message) error { return st.WriteMedia(ctx, m) }); err != nil {
		t.Fatal(err)
	}
}

// playToEnd reads a played recorded stream until onPlayStatus
// NetStream.Play.Complete and as many frames as want has (over RTMFP each
// media type has its own flow, so the last frames may come after the end's
// events), and returns what came, the metadata and the onPlayStatus info.
func playToEnd(t *testing.T, ctx context.Context, st *client.Stream, want counts) (counts, *amf.Object, *amf.Object) {
	t.Helper()
	var c counts
	var meta, info *amf.Object
	for info == nil || c.audio < want.audio || c.video < want.video {
		m, err := st.ReadMedia(ctx)
		if err != nil {
			t.Fatalf("reading the played stream: %v (so far %+v, complete %v)", err, c, info != nil)
		}
		if m.IsData() {
			vs, err := netstream.DecodeData(m)
			if err != nil || len(vs) < 2 {
				continue
			}
			switch vs[0] {
			case "onMetaData":
				if meta == nil {
					meta, _ = amf.AsObject(vs[1])
				}
			case "onPlayStatus":
				o, _ := amf.AsObject(vs[1])
				if code, _ := o.GetString("code"); code == netstream.PlayComplete {
					info = o
				}
			}
			continue
		}
		c.add(m)
	}
	return c, meta, info
}

// TestRecordRTMFPAndPlay: a Go client publishes a file over RTMFP with
// "record"; the publisher hears Record.Start and the file is closed valid
// when it leaves (ffprobe reads the same streams and frames, and the
// duration in its metadata); played back over RTMFP, every frame comes, in
// real time (no faster than the file's duration minus the lead), with the
// metadata first and NetStream.Play.Complete at the end; seek and pause
// answer their events; a missing file is NetStream.Play.StreamNotFound.
func TestRecordRTMFPAndPlay(t *testing.T) {
	d, root, done := mediaDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	pc, err := client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pub, err := pc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "rec", "record"); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, ctx, pub.Status(), netstream.RecordStart)
	publishFile(t, ctx, pub, testFLV)
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	res := awaitDone(t, done)
	path := filepath.Join(root, "live", "streams", netstream.DefaultInstance, "rec.flv")
	if res.Err != nil || res.Path != path || res.Format != "flv" || res.Mode != "record" {
		t.Fatalf("recording ended: %+v", res)
	}
	src, got := countFile(t, testFLV), countFile(t, path)
	if got.audio != src.audio || got.video != src.video || got.last-got.first != src.last-src.first || got.first != 0 {
		t.Fatalf("recorded %+v, published %+v", got, src)
	}
	testtools.SameStreams(t, path, testFLV)
	if dur := testtools.Duration(t, path); math.Abs(dur-float64(src.last-src.first)/1000) > 0.1 {
		t.Errorf("ffprobe duration %.3f s, published %d ms", dur, src.last-src.first)
	}
	idx := scanFile(t, path)
	if dur, _ := idx.Metadata().GetNumber("duration"); math.Abs(dur-float64(got.last)/1000) > 0.001 {
		t.Errorf("metadata duration %v, last timestamp %d", dur, got.last)
	}

	// Played back over RTMFP.
	cc, err := client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	player, err := cc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := player.SetBufferTime(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := player.PlayFrom(ctx, "rec", 0, -1, true); err != nil {
		t.Fatal(err)
	}
	played, meta, info := playToEnd(t, ctx, player, got)
	took := time.Since(began)
	if played.audio != src.audio || played.video != src.video {
		t.Errorf("played %+v, recorded %+v", played, got)
	}
	if k := meta.Props; len(k) == 0 || k[0].Key != "duration" {
		t.Errorf("metadata %v: duration not first", meta)
	}
	if dur, _ := info.GetNumber("duration"); math.Abs(dur-float64(got.last)/1000) > 0.001 {
		t.Errorf("onPlayStatus %v", info)
	}
	if min := time.Duration(got.last)*time.Millisecond - 2*time.Second - 200*time.Millisecond; took < min {
		t.Errorf("played %v of media in %v: faster than real time with a 2 s lead", time.Duration(got.last)*time.Millisecond, took)
	}
	awaitStatus(t, ctx, player.Status(), netstream.PlayStop)

	// Seek, pause and resume (on a new NetStream: over RTMFP, frames of
	// the last play may still be on their way).
	player, err = cc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := player.PlayFrom(ctx, "rec", 1, -1, true); err != nil {
		t.Fatal(err)
	}
	firstVideo := func() media.Message {
		for {
			m, err := player.ReadMedia(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.IsVideo() && !m.IsSequenceHeader() {
				return m
			}
		}
	}
	if m := firstVideo(); m.Timestamp > 1000 || !m.IsKeyframe() {
		t.Errorf("play from 1 s began with %d (key %v)", m.Timestamp, m.IsKeyframe())
	}
	if err := player.Seek(ctx, 4500); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, ctx, player.Status(), netstream.PlayStart)
	for {
		m := firstVideo()
		if m.Timestamp >= 3000 && m.Timestamp <= 4500 && m.IsKeyframe() {
			break // the key frame before 4.5 s (what was in flight came first)
		}
	}
	if err := player.Pause(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := player.Pause(ctx, false); err != nil {
		t.Fatal(err)
	}
	firstVideo()
	if err := player.PlayFrom(ctx, "nothing", 0, -1, true); err == nil {
		t.Fatal("a missing file played")
	} else if se := new(client.StatusError); !errors.As(err, &se) || se.Status.Code != netstream.PlayStreamNotFound {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "live", "streams", netstream.DefaultInstance, "nothing.flv")); err == nil {
		t.Fatal("playing created a file")
	}
}

func scanFile(t *testing.T, path string) *flv.Index {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	idx, err := flv.ScanIndex(f, fi.Size(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
