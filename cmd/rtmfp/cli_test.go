package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/clitest"
	"github.com/rtmfpd/rtmfpd/server"
)

var testMedia = filepath.Join("..", "..", "testdata", "media", "test_6s.flv")

const testSpec = "G:027f0201010103010c050e74657374011b00"

// startServer runs an rtmfpd (in process) on a loopback port and returns
// the base URL of the application "live".
func startServer(t *testing.T) string {
	t.Helper()
	cfg := server.Default()
	cfg.RTMFP = []string{"127.0.0.1:0"}
	cfg.RTMP = []string{}
	cfg.Status = "off"
	d, err := server.Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/live"
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

// TestPublishPlayRoundTrip: publish the test file in real time, play it
// into out.flv, and check with ffprobe that the same streams and frame
// counts came out. The player ends with the stream (its idle and start
// timeouts are an hour: only NetStream.Play.UnpublishNotify can end it
// within the test's patience), with exit status 0.
func TestPublishPlayRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	url := startServer(t) + "/cam"
	out := filepath.Join(dir, "out.flv")

	play := clitest.Start(t, bin, "play", "-o", out, "-idle", "1h", "-start-timeout", "1h", url)
	play.WaitLine(`^playing `)
	if code, _, errOut := clitest.Run(t, bin, "publish", testMedia, url); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, errOut)
	}
	if code := play.Wait(); code != 0 {
		t.Fatalf("play: exit %d", code)
	}
	log := play.Stderr()
	if !strings.Contains(log, "NetStream.Play.UnpublishNotify") || !strings.Contains(log, "done: ") {
		t.Fatalf("player did not report the end of the stream:\n%s", log)
	}
	want, got := ffprobeFrames(t, testMedia), ffprobeFrames(t, out)
	if strings.Join(want, " ") != strings.Join(got, " ") {
		t.Fatalf("published %v, played %v\nplayer log:\n%s", want, got, log)
	}
}

// readFLVTags reads an FLV header and n tags from r.
func readFLVTags(t *testing.T, r io.Reader, n int) {
	t.Helper()
	fr, err := flv.NewReader(r, 0)
	if err != nil {
		t.Fatalf("reading the player's output: %v", err)
	}
	for i := range n {
		if _, err := fr.Read(); err != nil {
			t.Fatalf("reading tag %d of the player's output: %v", i, err)
		}
	}
}

// TestPlayersFlushAndEndWithTheStream: play and group-play write each
// message as it arrives (the output is read while they run, from a pipe),
// and end by themselves, with status 0, when the publisher stops.
func TestPlayersFlushAndEndWithTheStream(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	base := startServer(t)
	for _, c := range []struct {
		name      string
		publish   []string
		play      []string
		published string // the publisher's line once it publishes
	}{
		{"play", []string{"publish", "-loop", testMedia, base + "/cam"}, []string{"play", base + "/cam"}, `^publishing `},
		{"group-play", []string{"group-publish", "-spec", testSpec, "-wait", "0s", "-loop", testMedia, base + "/gcam"},
			[]string{"group-play", "-spec", testSpec, base + "/gcam"}, `^publishing .* into group`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, append(c.play, "-o", "-", "-idle", "1h", "-start-timeout", "1h")...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			play := clitest.StartCmd(t, cmd)
			play.WaitLine(`^playing `)
			pub := clitest.Start(t, bin, c.publish...)
			pub.WaitLine(c.published)
			readFLVTags(t, stdout, 10) // while both run: flushed as it goes
			pub.Signal(syscall.SIGINT) // the publisher stops (unpublishes)
			go io.Copy(io.Discard, stdout)
			if code := play.Wait(); code != 0 {
				t.Fatalf("%s: exit %d after the stream ended", c.name, code)
			}
			if code := pub.Wait(); code != 0 {
				t.Errorf("publisher: exit %d after Ctrl-C", code)
			}
			if c.name == "group-play" && !strings.Contains(play.Stderr(), "neighbours ") {
				t.Errorf("group-play printed no neighbour count")
			}
		})
	}
}

// TestPlayNothingPublished: a stream nobody publishes ends the player with
// status 1 and no output file once -start-timeout has passed; flags may
// follow the URL.
func TestPlayNothingPublished(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	url := startServer(t) + "/nobody"
	out := filepath.Join(dir, "out.flv")
	code, _, errOut := clitest.Run(t, bin, "play", url, "-o", out, "-start-timeout", "1s")
	if code != 1 || !strings.Contains(errOut, "no media received within 1s; "+out+" not created") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output file left behind: %v", err)
	}
}

