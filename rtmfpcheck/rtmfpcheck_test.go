package rtmfpcheck

import (
	"testing"
	"testing/synctest"
)

// TestAgainstRtmfpd runs every conformance check against rtmfpd's RTMFP
// side: all pass but the group-16 handshake, which rtmfpd does not offer.
func TestAgainstRtmfpd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNet(t)
		srv := startTestServer(t, n, serverConfig{})
		rep := runCheck(t, n, nil, srv.url, Options{})
		st := statuses(rep)
		for _, c := range Checks() {
			if c.Category == "nat" {
				continue
			}
			want := Pass
			if c.ID == "handshake.group16" {
				want = Skip
			}
			if st[c.ID] != want {
				dump(t, rep)
				t.Fatalf("%s: %s, want %s", c.ID, st[c.ID], want)
			}
		}
		if rep.ExitCode() != 0 {
			t.Errorf("exit code %d", rep.ExitCode())
		}
	})
}
