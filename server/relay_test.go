package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/relay"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// multipoint is the relay setup of FMS's multipoint publishing: ffmpeg
// publishes to server 1 (rtmfpd over RTMP), which republishes to server 2
// (nginx with the RTMP module) over RTMP and to server 3 (another rtmfpd)
// over RTMFP.
type multipoint struct {
	s1, s3 *Daemon
	nginx  *testtools.Nginx
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

// lockedWriter serialises log writes from many goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func startMultipoint(t *testing.T) *multipoint {
	testtools.Require(t, "ffmpeg", "ffprobe")
	// publish_notify makes nginx tell its players (ffprobe) that the
	// stream ended with NetStream.Play.UnpublishNotify, which ends ffmpeg's
	// RTMP input; by default nginx sends only Stream EOF, which ffmpeg
	// ignores.
	mp := &multipoint{nginx: testtools.StartNginxRTMP(t, "application live { live on; publish_notify on; }"),
		logs: new(bytes.Buffer), logMu: new(sync.Mutex)}
	log := slog.New(slog.NewTextHandler(lockedWriter{mp.logMu, mp.logs}, nil))
	cfg3 := Default()
	cfg3.RTMFP, cfg3.RTMP, cfg3.Status = []string{"127.0.0.1:0"}, []string{}, "off"
	s3, err := Start(cfg3, log.With("server", 3))
	if err != nil {
		t.Fatal(err)
	}
	mp.s3 = s3
	cfg1 := Default()
	cfg1.RTMFP, cfg1.Status = []string{"127.0.0.1:0"}, "127.0.0.1:0"
	cfg1.Relay = RelayConfig{
		MinBackoff: Duration(100 * time.Millisecond), MaxBackoff: Duration(400 * time.Millisecond),
		Rules: []relay.Rule{{App: "live", Stream: "*", Targets: []relay.Target{
			{URL: mp.nginx.URL("live/{name}")},
			{URL: "rtmfp://" + s3.Endpoints()[0].LocalAddr().String() + "/live/{name}"},
		}}},
	}
	s1, err := Start(cfg1, log.With("server", 1))
	if err != nil {
		s3.Shutdown(context.Background())
		t.Fatal(err)
	}
	mp.s1 = s1
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s1.Shutdown(ctx)
		s3.Shutdown(ctx)
		if t.Failed() {
			mp.logMu.Lock()
			t.Logf("server logs:\n%s", mp.logs.String())
			mp.logMu.Unlock()
		}
	})
	return mp
}

func (mp *multipoint) publishURL(name string) string {
	return "rtmp://" + mp.s1.RTMPAddrs()[0] + "/live/" + name
}

// target returns the relay status of the target whose URL contains sub.
func (mp *multipoint) target(sub string) relay.TargetStatus {
	for _, st := range mp.s1.Relay().Status() {
		if strings.Contains(st.Target, sub) {
			return st
		}
	}
	return relay.TargetStatus{}
}

// rtmfpPlayer plays a stream of server 3 with the Go client and keeps what
// it gets.
type rtmfpPlayer struct {
	mu         sync.Mutex
	frames     int // audio and video frames (not codec headers)
	video      int
	unpublish  int // NetStream.Play.UnpublishNotify events
	publish    int // NetStream.Play.PublishNotify events
	lastFrame  time.Time
	maxGap     time.Duration
	avcHeader  []byte
	unpublishC chan struct{}
}

