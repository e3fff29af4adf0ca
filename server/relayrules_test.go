package server

import (
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/relay"
)

func targetsOf(d *Daemon, stream string) []relay.TargetStatus {
	var out []relay.TargetStatus
	for _, st := range d.Relay().Status() {
		if st.Stream == stream {
			out = append(out, st)
		}
	}
	return out
}

// TestRelaySeedMultipoint: seed 000's example, as configuration: a stream
// published into livestreams/_definst_ is republished into
// livestreams/anotherinstance on the same server (over RTMP); the copy
// does not match the rule (instance), so nothing retries.
func TestRelaySeedMultipoint(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off", "apps": ["livestreams"]}`)
	if err := d.Relay().AddRule(relay.Rule{App: "livestreams", Instance: netstream.DefaultInstance, Targets: []relay.Target{
		{URL: "rtmp://" + d.RTMPAddrs()[0] + "/livestreams/anotherinstance/{name}"}}}); err != nil {
		t.Fatal(err)
	}
	c := dialRTMFP(t, d, "livestreams")
	wantPrefix(t, "publish", publish(t, c, "localnews"), "")
	waitUntil(t, 10*time.Second, "the copy in anotherinstance", func() bool {
		s, ok := d.NetStream().Registry.Lookup("livestreams", "anotherinstance", "localnews")
		return ok && s.Publisher() != nil
	})
	// The target reports publishing once its publish result came back,
	// which may follow the copy's appearance on the server.
	waitUntil(t, 10*time.Second, "the target to publish", func() bool {
		st := targetsOf(d, "livestreams/_definst_/localnews")
		return len(st) == 1 && st[0].State == relay.StatePublishing
	})
	if st := targetsOf(d, "livestreams/_definst_/localnews"); len(st) != 1 || st[0].Attempts != 1 {
		t.Errorf("targets %+v", st)
	}
	if st := targetsOf(d, "livestreams/anotherinstance/localnews"); len(st) != 0 {
		t.Errorf("the copy is relayed again: %+v", st)
	}
}

// TestRelayLoops: a rule that matches its own copy, and two servers that
// relay to each other: the publish that closes the loop is refused
// (NetStream.Publish.Failed "relay loop") and its target gives up at once.
func TestRelayLoops(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off",
		"relay": {"minBackoff": "10ms", "maxBackoff": "10ms"}}`)
	if err := d.Relay().AddRule(relay.Rule{App: "livestreams", Targets: []relay.Target{
		{URL: "rtmp://" + d.RTMPAddrs()[0] + "/livestreams/anotherinstance/{name}"}}}); err != nil {
		t.Fatal(err)
	}
	c := dialRTMFP(t, d, "livestreams")
	wantPrefix(t, "publish", publish(t, c, "x"), "")
	waitUntil(t, 10*time.Second, "the copy's own target to give up", func() bool {
		st := targetsOf(d, "livestreams/anotherinstance/x")
		return len(st) == 1 && st[0].State == relay.StateFailed
	})
	st := targetsOf(d, "livestreams/anotherinstance/x")[0]
	if st.Attempts != 1 || !strings.Contains(st.LastError, "relay loop") {
		t.Errorf("self loop: %+v", st)
	}
	// The first hop's target reports publishing once its publish result
	// came back, which may follow the copy's own refusal.
	waitUntil(t, 10*time.Second, "the first hop to publish", func() bool {
		st := targetsOf(d, "livestreams/_definst_/x")
		return len(st) == 1 && st[0].State == relay.StatePublishing
	})

	// A → B → A over RTMFP and RTMP.
	a := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off"}`)
	b := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off"}`)
	a.Relay().AddRule(relay.Rule{App: "live", Targets: []relay.Target{{URL: "rtmfp://" + b.Endpoints()[0].LocalAddr().String() + "/live/{name}"}}})
	b.Relay().AddRule(relay.Rule{App: "live", Targets: []relay.Target{{URL: "rtmp://" + a.RTMPAddrs()[0] + "/live/{name}"}}})
	ac := dialRTMFP(t, a, "live")
	wantPrefix(t, "publish on A", publish(t, ac, "y"), "")
	waitUntil(t, 10*time.Second, "B's target back to A to give up", func() bool {
		st := targetsOf(b, "live/_definst_/y")
		return len(st) == 1 && st[0].State == relay.StateFailed
	})
	if st := targetsOf(b, "live/_definst_/y")[0]; !strings.Contains(st.LastError, "relay loop") || st.Attempts != 1 {
		t.Errorf("B → A: %+v", st)
	}
	waitUntil(t, 10*time.Second, "A's target to B to publish", func() bool {
		st := targetsOf(a, "live/_definst_/y")
		return len(st) == 1 && st[0].State == relay.StatePublishing
	})
}

// TestRelayModes: one URL with two modes is two targets; appendWithGap is
// a mode.
func TestRelayModes(t *testing.T) {
	remote := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off"}`)
	url := "rtmp://" + remote.RTMPAddrs()[0] + "/live/{name}"
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "relay": {"rules": [
		{"app": "live", "targets": [{"url": "`+url+`"}, {"url": "`+url+`", "mode": "appendWithGap"}, {"url": "`+url+`", "mode": "live"}]}]}}`)
	c := dialRTMFP(t, d, "live")
	st, _ := c.CreateStream(testCtx(t))
	if err := st.Publish(testCtx(t), "z", "live"); err != nil {
		t.Fatal(err)
	}
	st.WriteMedia(testCtx(t), media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}})
	ts := targetsOf(d, "live/_definst_/z")
	if len(ts) != 2 || ts[0].Mode == ts[1].Mode {
		t.Fatalf("targets %+v, want the URL twice, live and appendWithGap", ts)
	}
}
