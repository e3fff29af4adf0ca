// Package testtools runs the real RTMP peers the interoperability tests
// need: ffmpeg and ffprobe to make and measure test streams, nginx with the
// RTMP module as a server nobody here wrote. Missing tools fail the test
// (never skip it) with a message pointing at ./scripts/test.sh, which
// installs them. Everything listens on and connects to loopback only.
package testtools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NginxRTMPModule is where Debian's libnginx-mod-rtmp installs the module.
const NginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// installHint ends every missing-tool failure.
const installHint = "run ./scripts/test.sh, which installs ffmpeg, nginx, libnginx-mod-rtmp and chromium"

// Require fails the test unless every named program is on PATH, and
// returns their paths in order.
func Require(t testing.TB, programs ...string) []string {
	t.Helper()
	paths := make([]string, len(programs))
	for i, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("%s is not installed: %s", p, installHint)
		}
		paths[i] = path
	}
	return paths
}

// RequireNginxRTMP fails the test unless nginx and its RTMP module are
// installed, and returns the nginx path.
func RequireNginxRTMP(t testing.TB) string {
	t.Helper()
	nginx := Require(t, "nginx")[0]
	if _, err := os.Stat(NginxRTMPModule); err != nil {
		t.Fatalf("the nginx RTMP module (%s) is not installed: %s", NginxRTMPModule, installHint)
	}
	return nginx
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Nginx is a running nginx with the RTMP module.
type Nginx struct {
	Port int    // RTMP port on 127.0.0.1
	Dir  string // prefix directory: nginx.conf, error.log

	t      testing.TB
	bin    string
	conf   string
	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *bytes.Buffer
	exited chan error
}

// Addr returns the RTMP address, "127.0.0.1:port".
func (n *Nginx) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// URL returns "rtmp://127.0.0.1:port/" + path.
func (n *Nginx) URL(path string) string { return "rtmp://" + n.Addr() + "/" + path }

// ErrorLog returns the content of nginx's error log.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "error.log"))
	return string(b)
}

// Pid returns the process ID of the running nginx (it runs as a single
// process: no master, one worker), or 0 when it is stopped.
func (n *Nginx) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// DefaultApplications is an rtmp server block body with one live
// application, "live".
const DefaultApplications = "application live { live on; }"

// StartNginxRTMP starts nginx in the foreground, as the current user, with a
// configuration in a temporary directory whose rtmp server listens on a
// free loopback port and holds applications (rtmp server block directives,
// such as DefaultApplications). nginx is stopped when the test ends; its
// error log is printed if the test failed.
func StartNginxRTMP(t testing.TB, applications string) *Nginx {
	t.Helper()
	nginx := RequireNginxRTMP(t)
	dir := t.TempDir()
	n := &Nginx{Port: FreePort(t), Dir: dir, t: t, bin: nginx}
	conf := fmt.Sprintf(`load_module %s;
daemon off;
master_process off;
worker_processes 1;
error_log %s info;
pid %s;
events { worker_connections 1024; }
rtmp {
    server {
        listen 127.0.0.1:%d;
        %s
    }
}
`, NginxRTMPModule, filepath.Join(dir, "error.log"), filepath.Join(dir, "nginx.pid"), n.Port, applications)
	n.conf = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.stop(os.Interrupt)
		if t.Failed() {
			n.mu.Lock()
			out := ""
			if n.out != nil {
				out = n.out.String()
			}
			n.mu.Unlock()
			t.Logf("nginx output:\n%s\nnginx error log:\n%s", out, n.ErrorLog())
		}
	})
	n.Restart()
	return n
}

// Kill stops nginx at once (SIGKILL), as a crash would: its connections
// are reset without any RTMP goodbye.
func (n *Nginx) Kill() { n.stop(os.Kill) }

// stop signals nginx and waits for it to exit.
func (n *Nginx) stop(sig os.Signal) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Restart starts nginx again on the same port after Kill (or starts it the
// first time), and waits until it accepts connections.
func (n *Nginx) Restart() {
	t := n.t
	t.Helper()
	n.stop(os.Interrupt)
	cmd := exec.Command(n.bin, "-p", n.Dir, "-c", n.conf, "-e", filepath.Join(n.Dir, "error.log"))
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	n.mu.Lock()
	n.cmd, n.out, n.exited = cmd, out, exited
	n.mu.Unlock()
	// Wait until the port accepts connections, or nginx exits.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", n.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			n.mu.Lock()
			n.cmd = nil
			n.mu.Unlock()
			t.Fatalf("nginx exited (%v):\n%s\n%s", err, out.String(), n.ErrorLog())
		case <-deadline.C:
			t.Fatalf("nginx did not listen on %s:\n%s", n.Addr(), n.ErrorLog())
		case <-tick.C:
		}
	}
}

