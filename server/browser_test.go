package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
)

// publishLoop publishes the test file over RTMP with ffmpeg, in a loop, in
// real time, until the test ends.
func publishLoop(t *testing.T, d *Daemon, path string) {
	t.Helper()
	src, err := filepath.Abs("../testdata/media/test_6s.flv")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := testtools.FFmpegCommand(ctx, t, "-re", "-stream_loop", "-1", "-i", src, "-c", "copy", "-f", "flv", rtmpURL(d, path))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
}

// TestDashboardInChromium: a server with an ffmpeg publisher (RTMP), an
// RTMFP player, an HTTP-FLV player and a group the stream is republished
// into, which a client member plays. Headless Chromium opens the dashboard
// with the admin credentials: the stream and the group are on the first
// frame the page draws (sent as soon as it connects), their counters move
// on later ones, and the screenshot is written as the test's artifact
// (and to RTMFPD_DASHBOARD_PNG when set, as docs/dashboard.png is made).
func TestDashboardInChromium(t *testing.T) {
	testtools.Require(t, "ffmpeg")
	browser := testtools.Chromium(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"admin": {"enabled": true, "passwordHash": "`+string(hash)+`"},
		"relay": {"rules": [{"app": "live", "targets": [{"url": "rtmp://127.0.0.1:1/live/{name}"}]}]},
		"groups": [{"spec": "`+testGroupSpec+`", "publish": [{"app": "live",
			"multicast": {"multicastWindowDuration": "4s", "multicastPushNeighborLimit": 2}}]}]}`)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	publishLoop(t, d, "live/cam")
	waitPublished(t, ctx, d, "live", "cam")
	pb := groupPlayer(ctx, t, d, "cam")
	go func() {
		for {
			if _, err := pb.ReadMedia(ctx); err != nil {
				return
			}
		}
	}()
	flvReq, _ := http.NewRequestWithContext(ctx, "GET", "http://"+d.StatusAddr()+"/live/cam.flv", nil)
	if resp, err := http.DefaultClient.Do(flvReq); err == nil {
		defer resp.Body.Close()
		go io.Copy(io.Discard, resp.Body)
	}
	request(t, d, "GET", "/live/missing.flv", "", "") // a refusal to show

	// Every request of the page carries the credentials.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret"))
	if _, err := chromedp.Call(browser, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(browser, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(browser, 60*time.Second)
	defer bcancel()
	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+d.StatusAddr()+"/dashboard/")); err != nil {
		t.Fatal(err)
	}
	const key = "live/_definst_/cam"
	shown := `!!(document.querySelector('[data-stream="` + key + `"]') && document.querySelector('[data-group-stream="cam"]'))`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](shown)); err != nil {
		t.Fatalf("the page never showed the stream and the group: %v", err)
	}
	elapsed := time.Since(start)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool]("window.rtmfpdDashboard.frames >= 1")); err != nil {
		t.Fatal(err)
	}
	first, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]int]("window.rtmfpdDashboard.firstFrame"))
	if err != nil {
		t.Fatal(err)
	}
	groupID := d.groupStatus()[0].GroupID
	if first[key] != 1 || first[groupID] != 1 {
		t.Fatalf("stream first drawn in frame %d, group in frame %d; want both in the first", first[key], first[groupID])
	}
	t.Logf("the stream and the group were shown %v after navigating", elapsed.Round(time.Millisecond))

	// The counters move: messages published into the group, and the
	// group member's neighbour (the server) pushing or being pulled from.
	counter := func(name string) string {
		return `document.querySelector('[data-group-stream="cam"] [data-counter="` + name + `"]').dataset.value`
	}
	before, err := chromedp.Run(bctx, chromedp.Evaluate[string](counter("messagesPublished")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](counter("messagesPublished")+` !== "`+before+`"`)); err != nil {
		t.Fatalf("messagesPublished stayed at %s: %v", before, err)
	}
	moved := `(()=>{const v=` + counter("bytesPushedToPeers") + `*1+` + counter("fragmentsRequestedByPeers") + `*1; return v > 0})()`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](moved)); err != nil {
		t.Fatalf("nothing sent to the group member: %v", err)
	}
	// Charts have drawn a few points; the refusal is listed.
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.rtmfpdDashboard.frames >= 4 && document.querySelector('#refusals tbody').textContent.includes("not published")`)); err != nil {
		t.Fatalf("refusal not listed: %v", err)
	}
	docs := os.Getenv("RTMFPD_DASHBOARD_PNG")
	if docs != "" { // the README's picture: charts with more points
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.rtmfpdDashboard.frames >= 20`)); err != nil {
			t.Fatal(err)
		}
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(art, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", art, len(png))
	if docs != "" {
		if err := os.WriteFile(docs, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRTMPWebSocketInChromium: a page from another origin opens a plain
// WebSocket to /rtmp and speaks RTMP through it (handshake, connect,
// createStream, play: server/testdata/rtmpws.html); it receives the
// stream's codec headers, then audio and video from a key frame.
func TestRTMPWebSocketInChromium(t *testing.T) {
	testtools.Require(t, "ffmpeg")
	browser := testtools.Chromium(t)
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"http": {"listen": ["127.0.0.1:0"]}}`)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	publishLoop(t, d, "live/cam")
	waitPublished(t, ctx, d, "live", "cam")
	page, err := os.ReadFile("testdata/rtmpws.html")
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer site.Close()
	q := url.Values{"ws": {"ws://" + d.HTTPAddrs()[0] + "/rtmp"}, "app": {"live"}, "stream": {"cam"}}
	bctx, bcancel := context.WithTimeout(browser, 60*time.Second)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.Navigate(site.URL+"/?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Codes      []string `json:"codes"`
		Audio      int      `json:"audio"`
		Video      int      `json:"video"`
		Data       int      `json:"data"`
		FirstVideo [][]int  `json:"firstVideo"`
		Error      string   `json:"error"`
		Bytes      int      `json:"bytes"`
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool]("window.result.error || (window.result.video >= 30 && window.result.audio >= 30)")); err != nil {
		r, _ := chromedp.Run(browser, chromedp.Evaluate[result]("window.result"))
		t.Fatalf("the page did not play: %v; result %+v", err, r)
	}
	r, err := chromedp.Run(bctx, chromedp.Evaluate[result]("window.result"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Error != "" {
		t.Fatalf("the page failed: %s (%+v)", r.Error, r)
	}
	want := map[string]bool{"NetConnection.Connect.Success": false, "NetStream.Play.Start": false}
	for _, c := range r.Codes {
		if _, ok := want[c]; ok {
			want[c] = true
		}
	}
	for c, seen := range want {
		if !seen {
			t.Errorf("no %s among %v", c, r.Codes)
		}
	}
	// The AVC sequence header (0x17 0x00), then a key frame (0x17 0x01).
	if len(r.FirstVideo) < 2 || r.FirstVideo[0][0] != 0x17 || r.FirstVideo[0][1] != 0 || r.FirstVideo[1][0] != 0x17 || r.FirstVideo[1][1] != 1 {
		t.Fatalf("first video messages %v", r.FirstVideo)
	}
	t.Logf("the page received %d video and %d audio messages (%d bytes) over RTMP over WebSocket", r.Video, r.Audio, r.Bytes)
	// The connection is an RTMP session like any other.
	found := false
	for _, s := range d.Sessions() {
		found = found || s.Proto == "rtmp" && s.App == "live"
	}
	if !found {
		t.Errorf("the page's connection is not among the sessions: %+v", d.Sessions())
	}
}
