package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// waitPublished plays app/name over RTMFP until the first message arrives:
// the stream is published. The player goes on reading until the test ends.
func waitPublished(t *testing.T, ctx context.Context, d *Daemon, app, name string) {
	t.Helper()
	c := dialRTMFP(t, d, app)
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Play(ctx, name); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := st.ReadMedia(ctx)
		if err != nil {
			t.Fatalf("nothing played from %s/%s: %v", app, name, err)
		}
		if m.Type == media.TypeAudio || m.Type == media.TypeVideo {
			break
		}
	}
	go func() {
		for {
			if _, err := st.ReadMedia(ctx); err != nil {
				return
			}
		}
	}()
}

// flvFrames returns the audio and video tags of an FLV file as hashes of
// their payloads after the tag header (what remuxing keeps), in order, and
// whether each video tag is a key frame. Sequence headers are left out.
func flvFrames(t *testing.T, path string) (frames []string, key []bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := flv.NewReader(f, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := r.Read()
		if err == io.EOF {
			return frames, key
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if (m.Type != media.TypeVideo && m.Type != media.TypeAudio) || m.IsSequenceHeader() {
			continue
		}
		skip := 2 // the audio tag header
		if m.Type == media.TypeVideo {
			skip = 5 // and the composition time
		}
		if len(m.Payload) < skip {
			continue
		}
		h := sha256.Sum256(m.Payload[skip:])
		frames = append(frames, fmt.Sprintf("%d:%x", m.Type, h[:8]))
		key = append(key, m.Type == media.TypeVideo && m.IsKeyframe())
	}
}

// TestHTTPFLVFFmpeg: ffmpeg publishes over RTMP; ffmpeg reads the stream
// at /live/cam.flv and gets every frame from the key frame it started at to
// the last one, its file ending when the publisher stops.
func TestHTTPFLVFFmpeg(t *testing.T) {
	testtools.Require(t, "ffmpeg")
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0"}`)
	src, err := filepath.Abs("../testdata/media/test_6s.flv")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pub := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv", rtmpURL(d, "live/cam"))
	var pubOut bytes.Buffer
	pub.Stdout, pub.Stderr = &pubOut, &pubOut
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	waitPublished(t, ctx, d, "live", "cam")
	out := filepath.Join(t.TempDir(), "out.flv")
	got, err := testtools.FFmpegCommand(ctx, t, "-i", "http://"+d.StatusAddr()+"/live/cam.flv", "-c", "copy", "-f", "flv", out).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg reading HTTP-FLV: %v\n%s", err, got)
	}
	if err := pub.Wait(); err != nil {
		t.Fatalf("ffmpeg publishing: %v\n%s", err, pubOut.String())
	}
	want, _ := flvFrames(t, src)
	frames, key := flvFrames(t, out)
	if len(frames) < len(want)/2 {
		t.Fatalf("read %d frames of %d", len(frames), len(want))
	}
	first := -1
	for i, k := range key {
		if k {
			first = i
			break
		}
	}
	if first < 0 || first > 2 { // at most the audio of the key frame's instant before it
		t.Fatalf("the first video frame is not a key frame (first key frame at %d)", first)
	}
	// Audio and video interleave by timestamps the remuxer may reorder a
	// little: compare each track apart.
	for _, typ := range []string{"8:", "9:"} {
		var w, g []string
		for _, f := range want {
			if strings.HasPrefix(f, typ) {
				w = append(w, f)
			}
		}
		for _, f := range frames {
			if strings.HasPrefix(f, typ) {
				g = append(g, f)
			}
		}
		if len(g) == 0 || len(g) > len(w) || strings.Join(w[len(w)-len(g):], " ") != strings.Join(g, " ") {
			t.Fatalf("type %s: the %d frames read are not the last %d of the %d published", typ, len(g), len(g), len(w))
		}
	}
	t.Logf("ffmpeg read %d of the %d frames published, from a key frame to the end", len(frames), len(want))
}