// GenerateFLV makes a small H.264/AAC FLV file with ffmpeg: a 320x240 test
// pattern at 15 frames/s with a key frame every second and a sine tone, for
// the given number of seconds.
func GenerateFLV(t testing.TB, seconds int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "test.flv")
	FFmpeg(t, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
		"-f", "lavfi", "-i", "sine", "-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-g", "15", "-c:a", "aac", "-f", "flv", out)
	return out
}

// FFmpeg runs ffmpeg with args (after -hide_banner -loglevel error -y) to
// completion and fails the test if it fails.
func FFmpeg(t testing.TB, args ...string) {
	t.Helper()
	cmd := FFmpegCommand(context.Background(), t, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// FFmpegCommand returns an ffmpeg command with args after -hide_banner
// -loglevel error -nostdin -y, bound to ctx.
func FFmpegCommand(ctx context.Context, t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	ffmpeg := Require(t, "ffmpeg")[0]
	return exec.CommandContext(ctx, ffmpeg, append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
}

// Stream is one stream of a media file as ffprobe reports it.
type Stream struct {
	CodecType string // "video", "audio"
	CodecName string // "h264", "aac"
	Profile   string // "High", "LC"
	Frames    int    // frames decoded with -count_frames
	// Video streams.
	Width, Height int
	PixFmt        string
	// Audio streams.
	SampleRate string
	Channels   int
}

// SameCodec reports whether s and o have the same codec parameters (frame
// counts aside).
func (s Stream) SameCodec(o Stream) bool {
	s.Frames, o.Frames = 0, 0
	return s == o
}

// Probe runs ffprobe -count_frames on path (a file, or a URL such as
// rtmp://..., read to its end) and returns its streams.
func Probe(t testing.TB, path string) []Stream {
	t.Helper()
	return ProbeContext(context.Background(), t, path)
}

// ProbeContext is Probe bound to ctx.
func ProbeContext(ctx context.Context, t testing.TB, path string) []Stream {
	t.Helper()
	ffprobe := Require(t, "ffprobe")[0]
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-count_frames",
		"-show_entries", "stream=codec_type,codec_name,profile,nb_read_frames,width,height,pix_fmt,sample_rate,channels",
		"-of", "json", path).Output()
	if err != nil {
		t.Errorf("ffprobe %s: %v", path, err)
		return nil
	}
	var r struct {
		Streams []struct {
			CodecType  string `json:"codec_type"`
			CodecName  string `json:"codec_name"`
			Profile    string `json:"profile"`
			Frames     string `json:"nb_read_frames"`
			Width      int    `json:"width"`
			Height     int    `json:"height"`
			PixFmt     string `json:"pix_fmt"`
			SampleRate string `json:"sample_rate"`
			Channels   int    `json:"channels"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Errorf("ffprobe output: %v\n%s", err, out)
		return nil
	}
	var s []Stream
	for _, st := range r.Streams {
		n, _ := strconv.Atoi(st.Frames)
		s = append(s, Stream{CodecType: st.CodecType, CodecName: st.CodecName, Profile: st.Profile, Frames: n,
			Width: st.Width, Height: st.Height, PixFmt: st.PixFmt, SampleRate: st.SampleRate, Channels: st.Channels})
	}
	return s
}

// Find returns the first stream of codecType.
func Find(streams []Stream, codecType string) (Stream, bool) {
	for _, s := range streams {
		if s.CodecType == codecType {
			return s, true
		}
	}
	return Stream{}, false
}

// Frames returns the frame count of the first stream of codecType.
func Frames(streams []Stream, codecType string) int {
	for _, s := range streams {
		if s.CodecType == codecType {
			return s.Frames
		}
	}
	return 0
}

// Duration runs ffprobe on path and returns the duration of its format in
// seconds (0 when ffprobe gives none).
func Duration(t testing.TB, path string) float64 {
	t.Helper()
	ffprobe := Require(t, "ffprobe")[0]
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Errorf("ffprobe %s: %v", path, err)
		return 0
	}
	d, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	return d
}

// SameStreams checks with ffprobe that path holds the streams of want: the
// same codecs and parameters and the same frame counts, whatever their
// order.
func SameStreams(t testing.TB, path, want string) {
	t.Helper()
	ws, got := Probe(t, want), Probe(t, path)
	if len(got) != len(ws) {
		t.Fatalf("ffprobe: %s has %+v, %s %+v", path, got, want, ws)
	}
	for _, s := range ws {
		if g, ok := Find(got, s.CodecType); !ok || !g.SameCodec(s) || g.Frames != s.Frames {
			t.Errorf("ffprobe: %s has %+v, %s %+v", path, g, want, s)
		}
	}
}
