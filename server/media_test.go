package server

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

const testFLV = "../testdata/media/test_6s.flv"

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
	if !m.IsAudio() && !m.IsVideo() || m.IsEndOfSequence() {
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

// TestBandwidthCheck: Flash Media Server's bandwidth check. An application
// in "notify" mode calls onBWDone() without arguments after connect (seed
// 004's client); in "measure" mode, and on a client's checkBandwidth call,
// the server calls onBWCheck (first empty, then with payloads) and reports
// onBWDone(kbitDown, deltaDown, deltaTime, latency).
func TestBandwidthCheck(t *testing.T) {
	d, _, _ := mediaDaemon(t, MediaApp{App: "vod", BandwidthCheck: "notify"}, MediaApp{App: "bw", BandwidthCheck: "measure"},
		MediaApp{App: "*"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type call struct {
		name string
		args []amf.Value
	}
	dial := func(app string) (*client.Conn, chan call) {
		calls := make(chan call, 32)
		c, err := client.Dial(ctx, rtmfpURL(d, app), client.Options{Logger: slog.New(slog.DiscardHandler),
			OnCall: func(name string, args []amf.Value) (amf.Value, error) {
				calls <- call{name, args}
				return nil, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, calls
	}
	done := func(calls chan call) (call, int) {
		checks := 0
		for {
			select {
			case c := <-calls:
				switch c.name {
				case "onBWCheck":
					checks++
				case "onBWDone":
					return c, checks
				default:
					t.Fatalf("called %s", c.name)
				}
			case <-ctx.Done():
				t.Fatal("no onBWDone")
			}
		}
	}
	_, calls := dial("vod")
	if c, checks := done(calls); len(c.args) != 0 || checks != 0 {
		t.Fatalf("notify mode: onBWDone%v after %d checks", c.args, checks)
	}
	measured := func(c call, checks int) {
		t.Helper()
		if checks < 3 || len(c.args) != 4 {
			t.Fatalf("onBWDone%v after %d checks", c.args, checks)
		}
		for _, a := range c.args {
			if v, ok := amf.Number(a); !ok || v <= 0 {
				t.Fatalf("onBWDone%v", c.args)
			}
		}
	}
	_, calls = dial("bw")
	measured(done(calls))
	conn, calls := dial("live")
	if _, err := conn.Call(ctx, "checkBandwidth", nil); err != nil {
		t.Fatal(err)
	}
	measured(done(calls))
}

// publishNow publishes every message of an FLV file on st at once.
func publishNow(t *testing.T, ctx context.Context, st *client.Stream, path string) {
	t.Helper()
	msgs, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := st.WriteMedia(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// newStream connects to app over RTMFP and creates a NetStream.
func newStream(t *testing.T, ctx context.Context, d *Daemon, app string) *client.Stream {
	t.Helper()
	c, err := client.Dial(ctx, rtmfpURL(d, app), client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newPublisher connects to app over RTMFP and publishes name with mode.
func newPublisher(t *testing.T, ctx context.Context, d *Daemon, app, name, mode string) *client.Stream {
	t.Helper()
	st := newStream(t, ctx, d, app)
	if err := st.Publish(ctx, name, mode); err != nil {
		t.Fatal(err)
	}
	return st
}

// newPlayer connects to app over RTMFP and plays name from start, with a
// 10 s buffer.
func newPlayer(t *testing.T, ctx context.Context, d *Daemon, app, name string, start float64) *client.Stream {
	t.Helper()
	st := newStream(t, ctx, d, app)
	if err := st.SetBufferTime(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := st.PlayFrom(ctx, name, start, -1, true); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAppendTwiceAndPlay: record, then append twice over RTMFP; the whole
// file plays back with every frame of the three publications.
func TestAppendTwiceAndPlay(t *testing.T) {
	d, _, done := mediaDaemon(t, MediaApp{App: "live", Record: true, MaxLead: Duration(10 * time.Second)})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	src := testtools.GenerateFLV(t, 2)
	one := countFile(t, src)
	var path string
	for _, mode := range []string{"record", "append", "appendWithGap"} {
		pub := newPublisher(t, ctx, d, "live", "mp4:twice.mp4", mode)
		awaitStatus(t, ctx, pub.Status(), netstream.RecordStart)
		publishNow(t, ctx, pub, src)
		pub.Close(ctx)
		res := awaitDone(t, done)
		if res.Err != nil || res.Mode != mode {
			t.Fatalf("%s: %+v", mode, res)
		}
		path = res.Path
	}
	ps, pr := testtools.Probe(t, src), testtools.Probe(t, path)
	for _, s := range ps {
		if r, _ := testtools.Find(pr, s.CodecType); r.Frames != 3*s.Frames {
			t.Errorf("%s: %d %s frames, want %d", path, r.Frames, s.CodecType, 3*s.Frames)
		}
	}
	player := newPlayer(t, ctx, d, "live", "mp4:twice.mp4", 0)
	want := counts{audio: 3 * one.audio, video: 3 * one.video}
	if got, _, _ := playToEnd(t, ctx, player, want); got.audio != want.audio || got.video != want.video {
		t.Fatalf("played %+v, want %+v", got, want)
	}
}

// TestRecordingRefusals: a client that may not record, a read-only file
// and a used-up quota all hear their status (NoAccess at level status,
// DiskQuotaExceeded), and the stream is published live all the same.
func TestRecordingRefusals(t *testing.T) {
	d, root, _ := mediaDaemon(t, MediaApp{App: "norec"}, MediaApp{App: "live", Record: true},
		MediaApp{App: "tiny", Record: true, QuotaBytes: 100 << 10})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The application "tiny" already uses its quota.
	os.MkdirAll(filepath.Join(root, "tiny"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "tiny", "big"), make([]byte, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(root, "live", "streams", netstream.DefaultInstance, "ro.flv")
	os.MkdirAll(filepath.Dir(ro), 0o755)
	if err := os.WriteFile(ro, []byte("keep me"), 0o444); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ app, name, code string }{
		{"norec", "cam", netstream.RecordNoAccess},
		{"live", "ro", netstream.RecordNoAccess},
		{"tiny", "cam", netstream.RecordQuota},
	} {
		player := newPlayer(t, ctx, d, c.app, c.name, -1)
		pub := newPublisher(t, ctx, d, c.app, c.name, "record")
		var st client.Status
		select {
		case st = <-pub.Status():
		case <-ctx.Done():
			t.Fatalf("%s/%s: no status", c.app, c.name)
		}
		if st.Code != c.code || st.Level != levelOf(c.code) {
			t.Fatalf("%s/%s: %v", c.app, c.name, st)
		}
		key := media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 1, 0, 0, 0, 42}}
		if err := pub.WriteMedia(ctx, key); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := player.ReadMedia(ctx)
			if err != nil {
				t.Fatalf("%s/%s: the live player got nothing: %v", c.app, c.name, err)
			}
			if m.IsVideo() {
				break
			}
		}
	}
	if b, _ := os.ReadFile(ro); string(b) != "keep me" {
		t.Fatal("the read-only file changed")
	}
}

func levelOf(code string) string {
	if code == netstream.RecordNoAccess {
		return netstream.LevelStatus
	}
	return netstream.LevelError
}

// TestDVR: a stream being recorded is played from its start (start 0)
// while it is published, and to its end once the publisher stops.
func TestDVR(t *testing.T) {
	d, _, done := mediaDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	src := testtools.GenerateFLV(t, 3)
	want := countFile(t, src)
	pub := newPublisher(t, ctx, d, "live", "dvr", "record")
	awaitStatus(t, ctx, pub.Status(), netstream.RecordStart)
	published := make(chan struct{})
	go func() {
		defer close(published)
		publishFile(t, ctx, pub, src)
	}()
	// Once a second is on disk, a player asks for the recording.
	waitUntil(t, 20*time.Second, "the recording on disk", func() bool {
		for _, r := range d.Recorder().Active() {
			if r.File() == "live/streams/_definst_/dvr.flv" {
				return true
			}
		}
		return false
	})
	player := newPlayer(t, ctx, d, "live", "dvr", 0)
	<-published
	pub.Close(ctx)
	awaitDone(t, done)
	got, _, _ := playToEnd(t, ctx, player, want)
	if got.audio != want.audio || got.video != want.video || got.first != 0 {
		t.Fatalf("played %+v, published %+v", got, want)
	}
}

// TestLiveDeletesRecording: in an application whose live publications
// delete a recording of their name (FMS's rule), publishing live removes
// it, unless it is read-only; by default it is kept.
func TestLiveDeletesRecording(t *testing.T) {
	d, root, _ := mediaDaemon(t, MediaApp{App: "fms", Live: "delete"}, MediaApp{App: "live"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	file := func(app, name string, mode os.FileMode) string {
		p := filepath.Join(root, app, "streams", netstream.DefaultInstance, name+".flv")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("old"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone, ro, kept := file("fms", "a", 0o644), file("fms", "b", 0o444), file("live", "a", 0o644)
	newPublisher(t, ctx, d, "fms", "a", "live")
	newPublisher(t, ctx, d, "fms", "b", "live")
	newPublisher(t, ctx, d, "live", "a", "live")
	// The recording is deleted as the publication starts, right after
	// NetStream.Publish.Start (which Record.Start, when there is one,
	// follows): wait for it.
	for {
		_, err := os.Stat(gone)
		if os.IsNotExist(err) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("fms/a: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, p := range []string{ro, kept} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestPlayBadInput: names that try to leave the root, prefixes without
// files, a corrupt file and a truncated one: each gets a clear status
// (StreamNotFound, Play.Failed, or the frames there are then
// Play.Complete), and the server plays on for others.
func TestPlayBadInput(t *testing.T) {
	d, root, _ := mediaDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(root, "vod", "streams", netstream.DefaultInstance)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "junk.flv"), []byte("this is no FLV file at all"), 0o644)
	os.WriteFile(filepath.Join(dir, "junk.mp4"), []byte("\x00\x00\x00\x08moov\x00\x00\xff\xffmdat"), 0o644)
	whole, err := os.ReadFile(testFLV)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cut.flv"), whole[:len(whole)/2], 0o644)
	os.WriteFile(filepath.Join(root, "secret.flv"), whole, 0o644)
	c, err := client.Dial(ctx, rtmfpURL(d, "vod"), client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, c2 := range []struct{ name, code string }{
		{"../../../secret", netstream.PlayStreamNotFound},
		{"../../secret.flv", netstream.PlayStreamNotFound},
		{"/../../secret", netstream.PlayStreamNotFound},
		{"a/../../../../secret", netstream.PlayStreamNotFound},
		{"mp4:", netstream.PlayStreamNotFound},
		{"mp4:nothing.mp4", netstream.PlayStreamNotFound},
		{"mp3:nothing", netstream.PlayStreamNotFound},
		{"x\x01y", netstream.PlayStreamNotFound},
		{"junk", netstream.PlayFailed},
		{"mp4:junk.mp4", netstream.PlayFailed},
	} {
		st, err := c.CreateStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = st.PlayFrom(ctx, c2.name, 0, -1, true)
		var se *client.StatusError
		if !errors.As(err, &se) || se.Status.Code != c2.code {
			t.Errorf("%q: %v, want %s", c2.name, err, c2.code)
		}
		st.Close(ctx)
	}
	// The truncated file plays what it holds, to its end.
	held, err := flv.ReadFile(filepath.Join(dir, "cut.flv"), 0)
	if !errors.Is(err, flv.ErrTruncated) {
		t.Fatalf("reading the cut file: %v", err)
	}
	var want counts
	for _, m := range held {
		want.add(m)
	}
	player := newPlayer(t, ctx, d, "vod", "cut", 0)
	if got, _, _ := playToEnd(t, ctx, player, want); got.video != want.video || got.audio != want.audio {
		t.Fatalf("played %+v of %+v", got, want)
	}
}