// TestRTMPWebSocketBadInput: what is not RTMP over binary WebSocket
// messages gets a clear answer: a plain request 426, a text message close
// 1003, garbage in place of the handshake the connection's end, a message
// larger than the largest RTMP message (after a good handshake) close 1009;
// the RTMP server counts the connections and their failures.
func TestRTMPWebSocketBadInput(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0",
		"rtmpOptions": {"maxMessageSize": 65536, "handshakeTimeout": "2s"}}`)
	code, body := request(t, d, "GET", "/rtmp", "", "")
	if code != http.StatusUpgradeRequired || !strings.Contains(body, "WebSocket") {
		t.Fatalf("plain GET /rtmp: %d %q", code, body)
	}
	url := "ws://" + d.StatusAddr() + "/rtmp"
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
		want websocket.StatusCode
	}{
		{"text", websocket.MessageText, []byte("hello"), websocket.StatusUnsupportedData},
		{"garbage handshake", websocket.MessageBinary, bytes.Repeat([]byte{0xff}, 1537), websocket.StatusNormalClosure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			c, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			c.Write(ctx, tc.typ, tc.msg)
			for {
				_, _, err = c.Read(ctx)
				if err != nil {
					break
				}
			}
			if got := websocket.CloseStatus(err); got != tc.want {
				t.Fatalf("closed with %v (%v), want %v", got, err, tc.want)
			}
		})
	}
	// A good handshake, then Acknowledgement messages (chunk stream 2,
	// §5.4.3) in one WebSocket message of more than 64 KiB.
	ctx := testCtx(t)
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)
	c.Write(ctx, websocket.MessageBinary, append([]byte{3}, make([]byte, 1536)...))
	var s0s1s2 []byte
	for len(s0s1s2) < 3073 {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		s0s1s2 = append(s0s1s2, b...)
	}
	ack := []byte{0x02, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0, 0, 0, 0, 1}
	big := append(append([]byte{}, s0s1s2[1:1537]...), bytes.Repeat(ack, 4097)...)
	c.Write(ctx, websocket.MessageBinary, big)
	for {
		if _, _, err = c.Read(ctx); err != nil {
			break
		}
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Fatalf("a message of %d bytes: closed with %v (%v)", len(big), got, err)
	}
	if st := d.rtmp.Stats(); st.Accepted != 3 || st.HandshakeFailures != 2 {
		t.Fatalf("RTMP stats %+v", st)
	}
}

// TestDashboardManySessions: with 1,000 sessions the dashboard's frame
// stays a page of 50 with totals over all, filtered and sorted as asked;
// the event stream sends a frame at once; without credentials everything
// is refused.
func TestDashboardManySessions(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0",
		"admin": {"enabled": true, "passwordHash": "`+string(hash)+`"}}`)
	for i := range 1000 {
		app := "live"
		if i%10 == 0 {
			app = fmt.Sprintf("app%d", i/10)
		}
		c := d.ns.NewConn(fakeTransport{remote: fmt.Sprintf("192.0.2.%d:%d", i%250, 1000+i)}, fmt.Sprintf("s%04d", i))
		m, _ := netstream.EncodeCommand("connect", 1, amf.NewObject(amf.Property{Key: "app", Value: app}))
		c.HandleMessage(0, m)
		t.Cleanup(c.Close)
	}
	for _, path := range []string{"/dashboard/", "/dashboard/app.js", "/admin/dashboard", "/admin/events", "/"} {
		if code, _ := request(t, d, "GET", path, "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d", path, code)
		}
		if code, _ := request(t, d, "GET", path, "admin", "wrong"); code != http.StatusUnauthorized && path != "/" {
			t.Errorf("%s with a wrong password: %d", path, code)
		}
	}
	code, body := request(t, d, "GET", "/admin/dashboard", "admin", "s3cret")
	if code != http.StatusOK {
		t.Fatalf("dashboard: %d %s", code, body)
	}
	if len(body) > 64<<10 {
		t.Errorf("a frame of %d bytes for 1,000 sessions", len(body))
	}
	var f DashboardFrame
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatal(err)
	}
	if f.Totals.Sessions != 1000 || f.Totals.ByProto["test"] != 1000 || len(f.Sessions.Items) != 50 || f.Sessions.Matched != 1000 {
		t.Fatalf("totals %+v, page of %d of %d", f.Totals, len(f.Sessions.Items), f.Sessions.Matched)
	}
	if len(f.Totals.ByApp) != 11 || f.Totals.ByApp[0] != (NameCount{Name: "live", Count: 900}) || f.Totals.ByApp[10].Count != 91 {
		t.Fatalf("by application %+v", f.Totals.ByApp)
	}
	_, body = request(t, d, "GET", "/admin/dashboard?filter=app7&sort=remote&offset=0&limit=5", "admin", "s3cret")
	f = DashboardFrame{}
	json.Unmarshal([]byte(body), &f)
	// app7, app70 ... app79: 11 sessions.
	if f.Sessions.Matched != 11 || len(f.Sessions.Items) != 5 || f.Sessions.Items[0].Remote > f.Sessions.Items[1].Remote {
		t.Fatalf("filtered page %+v", f.Sessions)
	}
	// The event stream: a frame at once.
	req, _ := http.NewRequestWithContext(testCtx(t), "GET", "http://"+d.StatusAddr()+"/admin/events?limit=3", nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %s", resp.Header.Get("Content-Type"))
	}
	line := make([]byte, 0, 64<<10)
	buf := make([]byte, 1)
	for !bytes.HasSuffix(line, []byte("\n\n")) {
		if _, err := resp.Body.Read(buf); err != nil {
			t.Fatal(err)
		}
		line = append(line, buf[0])
	}
	f = DashboardFrame{}
	if err := json.Unmarshal(bytes.TrimPrefix(bytes.TrimSpace(line), []byte("data: ")), &f); err != nil || len(f.Sessions.Items) != 3 {
		t.Fatalf("first event: %v, %d sessions", err, len(f.Sessions.Items))
	}
}

