package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/clitest"
)

var testMedia = filepath.Join("..", "..", "testdata", "media", "test_6s.flv")

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelpAndUsage: -h and --help print the usage with examples on
// standard output and exit 0; a stray argument is refused with exit 2
// before anything starts (it used to start a server on 0.0.0.0:1935).
func TestHelpAndUsage(t *testing.T) {
	bin := clitest.Build(t, t.TempDir(), ".")
	for _, h := range []string{"-h", "--help", "-help"} {
		code, out, _ := clitest.Run(t, bin, h)
		if code != 0 || !strings.Contains(out, "examples:") || !strings.Contains(out, "-check-config") || !strings.Contains(out, "exit status") {
			t.Errorf("rtmfpd %s: exit %d, output:\n%s", h, code, out)
		}
	}
	code, out, errOut := clitest.Run(t, bin, "extra-arg", "-check-config")
	if code != 2 || !strings.Contains(errOut, `"extra-arg"`) || strings.Contains(out, "configuration ok") {
		t.Errorf("rtmfpd extra-arg -check-config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := clitest.Run(t, bin, "-no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, %q", code, errOut)
	}
}

// TestCheckConfig: -check-config refuses negative durations and limits,
// durations that do not parse, and media files that cannot play, naming
// the field (exit 2); an empty file means all defaults; -status sets the
// status address.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bin := clitest.Build(t, dir, ".")
	noMedia := writeFile(t, dir, "nomedia.flv", "FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00")
	for _, c := range []struct {
		config string
		flags  []string
		code   int
		want   string // in the output
	}{
		{"", nil, 0, "configuration ok"},
		{" \n\t", nil, 0, "configuration ok"},
		{`{}`, []string{"-status", "127.0.0.1:9000", "-listen", "127.0.0.1:1935", "-rtmp-listen", "off", "-log-format", "json"}, 0, "configuration ok"},
		{`{}`, []string{"-status", "nowhere"}, 2, `status: address "nowhere"`},
		{`{}`, []string{"-http-listen", "127.0.0.1:8080,nowhere"}, 2, `http.listen: address "nowhere"`},
		{`{"http": {"rtmpPath": "rtmp"}}`, nil, 2, `http.rtmpPath: "rtmp": want a path`},
		{`{"shutdownTimeout": "-1s"}`, nil, 2, "shutdownTimeout: -1s is negative"},
		{`{"session": {"idleTimeout": "-5s"}}`, nil, 2, "session.idleTimeout: -5s is negative"},
		{`{"session": {"maxSessions": -1}}`, nil, 2, "session.maxSessions: -1 is negative"},
		{`{"introducer": {"introductionRate": -2}}`, nil, 2, "introducer.introductionRate: -2 is negative"},
		{`{"relay": {"queueBytes": -1}}`, nil, 2, "relay.queueBytes: -1 is negative"},
		{`{"rtmpOptions": {"readTimeout": -3}}`, nil, 2, "rtmpOptions.readTimeout: -3s is negative"},
		{`{"session": {"keepalive": "15 seconds"}}`, nil, 2, `session.keepalive: "15 seconds" is not a duration`},
		{`{"relay": {"dialTimeout": true}}`, nil, 2, "relay.dialTimeout: true is not a duration"},
		{`{"groups": [{"spec": "G:027f0201010103010c050e74657374011b00", "files": [{"path": "` + noMedia + `"}]}]}`, nil, 2,
			"groups[0].files[0].path: " + noMedia + ": mediafile: no audio or video"},
		{`{"groups": [{"spec": "G:027f0201010103010c050e74657374011b00", "files": [{"path": "` + filepath.Join(dir, "missing.flv") + `"}]}]}`, nil, 2,
			"groups[0].files[0].path: open "},
		// Flash's multicast properties coerce a negative value to 0, without
		// error (seed 002); other negative settings are errors.
		{`{"groups": [{"spec": "G:027f0201010103010c050e74657374011b00", "files": [{"path": "` + testMedia + `", "multicast": {"multicastWindowDuration": "-1s"}}]}]}`, nil, 0,
			"configuration ok"},
		{`{"groups": [{"spec": "G:027f0201010103010c050e74657374011b00", "neighbors": -1}]}`, nil, 2,
			"groups[0].neighbors: -1 is negative"},
		{`{"groups": [{"spec": "G:027f0201010103010c050e74657374011b00", "files": [{"path": "` + testMedia + `"}]}]}`, nil, 0, "configuration ok"},
		{"{\n  \"status\": \"off\",\n  \"rtmp\" []\n}", nil, 2, "line 3, column 10"},
	} {
		path := writeFile(t, dir, "rtmfpd.json", c.config)
		args := append([]string{"-config", path, "-check-config"}, c.flags...)
		code, out, errOut := clitest.Run(t, bin, args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("config %q %v: exit %d (want %d), output %q, want %q", c.config, c.flags, code, c.code, out+errOut, c.want)
		}
	}
}

