package httpflv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

var quiet = slog.New(slog.DiscardHandler)

// pubTransport is a publisher's transport: it ignores the answers.
type pubTransport struct{}

func (pubTransport) Send(uint32, media.Message) error { return nil }
func (pubTransport) MediaSink(uint32) netstream.Sink  { return nil }
func (pubTransport) CloseStream(uint32)               {}
func (pubTransport) Close(error)                      {}
func (pubTransport) Protocol() string                 { return "test" }
func (pubTransport) RemoteAddr() string               { return "127.0.0.1:1" }
func cmd(t *testing.T, name string, txn float64, obj amf.Value, args ...amf.Value) media.Message {
	t.Helper()
	m, err := netstream.EncodeCommand(name, txn, obj, args...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// publisher publishes live/cam on ns; its function writes one message.
func publisher(t *testing.T, ns *netstream.Server, name string) (write func(media.Message), stop func()) {
	t.Helper()
	c := ns.NewConn(pubTransport{}, "pub-"+name)
	c.HandleMessage(0, cmd(t, "connect", 1, amf.NewObject(amf.Property{Key: "app", Value: "live"})))
	c.HandleMessage(0, cmd(t, "createStream", 2, nil))
	c.HandleMessage(1, cmd(t, "publish", 0, nil, name, "live"))
	return func(m media.Message) { c.HandleMessage(1, m) }, c.Close
}

func video(ts uint32, key bool, n int) media.Message {
	b := make([]byte, n)
	b[0] = 0x27
	if key {
		b[0] = 0x17
	}
	b[1] = 1
	return media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: b}
}

var (
	videoHeader = media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1, 2, 3}}
	audioHeader = media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}}
)

func audio(ts uint32) media.Message {
	return media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: []byte{0xaf, 1, 1, 2, 3}}
}

func metadata(t *testing.T) media.Message {
	m, err := netstream.EncodeData("@setDataFrame", "onMetaData", amf.NewObject(amf.Property{Key: "width", Value: 640.0}))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newServer(t *testing.T, cfg Config, hooks netstream.Hooks) (*Server, *netstream.Server, string) {
	t.Helper()
	ns := netstream.NewServer(netstream.Config{Logger: quiet, GOPCache: 1 << 20, Hooks: hooks})
	cfg.NS, cfg.Logger = ns, quiet
	srv := New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
	})
	return srv, ns, hs.URL
}

