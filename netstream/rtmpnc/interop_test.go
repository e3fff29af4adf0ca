package rtmpnc

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// These tests run real peers: ffmpeg and ffprobe over TCP on loopback, and
// the Go RTMFP client over UDP on loopback. They fail, never skip, when
// ffmpeg is missing (testtools says how to install it).

// tcpServer runs the RTMP server on a loopback port, and an RTMFP endpoint
// on the same NetConnection server.
type tcpServer struct {
	*testServer
	addr  string
	rtmfp *rtmfp.Endpoint
}

func startTCPServer(t *testing.T) *tcpServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &tcpServer{testServer: startServer(t, l, Config{}), addr: l.Addr().String()}
	prof, err := flash.New(flash.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: prof, Logger: ts.log,
		// As the daemon: a NetConnection's flows are read in arrival order,
		// so a closeStream sent after the media takes effect after it.
		InOrder: func(s *rtmfp.Session) bool { return !s.PeerMode() }})
	if err != nil {
		t.Fatal(err)
	}
	ts.rtmfp = ep
	ctx, cancel := context.WithCancel(context.Background())
	go rtmfpnc.New(rtmfpnc.Config{NS: ts.ns, Logger: ts.log}).Serve(ctx, ep)
	t.Cleanup(func() {
		cancel()
		ep.Close()
		ts.close(t)
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.dump())
		}
	})
	return ts
}

func (ts *tcpServer) rtmpURL(path string) string { return "rtmp://" + ts.addr + "/" + path }
func (ts *tcpServer) rtmfpURL(path string) string {
	return "rtmfp://" + ts.rtmfp.LocalAddr().String() + "/" + path
}

// waitPlayers waits until stream live/name has n subscribers.
func waitPlayers(t *testing.T, ns *netstream.Server, name string, n int) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(15 * time.Second)
	for {
		if s, ok := ns.Registry.Lookup("live", netstream.DefaultInstance, name); ok && s.Subscribers() >= n {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("no %d players on %s", n, name)
		}
	}
}

func readFLV(t *testing.T, path string) []media.Message {
	t.Helper()
	out, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// summary counts frames and keeps the codec headers.
type summary struct {
	video, audio         int
	avcHeader, aacHeader []byte
}

func summarize(msgs []media.Message) summary {
	var s summary
	for _, m := range msgs {
		switch {
		case m.IsVideo() && m.IsSequenceHeader():
			s.avcHeader = m.Payload
		case m.IsAudio() && m.IsSequenceHeader():
			s.aacHeader = m.Payload
		case m.IsVideo():
			s.video++
		case m.IsAudio():
			s.audio++
		}
	}
	return s
}

func compareSummaries(t *testing.T, got, want summary) {
	t.Helper()
	t.Logf("sent %d video and %d audio frames, received %d and %d", want.video, want.audio, got.video, got.audio)
	if want.video == 0 || want.audio == 0 || want.avcHeader == nil || want.aacHeader == nil {
		t.Fatalf("source incomplete: %+v", want)
	}
	if got.video != want.video || got.audio != want.audio {
		t.Errorf("received %d video and %d audio frames, sent %d and %d", got.video, got.audio, want.video, want.audio)
	}
	if !bytes.Equal(got.avcHeader, want.avcHeader) || !bytes.Equal(got.aacHeader, want.aacHeader) {
		t.Errorf("codec headers differ: AVC %x / %x, AAC %x / %x", got.avcHeader, want.avcHeader, got.aacHeader, want.aacHeader)
	}
}

// compareProbes checks ffprobe's frame counts and codec parameters.
func compareProbes(t *testing.T, got, want []testtools.Stream) {
	t.Helper()
	t.Logf("ffprobe: sent %+v, received %+v", want, got)
	for _, kind := range []string{"video", "audio"} {
		g, gok := testtools.Find(got, kind)
		w, wok := testtools.Find(want, kind)
		if !wok || w.Frames == 0 {
			t.Fatalf("source has no %s", kind)
		}
		if !gok || g.Frames != w.Frames {
			t.Errorf("%s: %d frames received, %d sent", kind, g.Frames, w.Frames)
		}
		if !g.SameCodec(w) {
			t.Errorf("%s codec parameters differ: %+v vs %+v", kind, g, w)
		}
	}
}

// TestFFmpegPublishFFprobePlay: ffmpeg publishes an H.264/AAC stream over
// RTMP in real time while ffprobe plays it back over RTMP; every frame
// arrives and the codec parameters are those of the source.
func TestFFmpegPublishFFprobePlay(t *testing.T) {
	testtools.Require(t, "ffmpeg", "ffprobe")
	ts := startTCPServer(t)
	src := testtools.GenerateFLV(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	probed := make(chan []testtools.Stream, 1)
	go func() { probed <- testtools.ProbeContext(ctx, t, ts.rtmpURL("live/cam")) }()
	waitPlayers(t, ts.ns, "cam", 1)
	out, err := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.rtmpURL("live/cam")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, out)
	}
	compareProbes(t, <-probed, testtools.Probe(t, src))
	if st := ts.ns.Stats(); st.Publishes != 1 || st.Plays != 1 {
		t.Errorf("netstream stats %+v", st)
	}
}