// fakeTransport is a client connection that sends nowhere.
type fakeTransport struct{ remote string }

func (fakeTransport) Send(uint32, media.Message) error { return nil }
func (fakeTransport) MediaSink(uint32) netstream.Sink  { return nil }
func (fakeTransport) CloseStream(uint32)               {}
func (fakeTransport) Close(error)                      {}
func (fakeTransport) Protocol() string                 { return "test" }
func (f fakeTransport) RemoteAddr() string             { return f.remote }
func (fakeTransport) Bytes() (in, out uint64)          { return 100, 200 }

// TestHTTPConfigErrors: what the http section refuses, naming the field.
func TestHTTPConfigErrors(t *testing.T) {
	for _, tc := range []struct{ js, want string }{
		{`{"http": {"listen": ["8080"]}}`, `http.listen: address "8080"`},
		{`{"http": {"rtmpPath": "rtmp"}}`, `http.rtmpPath: "rtmp"`},
		{`{"http": {"rtmpPath": "/status"}}`, `http.rtmpPath: "/status"`},
		{`{"http": {"rtmpPath": "/admin/x"}}`, `http.rtmpPath: "/admin/x"`},
		{`{"http": {"rtmpPath": "/{x}"}}`, `http.rtmpPath: "/{x}"`},
		{`{"http": {"rtmpPath": "/live.flv"}}`, `http.rtmpPath: "/live.flv"`},
		{`{"http": {"allowOrigins": [""]}}`, `http.allowOrigins: an empty pattern`},
		{`{"http": {"gopCacheBytes": -1}}`, `gopCacheBytes`},
	} {
		_, err := loadJSON(t, tc.js)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.js, err, tc.want)
		}
	}
	if _, err := loadJSON(t, `{"http": {"rtmpPath": "/ws/rtmp", "listen": ["127.0.0.1:0"], "flv": false, "allowOrigins": ["*.example.com"]}}`); err != nil {
		t.Error(err)
	}
}
