package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/clitest"
)

// checkReport is what this test reads of `rtmfp check -json`.
type checkReport struct {
	Passed, Failed, Skipped int
	Checks                  []struct{ ID, Status, Detail string }
}

// TestRtmfpCheckAgainstRtmfpd runs the built `rtmfp check` against the
// built rtmfpd, as a user would: every conformance check passes but the
// group-16 handshake (rtmfpd does not offer group 16), and `rtmfp check
// -nat` reads rtmfpd's connectivity check on three loopback addresses.
// interop/check.sh runs the same against MonaServer2 and rtmfp-cpp.
func TestRtmfpCheckAgainstRtmfpd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite against a server process (about 15 s)")
	}
	dir := t.TempDir()
	rtmfpd := clitest.Build(t, dir, "../cmd/rtmfpd")
	rtmfp := clitest.Build(t, dir, "../cmd/rtmfp")
	cfg := filepath.Join(dir, "rtmfpd.json")
	if err := os.WriteFile(cfg, []byte(`{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"natCheck": {"differentPort": "127.0.0.1:0", "differentAddress": "127.0.0.2:0", "introReply": "127.0.0.3:0"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := clitest.Start(t, rtmfpd, "-config", cfg)
	m := srv.WaitLine(`RTMFP endpoint listening" address=(127\.0\.0\.1:\d+)`)
	srv.WaitLine(`rtmfpd started`)
	base := "rtmfp://" + m[1]

	run := func(args ...string) checkReport {
		t.Helper()
		code, out, errOut := clitest.Run(t, rtmfp, append([]string{"check", "-json"}, args...)...)
		var rep checkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("rtmfp check %q: exit %d, %v\n%s\n%s", args, code, err, out, errOut)
		}
		if (code == 0) != (rep.Failed == 0) {
			t.Errorf("exit %d with %d failed", code, rep.Failed)
		}
		return rep
	}
	rep := run(base + "/live")
	for _, c := range rep.Checks {
		want := "pass"
		if c.ID == "handshake.group16" {
			want = "skip"
		}
		if c.Status != want {
			t.Errorf("%s: %s (%s), want %s", c.ID, c.Status, c.Detail, want)
		}
	}
	if rep.Passed < 35 {
		t.Errorf("%d checks passed", rep.Passed)
	}

	nat := run("-nat", base+"/conncheck")
	if nat.Passed != 4 {
		t.Errorf("-nat: %+v", nat)
	}
	for _, c := range nat.Checks {
		if c.ID == "nat.filtering" && !strings.Contains(c.Detail, "endpoint-independent") {
			t.Errorf("loopback filtering: %s", c.Detail)
		}
	}
}
