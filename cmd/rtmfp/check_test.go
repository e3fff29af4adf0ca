package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/clitest"
)

// TestCheckUsage: help, listing and usage errors, as the other commands.
func TestCheckUsage(t *testing.T) {
	bin := clitest.Build(t, t.TempDir(), ".")
	if code, out, _ := clitest.Run(t, bin, "check", "-h"); code != 0 || !strings.Contains(out, "usage: rtmfp check") || !strings.Contains(out, "exit status") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
	if code, out, _ := clitest.Run(t, bin, "check", "-list"); code != 0 || !strings.Contains(out, "handshake.flash") || !strings.Contains(out, "RFC 7016") {
		t.Errorf("-list: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"check"},
		{"check", "http://127.0.0.1/live"},
		{"check", "-run", "(", "rtmfp://127.0.0.1/live"},
		{"check", "-timeout", "-1s", "rtmfp://127.0.0.1/live"},
		{"check", "rtmfp://127.0.0.1/a", "rtmfp://127.0.0.1/b"},
	} {
		code, _, errOut := clitest.Run(t, bin, args...)
		if code != 2 || !strings.Contains(errOut, "rtmfp check") {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errOut)
		}
	}
}

// TestCheckReport: against rtmfpd, the selected checks pass (exit 0) and
// -json gives the report as one object; against a port where nothing
// answers, the first check fails within its deadline and says so (exit 1).
func TestCheckReport(t *testing.T) {
	bin := clitest.Build(t, t.TempDir(), ".")
	url := startServer(t)
	code, out, errOut := clitest.Run(t, bin, "check", "-json", "-run", "^(handshake|session|netconnection)", url)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Passed, Failed, Skipped int
		Checks                  []struct{ ID, Status, Ref string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Failed != 0 || rep.Passed < 20 || len(rep.Checks) != rep.Passed+rep.Skipped || rep.Checks[0].Ref == "" {
		t.Errorf("report: %d passed, %d failed, %d skipped, %d checks", rep.Passed, rep.Failed, rep.Skipped, len(rep.Checks))
	}

	// A UDP port that is bound but never answers.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	code, out, _ = clitest.Run(t, bin, "check", "-timeout", "1s", "-run", "handshake.ihello", "rtmfp://"+pc.LocalAddr().String()+"/live")
	if code != 1 || !strings.Contains(out, "FAIL handshake.ihello") || !strings.Contains(out, "no answer within 1s (nothing received)") ||
		!strings.Contains(out, "1 check: 0 passed, 1 failed") {
		t.Errorf("silent server: exit %d\n%s", code, out)
	}
}
