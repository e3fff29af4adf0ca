package server

import (
	"strings"
	"testing"
	"time"
)

// TestLimitsConfig: the limits block is optional; values that contradict
// each other (or the RTMP message size) are refused, naming the field.
func TestLimitsConfig(t *testing.T) {
	if _, err := loadJSON(t, `{"limits": {}}`); err != nil {
		t.Fatalf("empty limits: %v", err)
	}
	good := `{"limits": {"memory": 1073741824, "peerMemory": 67108864, "sessionReceive": 8388608,
		"rtmpUnfinished": 33554432, "playerQueue": 4194304, "stickyBytes": 131072, "slowConsumer": "45s"},
		"rtmpOptions": {"maxMessageSize": 33554432}}`
	c, err := loadJSON(t, good)
	if err != nil {
		t.Fatalf("valid limits: %v", err)
	}
	if l := c.Limits.withDefaults(); l.Memory != 1<<30 || time.Duration(l.SlowConsumer) != 45*time.Second {
		t.Fatalf("limits %+v", l)
	}
	if l := (LimitsConfig{}).withDefaults(); l.Memory != DefaultMemory || l.PeerMemory != DefaultPeerMemory ||
		l.SessionReceive != DefaultSessionReceive || l.RTMPUnfinished != DefaultRTMPUnfinished ||
		l.PlayerQueue != DefaultPlayerQueue || l.StickyBytes != DefaultStickyBytes {
		t.Fatalf("defaults %+v", l)
	}
	for _, tc := range []struct{ js, field string }{
		{`{"limits": {"memory": -1}}`, "limits.memory: -1 is negative"},
		{`{"limits": {"memory": 16777216}}`, "limits.peerMemory"},
		{`{"limits": {"sessionReceive": 65536}}`, "sessionReceive"},
		{`{"limits": {"rtmpUnfinished": 1048576}}`, "rtmpUnfinished"},
		{`{"limits": {"rtmpUnfinished": 67108864}}`, "rtmpUnfinished"},
		{`{"limits": {"playerQueue": 67108864}}`, "playerQueue"},
		{`{"limits": {"stickyBytes": 1048576}}`, "stickyBytes"},
		{`{"limits": {"slowConsumer": "100ms"}}`, "slowConsumer"},
		{`{"rtmpOptions": {"maxMessageSize": 33554432}}`, "rtmpUnfinished"},
	} {
		_, err := loadJSON(t, tc.js)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v", tc.js, err)
		}
	}
}

// TestMemoryStatus: GET /status reports the memory budget and the heap.
func TestMemoryStatus(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0", "limits": {"memory": 100000000}}`)
	st := getStatus(t, d)
	if st.Memory.Limit != 100000000 || st.Memory.HeapInuse == 0 || st.Memory.Sys == 0 {
		t.Fatalf("memory status %+v", st.Memory)
	}
}

// TestReceivePaceConfig: session.receivePace takes a duration, and a
// negative one (pacing off) is not refused as the other durations are.
func TestReceivePaceConfig(t *testing.T) {
	for js, want := range map[string]time.Duration{
		`{}`: 0, `{"session": {"receivePace": "5ms"}}`: 5 * time.Millisecond, `{"session": {"receivePace": "-1ms"}}`: -time.Millisecond,
	} {
		c, err := loadJSON(t, js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		if got := time.Duration(c.Session.ReceivePace); got != want {
			t.Errorf("%s: receivePace %v, want %v", js, got, want)
		}
	}
}