// TestServerDown: with nobody answering, play says at once where it
// connects, gives up after -connect-timeout naming the address (no
// doubled prefix), exits 1 and leaves no file.
func TestServerDown(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // a port where nothing answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	addr := silent.LocalAddr().String()
	out := filepath.Join(dir, "out.flv")
	p := clitest.Start(t, bin, "play", "-connect-timeout", "1s", "-o", out, "rtmfp://"+addr+"/live/cam")
	p.WaitLine(`^connecting to ` + addr + ` \(rtmfp://` + addr + `/live\)$`)
	if code := p.Wait(); code != 1 {
		t.Fatalf("exit %d", code)
	}
	errOut := p.Stderr()
	if !strings.Contains(errOut, "rtmfp play: connecting to "+addr+": no answer within 1s") || strings.Contains(errOut, "rtmfp: rtmfp:") {
		t.Fatalf("stderr:\n%s", errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output file left behind: %v", err)
	}
}

// TestPublishChecksInput: publish and group-publish refuse an input that
// is missing, not FLV, or without media before connecting anywhere.
func TestPublishChecksInput(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	notFLV := filepath.Join(dir, "x.txt")
	os.WriteFile(notFLV, []byte("hello"), 0o644)
	var h bytes.Buffer
	flv.NewWriter(&h, flv.FlagVideo)
	noMedia := filepath.Join(dir, "empty.flv")
	os.WriteFile(noMedia, h.Bytes(), 0o644)
	url := "rtmfp://127.0.0.1:9/live/cam"
	for _, c := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.flv"), "no such file or directory"},
		{notFLV, "not an FLV file"},
		{noMedia, "no audio or video"},
	} {
		for _, cmd := range [][]string{{"publish"}, {"group-publish", "-spec", testSpec}} {
			code, _, errOut := clitest.Run(t, bin, append(cmd, c.file, url)...)
			if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "connecting") {
				t.Errorf("%s %s: exit %d, stderr:\n%s", cmd[0], filepath.Base(c.file), code, errOut)
			}
		}
	}
}

// TestUsage: -h prints the usage with examples and exits 0; usage errors
// exit 2.
func TestUsage(t *testing.T) {
	bin := clitest.Build(t, t.TempDir(), ".")
	for _, h := range []string{"-h", "--help", "help"} {
		if code, out, _ := clitest.Run(t, bin, h); code != 0 || !strings.Contains(out, "examples:") || !strings.Contains(out, "exit status") {
			t.Errorf("rtmfp %s: exit %d, stdout:\n%s", h, code, out)
		}
	}
	for _, cmd := range []string{"play", "publish", "group-play", "group-publish"} {
		if code, out, _ := clitest.Run(t, bin, cmd, "-h"); code != 0 || !strings.Contains(out, "-connect-timeout") {
			t.Errorf("rtmfp %s -h: exit %d, stdout:\n%s", cmd, code, out)
		}
	}
	for _, args := range [][]string{
		{},
		{"record"},
		{"play"},
		{"play", "http://example.com/live/cam"},
		{"play", "-no-such-flag", "rtmfp://127.0.0.1/live/cam"},
		{"publish", "rtmfp://127.0.0.1/live/cam"},
		{"group-play", "rtmfp://127.0.0.1/live/cam"},
		{"group-play", "-spec", "nonsense", "rtmfp://127.0.0.1/live/cam"},
	} {
		if code, _, errOut := clitest.Run(t, bin, args...); code != 2 {
			t.Errorf("rtmfp %v: exit %d, want 2; stderr:\n%s", args, code, errOut)
		}
	}
}

// TestProgressLines: on a terminal the progress line is rewritten in place
// and whole lines clear it first; elsewhere each progress report is a
// plain line.
func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	tty := &console{w: &b, tty: true}
	tty.progress("1")
	tty.progress("2")
	tty.line("status %d", 3)
	if got, want := b.String(), "\r1\033[K\r2\033[K\r\033[Kstatus 3\n"; got != want {
		t.Errorf("terminal: %q, want %q", got, want)
	}
	b.Reset()
	plainOut := &console{w: &b}
	plainOut.progress("1")
	plainOut.line("status %d", 3)
	plainOut.progress("2")
	if got, want := b.String(), "1\nstatus 3\n2\n"; got != want {
		t.Errorf("not a terminal: %q, want %q", got, want)
	}
}
