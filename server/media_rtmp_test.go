package server

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/recorder"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// These tests run ffmpeg and ffprobe (they fail, never skip, when those are
// missing; ./scripts/test.sh installs them).

func rtmpURL(d *Daemon, path string) string { return "rtmp://" + d.RTMPAddrs()[0] + "/" + path }

// TestRecordFFmpegAutoRecord: ffmpeg publishes live over RTMP (it cannot
// ask for "record"); the application's autoRecord rule records it, the
// file holds what ffprobe finds in the published file, and a live player
// over RTMFP gets every frame all the same.
func TestRecordFFmpegAutoRecord(t *testing.T) {
	d, root, done := mediaDaemon(t, MediaApp{App: "live", AutoRecord: []recorder.AutoRule{
		{Stream: "cam*"}, {Stream: "cam*", Name: "mp4:{name}.f4v"}}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pc, err := client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	player, err := pc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := player.PlayFrom(ctx, "cam1", -1, -1, true); err != nil {
		t.Fatal(err)
	}
	src := countFile(t, testFLV)
	live := make(chan counts, 1)
	go func() {
		var c counts
		for c.audio < src.audio || c.video < src.video {
			m, err := player.ReadMedia(ctx)
			if err != nil {
				break
			}
			c.add(m)
		}
		live <- c
	}()
	testtools.FFmpeg(t, "-re", "-i", testFLV, "-c", "copy", "-f", "flv", rtmpURL(d, "live/cam1"))
	for range 2 {
		res := awaitDone(t, done)
		dir := filepath.Join(root, "live", "streams", netstream.DefaultInstance)
		if res.Err != nil || (res.Path != filepath.Join(dir, "cam1.flv") && res.Path != filepath.Join(dir, "cam1.f4v")) {
			t.Fatalf("recording %+v", res)
		}
		testtools.SameStreams(t, res.Path, testFLV)
		if dur, want := testtools.Duration(t, res.Path), testtools.Duration(t, testFLV); math.Abs(dur-want) > 0.1 {
			t.Errorf("%s: duration %.3f s, published %.3f s", res.Path, dur, want)
		}
	}
	if got := <-live; got.audio != src.audio || got.video != src.video {
		t.Errorf("the live player got %+v of %+v", got, src)
	}
}

// TestVODFFmpeg: ffmpeg reads files over RTMP (rtmp://host/vod/clip, FLV,
// MP4 and F4V with mp4:, MP3 with mp3:) and gets every frame, no faster
// than real time minus the application's largest lead.
func TestVODFFmpeg(t *testing.T) {
	d, root, _ := mediaDaemon(t, MediaApp{App: "vod", MaxLead: Duration(2 * time.Second)})
	dir := filepath.Join(root, "vod", "streams", netstream.DefaultInstance)
	copyFile(t, testFLV, filepath.Join(dir, "clip.flv"))
	want := testtools.Duration(t, testFLV)
	// MP4 and F4V files ffmpeg made, movie box last and first.
	testtools.FFmpeg(t, "-i", testFLV, "-c", "copy", filepath.Join(dir, "clip.mp4"))
	testtools.FFmpeg(t, "-i", testFLV, "-c", "copy", "-movflags", "faststart", "-f", "mp4", filepath.Join(dir, "clip.f4v"))
	// And an MP3 file (behind an ID3v2 tag).
	testtools.FFmpeg(t, "-f", "lavfi", "-i", "sine=duration=6", "-c:a", "libmp3lame", "-b:a", "64k",
		"-metadata", "title=Tone", filepath.Join(dir, "song.mp3"))
	for _, c := range []struct{ name, file string }{
		{"clip", testFLV}, {"clip.flv", testFLV},
		{"mp4:clip.mp4", filepath.Join(dir, "clip.mp4")}, {"mp4:clip.f4v", filepath.Join(dir, "clip.f4v")},
		{"mp3:song", filepath.Join(dir, "song.mp3")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			readVOD(t, d, c.name, c.file, want)
		})
	}
}

// readVOD has ffmpeg read vod/name over RTMP into a file (ffprobe 5.1
// crashes counting the frames of an RTMP stream that ends with
// onPlayStatus, nginx-rtmp's as ours), which must hold the streams and
// frames of want, read no faster than real time minus a 2 s lead.
func readVOD(t *testing.T, d *Daemon, name, want string, seconds float64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.flv")
	began := time.Now()
	testtools.FFmpeg(t, "-i", rtmpURL(d, "vod/"+name), "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "flv", out)
	if took := time.Since(began).Seconds(); took < seconds-2-0.2 {
		t.Errorf("%s: read %.1f s of media in %.1f s", name, seconds, took)
	}
	testtools.SameStreams(t, out, want)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// TestRecordingSurvivesDisconnect: a publisher whose TCP connection just
// drops (no unpublish) leaves a complete file: the frames that reached
// the server (a reset connection loses what was in flight), the duration
// in the metadata, and ffprobe reads it.
func TestRecordingSurvivesDisconnect(t *testing.T) {
	d, _, done := mediaDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, rtmpURL(d, "live"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "drop", rtmp.ModeRecord); err != nil {
		t.Fatal(err)
	}
	msgs, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sent counts
	for i, m := range msgs[:len(msgs)/2] {
		if err := c.WriteMedia(m); err != nil {
			t.Fatal(err)
		}
		sent.add(m)
		if i == 20 {
			// Some frames surely reached the server.
			waitUntil(t, 10*time.Second, "frames published", func() bool {
				s, ok := d.NetStream().Registry.Lookup("live", netstream.DefaultInstance, "drop")
				return ok && s.Stats().Messages >= 20
			})
		}
	}
	c.Conn().Close() // no FCUnpublish, no deleteStream
	res := awaitDone(t, done)
	if res.Err != nil {
		t.Fatalf("recording %+v", res)
	}
	got := countFile(t, res.Path)
	if got.audio > sent.audio || got.video > sent.video || got.video == 0 {
		t.Fatalf("recorded %+v, sent %+v", got, sent)
	}
	if dur := scanFile(t, res.Path).Metadata(); dur == nil {
		t.Fatal("no metadata")
	} else if v, _ := dur.GetNumber("duration"); math.Abs(v-float64(got.last)/1000) > 0.001 {
		t.Fatalf("metadata duration %v, last frame at %d ms", v, got.last)
	}
	if len(testtools.Probe(t, res.Path)) != 2 {
		t.Fatal("ffprobe does not find both streams")
	}
}
