package rtmp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
)

// These tests run against peers nobody here wrote: nginx with the RTMP
// module, and ffmpeg. They fail, never skip, when those are missing.

func readFLV(t *testing.T, path string) []media.Message {
	t.Helper()
	out, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFLV(t *testing.T, msgs []media.Message) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "received.flv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := flv.NewWriter(f, flv.FlagAudio|flv.FlagVideo)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// mediaSummary counts frames and keeps the first sequence headers.
type mediaSummary struct {
	video, audio         int
	avcHeader, aacHeader []byte
}

func summarize(msgs []media.Message) mediaSummary {
	var s mediaSummary
	for _, m := range msgs {
		switch {
		case m.IsSequenceHeader() && m.IsVideo():
			if s.avcHeader == nil {
				s.avcHeader = m.Payload
			}
		case m.IsSequenceHeader() && m.IsAudio():
			if s.aacHeader == nil {
				s.aacHeader = m.Payload
			}
		case m.IsVideo():
			s.video++
		case m.IsAudio():
			s.audio++
		}
	}
	return s
}

func compareSummaries(t *testing.T, got, want mediaSummary) {
	t.Helper()
	t.Logf("sent %d video and %d audio frames; received %d and %d", want.video, want.audio, got.video, got.audio)
	if want.video == 0 || want.audio == 0 || want.avcHeader == nil || want.aacHeader == nil {
		t.Fatalf("source stream incomplete: %+v", want)
	}
	if got.video != want.video || got.audio != want.audio {
		t.Errorf("received %d video and %d audio frames, sent %d and %d", got.video, got.audio, want.video, want.audio)
	}
	if !bytes.Equal(got.avcHeader, want.avcHeader) {
		t.Errorf("AVC sequence header differs: %x vs %x", got.avcHeader, want.avcHeader)
	}
	if !bytes.Equal(got.aacHeader, want.aacHeader) {
		t.Errorf("AAC sequence header differs: %x vs %x", got.aacHeader, want.aacHeader)
	}
}

func compareProbes(t *testing.T, gotPath, wantPath string) {
	t.Helper()
	got, want := testtools.Probe(t, gotPath), testtools.Probe(t, wantPath)
	t.Logf("ffprobe -count_frames: sent %+v, received %+v", want, got)
	for _, kind := range []string{"video", "audio"} {
		if g, w := testtools.Frames(got, kind), testtools.Frames(want, kind); g != w || w == 0 {
			t.Errorf("ffprobe: %d %s frames received, %d sent (%+v vs %+v)", g, kind, w, got, want)
		}
	}
}

// setDataFrame wraps an FLV onMetaData script tag as publishers send it.
func setDataFrame(m media.Message) media.Message {
	p, _ := amf.AppendAMF0(nil, "@setDataFrame")
	return media.Message{Type: m.Type, Timestamp: m.Timestamp, Payload: append(p, m.Payload...)}
}

// TestInteropNginx publishes a stream made by ffmpeg to nginx-rtmp with our
// client (digest handshake) while another of our clients (plain handshake)
// plays it back: same frames, same codec headers.
func TestInteropNginx(t *testing.T) {
	n := testtools.StartNginxRTMP(t, testtools.DefaultApplications)
	src := testtools.GenerateFLV(t, 4)
	msgs := readFLV(t, src)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	player, err := Dial(ctx, n.URL("live"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	if err := player.Play(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	received := make(chan []media.Message, 1)
	go func() { received <- readUntilStopNoT(player) }()

	pub, err := Dial(ctx, n.URL("live"), &ClientOptions{Config: &Config{Digest: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Conn().Digest() {
		t.Error("nginx did not answer the digest handshake with a digest")
	}
	if err := pub.Publish(ctx, "test", ModeLive); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.IsData() {
			m = setDataFrame(m)
		}
		if err := pub.WriteMedia(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	var got []media.Message
	select {
	case got = <-received:
	case <-ctx.Done():
		player.Close()
		t.Fatal("player did not see the end of the stream")
	}
	compareSummaries(t, summarize(got), summarize(msgs))
	compareProbes(t, writeFLV(t, got), src)
}

// readUntilStopNoT is readUntilStop for a goroutine: it returns what it
// has on error.
func readUntilStopNoT(c *Client) []media.Message {
	var out []media.Message
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return out
		}
		switch {
		case m.Command != nil:
			if _, code := m.Command.Status(); code == CodePlayStop || code == CodePlayUnpublishNotify {
				return out
			}
		case m.Type == media.TypeUserControl:
			if u, _ := ParseUserControl(m.Payload); u.Event == EventStreamEOF {
				return out
			}
		case m.Type == media.TypeAudio || m.Type == media.TypeVideo:
			out = append(out, m.Message)
		}
	}
}

// TestInteropFFmpeg has ffmpeg publish to a server built on our server
// Conn, then ffmpeg play it back from there.
func TestInteropFFmpeg(t *testing.T) {
	testtools.Require(t, "ffmpeg", "ffprobe")
	srv := startTestServer(t, nil)
	src := testtools.GenerateFLV(t, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	out, err := testtools.FFmpegCommand(ctx, t, "-i", src, "-c", "copy", "-f", "flv", srv.url("live/test")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, out)
	}
	st := srv.stream("test")
	select {
	case <-st.published:
	default:
		t.Fatal("ffmpeg did not publish")
	}
	// The server ends the stream when ffmpeg deletes it or disconnects;
	// the player below then gets Play.Stop after the last frame.
	recv := filepath.Join(t.TempDir(), "played.flv")
	out, err = testtools.FFmpegCommand(ctx, t, "-i", srv.url("live/test"), "-c", "copy", "-f", "flv", recv).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg playing: %v\n%s", err, out)
	}
	compareProbes(t, recv, src)
	compareSummaries(t, summarize(readFLV(t, recv)), summarize(readFLV(t, src)))

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.digest) != 2 || !srv.digest[0] || !srv.digest[1] {
		t.Errorf("ffmpeg handshakes (digest form expected): %v", srv.digest)
	}
	if len(srv.errs) > 0 {
		t.Errorf("server errors: %v", srv.errs)
	}
}

// extendedBase shifts timestamps past 0xFFFFFF (4h39m), so that every
// header carries an extended timestamp, type 3 continuations included.
const extendedBase = 0x01000000

// TestInteropNginxExtendedTimestamps publishes through nginx-rtmp with
// timestamps that need the extended field: nginx must read our chunks and
// we must read nginx's, payload for payload.
func TestInteropNginxExtendedTimestamps(t *testing.T) {
	n := testtools.StartNginxRTMP(t, testtools.DefaultApplications)
	src := testtools.GenerateFLV(t, 2)
	msgs := readFLV(t, src)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	player, err := Dial(ctx, n.URL("live"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	if err := player.Play(ctx, "ext"); err != nil {
		t.Fatal(err)
	}
	received := make(chan []media.Message, 1)
	go func() { received <- readUntilStopNoT(player) }()
	pub, err := Dial(ctx, n.URL("live"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "ext", ModeLive); err != nil {
		t.Fatal(err)
	}
	var sent []media.Message
	for _, m := range msgs {
		if m.IsData() {
			continue
		}
		m.Timestamp += extendedBase
		sent = append(sent, m)
		if err := pub.WriteMedia(m); err != nil {
			t.Fatal(err)
		}
	}
	pub.Close()
	var got []media.Message
	select {
	case got = <-received:
	case <-ctx.Done():
		t.Fatal("player did not see the end of the stream")
	}
	// nginx may repeat sequence headers; compare the frames in order.
	frames := func(ms []media.Message) []media.Message {
		var out []media.Message
		for _, m := range ms {
			if !m.IsSequenceHeader() {
				out = append(out, m)
			}
		}
		return out
	}
	g, w := frames(got), frames(sent)
	if len(g) != len(w) {
		t.Fatalf("received %d frames, sent %d", len(g), len(w))
	}
	for i := range g {
		if g[i].Type != w[i].Type || !bytes.Equal(g[i].Payload, w[i].Payload) {
			t.Fatalf("frame %d differs", i)
		}
		if g[i].Timestamp < 0xFFFFFF {
			t.Fatalf("frame %d came back with timestamp %#x", i, g[i].Timestamp)
		}
	}
	t.Logf("%d frames through nginx with timestamps %#x..%#x", len(g), g[0].Timestamp, g[len(g)-1].Timestamp)
}

// TestInteropFFmpegExtendedTimestamps has ffmpeg publish with timestamps
// past 0xFFFFFF to our server and play them back from it.
func TestInteropFFmpegExtendedTimestamps(t *testing.T) {
	testtools.Require(t, "ffmpeg", "ffprobe")
	srv := startTestServer(t, nil)
	src := testtools.GenerateFLV(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := testtools.FFmpegCommand(ctx, t, "-i", src, "-c", "copy", "-output_ts_offset", "20000",
		"-f", "flv", srv.url("live/ext")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, out)
	}
	st := srv.stream("ext")
	msgs, done, _ := st.from(0)
	if !done || len(msgs) == 0 {
		t.Fatalf("stream done %v with %d messages", done, len(msgs))
	}
	for _, m := range msgs {
		if (m.IsAudio() || m.IsVideo()) && !m.IsSequenceHeader() && m.Timestamp < 0xFFFFFF {
			t.Fatalf("ffmpeg sent timestamp %#x (type %d, %x); the test needs extended timestamps", m.Timestamp, m.Type, m.Payload[:min(4, len(m.Payload))])
		}
	}
	recv := filepath.Join(t.TempDir(), "played.flv")
	out, err = testtools.FFmpegCommand(ctx, t, "-i", srv.url("live/ext"), "-c", "copy", "-f", "flv", recv).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg playing: %v\n%s", err, out)
	}
	compareProbes(t, recv, src)
}
