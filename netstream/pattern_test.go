package netstream

import "testing"

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{{"", "anything", true}, {"cam*", "cam1", true}, {"cam*", "mic", false}, {"l?ve", "live", true}, {"[a-c]x", "dx", false}} {
		if got := MatchPattern(c.pattern, c.s); got != c.want {
			t.Errorf("MatchPattern(%q, %q) = %v", c.pattern, c.s, got)
		}
	}
	if CheckPattern("[x") == nil || CheckPattern("cam*") != nil || CheckPattern("") != nil {
		t.Error("CheckPattern misjudges")
	}
	if got := ExpandName("{app}/{instance}/{name}-hd", "live", "_definst_", "cam"); got != "live/_definst_/cam-hd" {
		t.Errorf("ExpandName: %q", got)
	}
}
