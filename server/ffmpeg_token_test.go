package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/server/access"
)

// TestFFmpegToken: ffmpeg publishing over RTMP to an application that
// requires a token: refused without one (NetStream.Publish.Failed, ffmpeg
// fails), accepted with rtmp://host/app?token=.../stream.
func TestFFmpegToken(t *testing.T) {
	testtools.Require(t, "ffmpeg")
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off",
		"tokens": {"secrets": ["`+testSecret+`"]},
		"apps": [{"name": "live", "publish": {"token": true}}]}`)
	src := testtools.GenerateFLV(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	base := "rtmp://" + d.RTMPAddrs()[0] + "/live"
	out, err := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", base+"/cam").CombinedOutput()
	if err == nil {
		t.Fatalf("ffmpeg without a token published:\n%s", out)
	}
	if s, ok := d.NetStream().Registry.Lookup("live", netstream.DefaultInstance, "cam"); ok && s.Stats().Messages > 0 {
		t.Error("media of a refused publish reached the stream")
	}
	tok := mint(t, access.Claims{App: "live", Stream: "cam", Act: access.ActPublish})
	// A player waiting for the stream gets its media once ffmpeg publishes.
	pc := dialRTMFP(t, d, "live")
	player, err := pc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := player.Play(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() {
		_, err := player.ReadMedia(ctx)
		published <- err
	}()
	out, err = testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", base+"?token="+tok+"/cam").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg with a token: %v\n%s", err, out)
	}
	if err := <-published; err != nil {
		t.Fatalf("nothing played from the publish with a token: %v", err)
	}
	if strings.Contains(string(out), "Failed") {
		t.Errorf("ffmpeg reported a failure:\n%s", out)
	}
}
