package main

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/daemon"
)

// build compiles this command into dir.
func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "rtmfp")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// ffprobeFrames returns "codec=frames" per stream of an FLV file.
func ffprobeFrames(t *testing.T, path string) []string {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe is missing: run ./scripts/test.sh, which installs ffmpeg from Debian")
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries",
		"stream=codec_name,nb_read_frames", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var res []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		res = append(res, strings.ReplaceAll(l, ",", "="))
	}
	slices.Sort(res)
	return res
}

// TestPublishPlayRoundTrip runs the CLI against an in-process server:
// publish the test file in real time, play it into out.flv, and check with
// ffprobe that the same streams and frame counts came out.
func TestPublishPlayRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := build(t, dir)
	cfg := daemon.Default()
	cfg.RTMFP = []string{"127.0.0.1:0"}
	cfg.Status = "off"
	d, err := daemon.Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	url := "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/live/cam"
	src := filepath.Join("..", "..", "testdata", "media", "test_6s.flv")
	out := filepath.Join(dir, "out.flv")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	play := exec.CommandContext(ctx, bin, "play", "-o", out, "-idle", "5s", url)
	stderr, _ := play.StderrPipe()
	if err := play.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var playLog strings.Builder
	started := make(chan struct{})
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			logMu.Lock()
			playLog.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.HasPrefix(sc.Text(), "playing ") {
				once.Do(func() { close(started) })
			}
		}
	}()
	// Publish once the player has joined.
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("player did not start")
	}
	pub := exec.CommandContext(ctx, bin, "publish", src, url)
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("publish: %v\n%s", err, b)
	}
	<-logDone
	logMu.Lock()
	log := playLog.String()
	logMu.Unlock()
	if err := play.Wait(); err != nil {
		t.Fatalf("play: %v\n%s", err, log)
	}
	want, got := ffprobeFrames(t, src), ffprobeFrames(t, out)
	if strings.Join(want, " ") != strings.Join(got, " ") {
		t.Fatalf("published %v, played %v\nplayer log:\n%s", want, got, log)
	}
	if !strings.Contains(log, "NetStream.Play.UnpublishNotify") {
		t.Fatalf("player did not report the end of the stream:\n%s", log)
	}
	_ = os.Remove(out)
}