// TestRTMPPublishRTMFPPlay: ffmpeg publishes over RTMP, the Go client plays
// over RTMFP from the same server.
func TestRTMPPublishRTMFPPlay(t *testing.T) {
	testtools.Require(t, "ffmpeg")
	ts := startTCPServer(t)
	src := testtools.GenerateFLV(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ts.rtmfpURL("live"), client.Options{Logger: ts.log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Play(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	waitPlayers(t, ts.ns, "cam", 1)
	want := summarize(readFLV(t, src))
	got := make(chan []media.Message, 1)
	go func() { got <- playUntilUnpublished(ctx, st, want.video+want.audio) }()
	out, err := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.rtmpURL("live/cam")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, out)
	}
	compareSummaries(t, summarize(<-got), want)
}

// playUntilUnpublished collects a played stream's messages until
// NetStream.Play.UnpublishNotify and want audio and video frames (RTMFP
// carries status events and each media type on flows of their own, so the
// last frames may follow the status), or until 5 s after the status, or
// until ctx ends.
func playUntilUnpublished(ctx context.Context, st *client.Stream, want int) []media.Message {
	var out []media.Message
	frames := 0
	var grace <-chan time.Time
	for {
		if grace != nil && frames >= want {
			return out
		}
		select {
		case s := <-st.Status():
			if s.Code == netstream.PlayUnpublishNotify {
				grace = time.After(5 * time.Second)
			}
			continue
		case <-grace:
			return out
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		m, err := st.ReadMedia(rctx)
		cancel()
		if ctx.Err() != nil {
			return out
		}
		if err != nil {
			continue
		}
		out = append(out, m)
		if (m.IsAudio() || m.IsVideo()) && !m.IsSequenceHeader() {
			frames++
		}
	}
}

// TestRTMFPPublishFFmpegPlay: the Go client publishes over RTMFP, ffmpeg
// plays over RTMP from the same server and writes what it gets to a file.
func TestRTMFPPublishFFmpegPlay(t *testing.T) {
	testtools.Require(t, "ffmpeg", "ffprobe")
	ts := startTCPServer(t)
	src := testtools.GenerateFLV(t, 4)
	msgs := readFLV(t, src)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	recv := filepath.Join(t.TempDir(), "played.flv")
	player := testtools.FFmpegCommand(ctx, t, "-i", ts.rtmpURL("live/cam"), "-c", "copy", "-f", "flv", recv)
	var perr bytes.Buffer
	player.Stderr = &perr
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	waitPlayers(t, ts.ns, "cam", 1)
	c, err := client.Dial(ctx, ts.rtmfpURL("live"), client.Options{Logger: ts.log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(ctx, "cam", "live"); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.IsData() {
			p, _ := amf.AppendAMF0(nil, "@setDataFrame")
			m.Payload = append(p, m.Payload...)
		}
		if err := st.WriteMedia(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := player.Wait(); err != nil {
		t.Fatalf("ffmpeg playing: %v\n%s", err, perr.String())
	}
	compareProbes(t, testtools.Probe(t, recv), testtools.Probe(t, src))
	compareSummaries(t, summarize(readFLV(t, recv)), summarize(msgs))
}