func playRTMFP(ctx context.Context, t *testing.T, d *Daemon, name string) *rtmfpPlayer {
	c, err := client.Dial(ctx, "rtmfp://"+d.Endpoints()[0].LocalAddr().String()+"/live", client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Play(ctx, name); err != nil {
		t.Fatal(err)
	}
	// Play.Start comes just before the server subscribes the player.
	waitUntil(t, 10*time.Second, "the player subscribed", func() bool {
		s, ok := d.NetStream().Registry.Lookup("live", netstream.DefaultInstance, name)
		return ok && s.Subscribers() == 1
	})
	p := &rtmfpPlayer{unpublishC: make(chan struct{}, 16)}
	go func() {
		for {
			select {
			case s := <-st.Status():
				p.mu.Lock()
				switch s.Code {
				case netstream.PlayUnpublishNotify:
					p.unpublish++
					p.unpublishC <- struct{}{}
				case netstream.PlayPublishNotify:
					p.publish++
				}
				p.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for {
			m, err := st.ReadMedia(ctx)
			if err != nil {
				return
			}
			p.mu.Lock()
			switch {
			case m.IsVideo() && m.IsSequenceHeader():
				p.avcHeader = m.Payload
			case m.IsAudio() && m.IsSequenceHeader():
			case m.IsAudio() || m.IsVideo():
				now := time.Now()
				if !p.lastFrame.IsZero() {
					p.maxGap = max(p.maxGap, now.Sub(p.lastFrame))
				}
				p.lastFrame = now
				p.frames++
				if m.IsVideo() {
					p.video++
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *rtmfpPlayer) counts() (frames, video, unpublish, publish int, gap time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frames, p.video, p.unpublish, p.publish, p.maxGap
}

// sourceFrames counts the audio and video frames of an FLV file.
func sourceFrames(t *testing.T, path string) (frames, video int, avcHeader []byte) {
	msgs, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		switch {
		case m.IsSequenceHeader():
			if m.IsVideo() {
				avcHeader = m.Payload
			}
		case m.IsVideo():
			frames++
			video++
		case m.IsAudio():
			frames++
		}
	}
	return frames, video, avcHeader
}

// waitUntil polls cond until it holds, failing after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRelayMultipoint: ffmpeg publishes to server 1; ffprobe reads the
// stream from server 2 (nginx) and the Go client from server 3 (rtmfpd
// over RTMFP), every frame with the source's codec parameters. When ffmpeg
// stops, both remote streams end.
func TestRelayMultipoint(t *testing.T) {
	mp := startMultipoint(t)
	src := testtools.GenerateFLV(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	p3 := playRTMFP(ctx, t, mp.s3, "cam")
	probed := make(chan []testtools.Stream, 1)
	go func() { probed <- testtools.ProbeContext(ctx, t, mp.nginx.URL("live/cam")) }()
	// ffprobe is playing on nginx once nginx has a subscriber... which it
	// does not report; its connection is enough: wait for nginx to log the
	// play.
	waitUntil(t, 10*time.Second, "ffprobe playing on nginx", func() bool {
		return strings.Contains(mp.nginx.ErrorLog(), "play: name='cam'")
	})
	out, err := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", mp.publishURL("cam")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, out)
	}
	// Server 2's stream ended: ffprobe read it to its end.
	got, want := <-probed, testtools.Probe(t, src)
	t.Logf("ffprobe on server 2: %+v; source %+v", got, want)
	for _, kind := range []string{"video", "audio"} {
		g, _ := testtools.Find(got, kind)
		w, _ := testtools.Find(want, kind)
		if w.Frames == 0 || g.Frames != w.Frames || !g.SameCodec(w) {
			t.Errorf("%s on server 2: %+v, source %+v", kind, g, w)
		}
	}
	// Server 3's stream ended too.
	select {
	case <-p3.unpublishC:
	case <-ctx.Done():
		t.Fatal("server 3's player was not told of the unpublish")
	}
	srcFrames, srcVideo, avc := sourceFrames(t, src)
	waitUntil(t, 5*time.Second, "server 3's last frames", func() bool {
		f, _, _, _, _ := p3.counts()
		return f >= srcFrames
	})
	frames, video, _, _, _ := p3.counts()
	t.Logf("server 3: %d frames (%d video), source %d (%d)", frames, video, srcFrames, srcVideo)
	if frames != srcFrames || video != srcVideo || !bytes.Equal(p3.avcHeader, avc) {
		t.Errorf("server 3 got %d frames (%d video), source %d (%d)", frames, video, srcFrames, srcVideo)
	}
	s, ok := mp.s3.NetStream().Registry.Lookup("live", netstream.DefaultInstance, "cam")
	if ok && s.Publisher() != nil {
		t.Error("server 3's stream is still published")
	}
	waitUntil(t, 5*time.Second, "the relay targets gone", func() bool { return len(mp.s1.Relay().Status()) == 0 })
}

// TestRelayTargetRestart: server 2 is killed mid-stream and restarted; the
// relay retries, reports it, and resumes publishing to it (a player on the
// restarted nginx gets frames), while server 3 never notices: its player
// gets every frame with no unpublish until ffmpeg stops.
func TestRelayTargetRestart(t *testing.T) {
	mp := startMultipoint(t)
	src := testtools.GenerateFLV(t, 8)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	p3 := playRTMFP(ctx, t, mp.s3, "cam")
	ff := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", mp.publishURL("cam"))
	var ffOut bytes.Buffer
	ff.Stdout, ff.Stderr = &ffOut, &ffOut
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	ffDone := make(chan error, 1)
	go func() { ffDone <- ff.Wait() }()
	waitUntil(t, 15*time.Second, "relaying to nginx", func() bool {
		st := mp.target(mp.nginx.Addr())
		return st.State == relay.StatePublishing && st.BytesSent > 50_000
	})
	before := mp.target(mp.nginx.Addr())
	mp.nginx.Kill()
	waitUntil(t, 10*time.Second, "the relay noticing nginx is gone", func() bool {
		st := mp.target(mp.nginx.Addr())
		return st.Failures >= 2 && st.State == relay.StateRetrying
	})
	down := mp.target(mp.nginx.Addr())
	t.Logf("nginx down: %+v", down)
	// The status endpoint reports it too.
	resp, err := http.Get("http://" + mp.s1.StatusAddr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var status Status
	err = json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if err != nil || len(status.Relay) != 2 {
		t.Fatalf("status: %v %+v", err, status.Relay)
	}
	for _, st := range status.Relay {
		if strings.Contains(st.Target, mp.nginx.Addr()) && (st.State != relay.StateRetrying || st.LastError == "") {
			t.Errorf("/status for nginx: %+v", st)
		}
	}
	mp.nginx.Restart()
	waitUntil(t, 10*time.Second, "the relay publishing to nginx again", func() bool {
		return mp.target(mp.nginx.Addr()).State == relay.StatePublishing
	})
	// A player on the restarted nginx gets the stream, from a key frame.
	pl, err := rtmp.Dial(ctx, mp.nginx.URL("live"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	if err := pl.Play(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	frames := 0
	for frames < 15 {
		m, err := pl.ReadMessage()
		if err != nil {
			t.Fatalf("playing from the restarted nginx: %v after %d frames", err, frames)
		}
		if m.Type == media.TypeVideo && !m.IsSequenceHeader() {
			frames++
		}
	}
	after := mp.target(mp.nginx.Addr())
	t.Logf("nginx target before the kill: %d attempts, %d bytes; after the restart: %d attempts, %d bytes",
		before.Attempts, before.BytesSent, after.Attempts, after.BytesSent)
	if after.Attempts < 3 || after.BytesSent <= before.BytesSent {
		t.Errorf("nginx target after restart: %+v", after)
	}
	if err := <-ffDone; err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, ffOut.String())
	}
	select {
	case <-p3.unpublishC:
	case <-ctx.Done():
		t.Fatal("server 3's player was not told of the unpublish")
	}
	srcFrames, _, _ := sourceFrames(t, src)
	waitUntil(t, 5*time.Second, "server 3's last frames", func() bool {
		f, _, _, _, _ := p3.counts()
		return f >= srcFrames
	})
	got, _, unpub, pub, gap := p3.counts()
	t.Logf("server 3: %d of %d frames, %d unpublish and %d publish notifications, largest gap between frames %v",
		got, srcFrames, unpub, pub, gap.Round(time.Millisecond))
	if got != srcFrames || unpub != 1 || pub != 1 {
		t.Errorf("server 3 noticed: %d of %d frames, %d unpublish and %d publish notifications", got, srcFrames, unpub, pub)
	}
	if n := mp.s3.NetStream().Stats().Publishes; n != 1 {
		t.Errorf("server 3 saw %d publishes", n)
	}
	if st := mp.target("rtmfp://"); st.Attempts > 1 {
		t.Errorf("server 3's target reconnected: %+v", st)
	}
}