// readTags reads FLV tags until the body ends.
func readTags(t *testing.T, r io.Reader) (byte, []media.Message) {
	t.Helper()
	fr, err := flv.NewReader(r, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []media.Message
	for {
		m, err := fr.Read()
		if err == io.EOF {
			return fr.Flags, out
		}
		if err != nil {
			t.Fatalf("after %d tags: %v", len(out), err)
		}
		out = append(out, m)
	}
}

// TestPlayFromLastKeyframe: a player gets the FLV header with the tracks
// published, the metadata and codec headers, the last key frame and what
// followed, the live stream, and the end of the body when the publisher
// stops, over HTTP and over WebSocket.
func TestPlayFromLastKeyframe(t *testing.T) {
	for _, overWS := range []bool{false, true} {
		t.Run(fmt.Sprintf("websocket=%v", overWS), func(t *testing.T) {
			_, ns, base := newServer(t, Config{}, netstream.Hooks{})
			write, stop := publisher(t, ns, "cam")
			write(metadata(t))
			write(videoHeader)
			write(audioHeader)
			write(video(0, true, 100))
			write(video(40, false, 100))
			write(video(80, true, 100))
			write(audio(90))
			write(video(120, false, 100))

			var body io.Reader
			if overWS {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/live/cam.flv", nil)
				if err != nil {
					t.Fatal(err)
				}
				defer ws.CloseNow()
				ws.SetReadLimit(-1)
				pr, pw := io.Pipe()
				go func() {
					for {
						_, b, err := ws.Read(ctx)
						if err != nil {
							pw.CloseWithError(io.EOF)
							return
						}
						pw.Write(b)
					}
				}()
				body = pr
			} else {
				resp, err := http.Get(base + "/live/cam.flv")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" {
					t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				body = resp.Body
			}
			br := bufio.NewReader(body)
			if _, err := br.Peek(13); err != nil { // the header: the player is subscribed
				t.Fatal(err)
			}
			write(video(160, false, 100))
			write(video(200, true, 100))
			stop()
			flags, tags := readTags(t, br)
			if flags != flv.FlagAudio|flv.FlagVideo {
				t.Fatalf("FLV flags %#x", flags)
			}
			var got []string
			for _, m := range tags {
				got = append(got, fmt.Sprintf("%d@%d", m.Type, m.Timestamp))
			}
			want := "18@0 9@0 8@0 9@80 8@90 9@120 9@160 9@200"
			if strings.Join(got, " ") != want {
				t.Fatalf("tags %s, want %s", strings.Join(got, " "), want)
			}
		})
	}
}

// TestRefusals: clear answers to what cannot be played.
func TestRefusals(t *testing.T) {
	hooks := netstream.Hooks{CheckPlay: func(c *netstream.Conn, req *netstream.StreamRequest) error {
		if req.Query.Get("token") != "good" {
			return errors.New("a token is required")
		}
		return nil
	}}
	_, ns, base := newServer(t, Config{MaxConns: 1}, hooks)
	write, _ := publisher(t, ns, "cam")
	write(video(0, true, 10))
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/live/nothing.flv", 404, "live/_definst_/nothing is not published"},
		{"GET", "/live/cam", 404, "want /app/stream.flv"},
		{"GET", "/a/b/c/d.flv", 404, "want /app/stream.flv"},
		{"GET", "/live//cam.flv", 404, "want /app/stream.flv"},
		{"GET", "/" + strings.Repeat("x", 2000) + ".flv", 404, "over the limit"},
		{"POST", "/live/cam.flv", 405, "POST is not served"},
		{"GET", "/live/cam.flv", 403, "NetStream.Play.Failed: a token is required"},
		{"GET", "/live/cam.flv?token=bad", 403, "a token is required"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %.40s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
	// One player at most: the second is answered 503.
	resp, err := http.Get(base + "/live/cam.flv?token=good")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first player: %v %v", resp, err)
	}
	defer resp.Body.Close()
	resp2, err := http.Get(base + "/live/cam.flv?token=good")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 503 {
		t.Fatalf("second player: %d", resp2.StatusCode)
	}
}

// TestSlowReader: a reader that stops reading is disconnected once a write
// has waited WriteTimeout, having been sent little of what was published
// meanwhile (its queue dropped whole groups of pictures, as netstream's
// tests show); the publisher never waits for it.
func TestSlowReader(t *testing.T) {
	gone := make(chan struct{}, 1)
	hooks := netstream.Hooks{OnDisconnect: func(c *netstream.Conn) {
		if c.Transport().Protocol() == "http-flv" {
			gone <- struct{}{}
		}
	}}
	srv, ns, base := newServer(t, Config{WriteTimeout: 300 * time.Millisecond}, hooks)
	write, _ := publisher(t, ns, "cam")
	write(video(0, true, 1000))
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /live/cam.flv HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "200") {
		t.Fatalf("status line %q %v", line, err)
	}
	// 40 MB published while the player reads nothing: far more than its
	// queue (2 MiB) and the socket buffers.
	for i := range 4000 {
		write(video(uint32(40*(i+1)), i%25 == 0, 10000))
	}
	select {
	case <-gone:
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled reader was not disconnected")
	}
	if st := srv.Stats(); st.Active != 0 || st.BytesOut > 8<<20 {
		t.Fatalf("stats after the stalled reader: %+v", st)
	}
}

// TestWebSocketPlayerSends: a WebSocket player may send control frames
// only; a data message ends it with status 1008 (policy violation), and
// the player is gone from the server.
func TestWebSocketPlayerSends(t *testing.T) {
	gone := make(chan struct{}, 1)
	hooks := netstream.Hooks{OnDisconnect: func(c *netstream.Conn) {
		if c.Transport().Protocol() == "ws-flv" {
			gone <- struct{}{}
		}
	}}
	_, ns, base := newServer(t, Config{}, hooks)
	write, _ := publisher(t, ns, "cam")
	write(video(0, true, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/live/cam.flv", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(ctx); err != nil { // the FLV header and the first tags
		t.Fatal(err)
	}
	ws.Write(ctx, websocket.MessageBinary, make([]byte, 100))
	for err == nil {
		_, _, err = ws.Read(ctx)
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v (%v)", got, err)
	}
	select {
	case <-gone:
	case <-ctx.Done():
		t.Fatal("the player stayed")
	}
}
