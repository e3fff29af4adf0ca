package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/clitest"
)

// TestTokenAndReload: `rtmfpd token` mints what the server accepts; SIGHUP
// reloads the file, refusing an invalid one with its error while the
// server keeps serving.
func TestTokenAndReload(t *testing.T) {
	dir := t.TempDir()
	srvBin := clitest.Build(t, dir, ".")
	cliBin := clitest.Build(t, dir, "../rtmfp")
	const secret = "a secret of more than sixteen bytes"
	strict := `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "tokens": {"secrets": ["` + secret + `"]},
		"apps": [{"name": "live", "publish": {"token": true}}]}`
	cfg := writeFile(t, dir, "rtmfpd.json", strict)

	if code, out, _ := clitest.Run(t, srvBin, "token", "-h"); code != 0 || !strings.Contains(out, "usage: rtmfpd token") {
		t.Errorf("token -h: exit %d\n%s", code, out)
	}
	if code, _, errOut := clitest.Run(t, srvBin, "token", "-config", cfg); code != 2 || !strings.Contains(errOut, "-app is required") {
		t.Errorf("token without -app: exit %d %s", code, errOut)
	}
	code, tok, errOut := clitest.Run(t, srvBin, "token", "-config", cfg, "-app", "live", "-stream", "cam", "-act", "publish", "-ttl", "1h")
	if code != 0 {
		t.Fatalf("token: exit %d %s", code, errOut)
	}
	tok = strings.TrimSpace(tok)

	srv := clitest.Start(t, srvBin, "-config", cfg)
	addr := srv.WaitLine(`RTMFP endpoint listening" address=(\S+)`)[1]
	url := "rtmfp://" + addr + "/live/cam"
	if code, _, errOut := clitest.Run(t, cliBin, "publish", testMedia, url); code != 1 || !strings.Contains(errOut, "NetStream.Publish.Failed") {
		t.Errorf("publish without a token: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := clitest.Run(t, cliBin, "publish", testMedia, url+"?token="+tok); code != 0 {
		t.Errorf("publish with the token: exit %d\n%s", code, errOut)
	}

	writeFile(t, dir, "rtmfpd.json", `{"rtmfp": ["127.0.0.1:0"], "apps": [{"name": "live", "publish": {"deny": ["nonsense"]}}]}`)
	n := len(srv.Lines())
	srv.Signal(syscall.SIGHUP)
	lines, _ := srv.WaitLineAfter(`reload refused.*apps\[0\]\.publish\.deny\[0\]`, n)
	if len(lines) == 0 {
		t.Fatal("no refusal logged")
	}
	writeFile(t, dir, "rtmfpd.json", strings.Replace(strict, `"token": true`, `"token": false`, 1))
	n = len(srv.Lines())
	srv.Signal(syscall.SIGHUP)
	srv.WaitLineAfter(`configuration reloaded`, n)
	if code, _, errOut := clitest.Run(t, cliBin, "publish", testMedia, url); code != 0 {
		t.Errorf("publish without a token after the reload: exit %d\n%s", code, errOut)
	}
	srv.Signal(syscall.SIGTERM)
	if code := srv.Wait(); code != 0 {
		t.Errorf("server: exit %d\n%s", code, filepath.Base(srv.Stderr()))
	}
}