// TestShutdownWithVanishedClient: SIGTERM while a client that vanished
// (killed: it never answers the close) is connected stops the server
// cleanly: the clients that answer are closed, the vanished one is
// abandoned after about a second instead of holding the shutdown for its
// whole timeout, nothing blames the relay, and the exit status is 0.
func TestShutdownWithVanishedClient(t *testing.T) {
	dir := t.TempDir()
	srvBin := clitest.Build(t, dir, ".")
	cliBin := clitest.Build(t, dir, "../rtmfp")
	cfg := writeFile(t, dir, "rtmfpd.json", `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "shutdownTimeout": "120s"}`)
	srv := clitest.Start(t, srvBin, "-config", cfg)
	addr := srv.WaitLine(`RTMFP endpoint listening" address=(\S+)`)[1]
	url := "rtmfp://" + addr + "/live/cam"

	pub := clitest.Start(t, cliBin, "publish", "-loop", testMedia, url)
	pub.WaitLine(`^publishing `)
	play := clitest.Start(t, cliBin, "play", "-o", filepath.Join(dir, "out.flv"), url)
	play.WaitLine(`^playing `)
	srv.WaitLine(`msg=play `)
	play.Kill()

	srv.Signal(syscall.SIGTERM)
	code := srv.Wait() // within clitest.Patience, half the shutdownTimeout
	log := srv.Stderr()
	if code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(log, `reason="no answer to the close at shutdown"`) {
		t.Errorf("the vanished client was not abandoned")
	}
	if !strings.Contains(log, `msg="shutdown complete"`) || !strings.Contains(log, "abandoned=1") || !strings.Contains(log, "cutShort=false") {
		t.Errorf("no shutdown summary with one abandoned session")
	}
	if strings.Contains(log, "relay") || strings.Contains(log, "level=ERROR") {
		t.Errorf("the shutdown logged an error")
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("server log:\n%s", log)
	}
}

// TestLogsFollowAClient: every connect, publish, play, refusal, group join
// and leave and session end is one log line with the same keys, so that an
// operator can follow a client by its session (the RTMFP peer ID); the end
// of an RTMFP session says why, how long and how much.
func TestLogsFollowAClient(t *testing.T) {
	dir := t.TempDir()
	srvBin := clitest.Build(t, dir, ".")
	cliBin := clitest.Build(t, dir, "../rtmfp")
	cfg := writeFile(t, dir, "rtmfpd.json", `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "apps": ["live"], "logFormat": "json"}`)
	srv := clitest.Start(t, srvBin, "-config", cfg)
	addr := srv.WaitLine(`"msg":"RTMFP endpoint listening","address":"([^"]+)"`)[1]
	url := "rtmfp://" + addr + "/live/cam"
	const spec = "G:027f0201010103010c050e74657374011b00"

	play := clitest.Start(t, cliBin, "play", "-o", filepath.Join(dir, "out.flv"), url)
	play.WaitLine(`^playing `)
	gplay := clitest.Start(t, cliBin, "group-play", "-spec", spec, "-o", filepath.Join(dir, "g.flv"), url)
	gplay.WaitLine(`^playing `)
	pub := clitest.Start(t, cliBin, "publish", testMedia, url)
	pub.WaitLine(`^publishing `)
	if code, _, _ := clitest.Run(t, cliBin, "publish", testMedia, url); code != 1 { // the name is taken
		t.Errorf("second publisher: exit %d, want 1", code)
	}
	if code, _, _ := clitest.Run(t, cliBin, "play", "-start-timeout", "1s", "rtmfp://"+addr+"/other/cam"); code != 1 {
		t.Errorf("player of an unknown app: exit %d, want 1", code)
	}
	if code := pub.Wait(); code != 0 {
		t.Errorf("publisher: exit %d", code)
	}
	if code := play.Wait(); code != 0 {
		t.Errorf("player: exit %d", code)
	}
	gplay.Signal(syscall.SIGINT)
	gplay.Wait()
	srv.WaitLine(`"msg":"group leave"`)
	srv.Signal(syscall.SIGTERM)
	if code := srv.Wait(); code != 0 {
		t.Errorf("server: exit %d", code)
	}

	// Every event line carries its keys.
	need := map[string][]string{
		"connected":       {"session", "remote", "proto", "app", "instance"},
		"connect refused": {"session", "remote", "proto", "app", "reason"},
		"publish":         {"session", "remote", "proto", "app", "stream"},
		"play":            {"session", "remote", "proto", "app", "stream"},
		"play stopped":    {"session", "remote", "proto", "app", "stream"},
		"unpublish":       {"session", "remote", "proto", "app", "stream"},
		"refused":         {"session", "remote", "proto", "app", "stream", "code", "reason"},
		"group join":      {"session", "group"},
		"group leave":     {"session", "group"},
		"session closed":  {"session", "remote", "proto", "reason", "duration", "bytesIn", "bytesOut"},
	}
	seen := map[string]int{}
	bySession := map[string][]string{}
	var playerSession string
	for _, l := range srv.Lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("not a JSON log line: %q", l)
			continue
		}
		msg, _ := rec["msg"].(string)
		keys, ok := need[msg]
		if !ok {
			continue
		}
		seen[msg]++
		for _, k := range keys {
			if _, ok := rec[k]; !ok {
				t.Errorf("%q line without %q: %s", msg, k, l)
			}
		}
		session, _ := rec["session"].(string)
		bySession[session] = append(bySession[session], msg)
		if msg == "play" && rec["stream"] == "cam" && rec["app"] == "live" && playerSession == "" {
			playerSession = session
		}
		if msg == "refused" && rec["code"] != "NetStream.Publish.BadName" {
			t.Errorf("unexpected refusal: %s", l)
		}
		if msg == "session closed" && session == playerSession {
			if rec["reason"] != "closed by the peer" || rec["bytesOut"].(float64) < 100000 {
				t.Errorf("the player's session end: %s", l)
			}
		}
	}
	for msg := range need {
		if seen[msg] == 0 {
			t.Errorf("no %q line", msg)
		}
	}
	// The player, followed by its session: it connected, played, stopped
	// and left (its session's end and its play's may be logged in either
	// order).
	lines := bySession[playerSession]
	slices.Sort(lines)
	if got, want := strings.Join(lines, ", "), "connected, play, play stopped, session closed"; got != want {
		t.Errorf("the player's lines: %s, want %s", got, want)
	}
	if t.Failed() {
		t.Logf("server log:\n%s", srv.Stderr())
	}
}
