package rtmpnc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// pipeListener is a net.Listener over net.Pipe, for tests in a synctest
// bubble (fake clock, no sockets).
type pipeListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new connection.
func (l *pipeListener) dial() net.Conn {
	a, b := net.Pipe()
	select {
	case l.ch <- b:
	case <-l.done:
		b.Close()
	}
	return a
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// logRecorder is a slog handler that keeps every record's message and
// attributes as text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	attrs []slog.Attr
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	for _, a := range r.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logChild{r: r, attrs: as}
}
func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// logChild shares its parent's lines.
type logChild struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (c *logChild) Enabled(context.Context, slog.Level) bool { return true }
func (c *logChild) Handle(ctx context.Context, rec slog.Record) error {
	rec.AddAttrs(c.attrs...)
	return c.r.Handle(ctx, rec)
}
func (c *logChild) WithAttrs(as []slog.Attr) slog.Handler {
	return &logChild{r: c.r, attrs: append(append([]slog.Attr(nil), c.attrs...), as...)}
}
func (c *logChild) WithGroup(string) slog.Handler { return c }

// find returns the log lines containing every one of the substrings.
func (r *logRecorder) find(subs ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
next:
	for _, l := range r.lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

func (r *logRecorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// testServer is a NetConnection server with its RTMP side.
type testServer struct {
	ns   *netstream.Server
	srv  *Server
	logs *logRecorder
	log  *slog.Logger
	stop context.CancelFunc
	done chan error
}

func startServer(t testing.TB, l net.Listener, cfg Config) *testServer {
	logs := &logRecorder{}
	log := slog.New(logs)
	ts := &testServer{logs: logs, log: log, done: make(chan error, 1)}
	ts.ns = netstream.NewServer(netstream.Config{Logger: log})
	cfg.NS, cfg.Logger = ts.ns, log
	ts.srv = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ts.stop = cancel
	go func() { ts.done <- ts.srv.Serve(ctx, l) }()
	return ts
}

// close shuts the server down and waits for Serve.
func (ts *testServer) close(t testing.TB) {
	ts.stop()
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	<-ts.done
}

// rawClient drives the client side of an RTMP connection with the rtmp
// package's Conn, for tests where ffmpeg cannot go (pipes, fake clock).
type rawClient struct {
	c   *rtmp.Conn
	txn float64
	// msgs receives everything read after the setup commands.
	msgs chan rtmp.Message
	errc chan error
}

func newRawClient(nc net.Conn) *rawClient {
	return &rawClient{c: rtmp.NewClientConn(nc, nil)}
}

// call sends a command on stream 0 and waits for its answer.
func (rc *rawClient) call(name string, obj any, args ...any) (*rtmp.Command, error) {
	rc.txn++
	if err := rc.c.WriteCommand(0, &rtmp.Command{Name: name, TxnID: rc.txn, Object: obj, Args: args}); err != nil {
		return nil, err
	}
	for {
		m, err := rc.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		if m.Command != nil && m.Command.TxnID == rc.txn && (m.Command.Name == "_result" || m.Command.Name == "_error") {
			if m.Command.Name == "_error" {
				_, code := m.Command.Status()
				return m.Command, errors.New(code)
			}
			return m.Command, nil
		}
	}
}

func (rc *rawClient) connect(app string) error {
	_, err := rc.call("connect", amf.NewObject(amf.Property{Key: "app", Value: app},
		amf.Property{Key: "tcUrl", Value: "rtmp://pipe/" + app}))
	return err
}

// stream creates a stream and runs publish or play on it, waiting for the
// status code want.
func (rc *rawClient) stream(cmd, name, want string) (uint32, error) {
	res, err := rc.call("createStream", nil)
	if err != nil {
		return 0, err
	}
	id, _ := amf.Number(res.Arg(0))
	sid := uint32(id)
	args := []any{name}
	if cmd == "publish" {
		args = append(args, "live")
	}
	if err := rc.c.WriteCommand(sid, &rtmp.Command{Name: cmd, Args: args}); err != nil {
		return 0, err
	}
	for {
		m, err := rc.c.ReadMessage()
		if err != nil {
			return 0, err
		}
		if m.Command != nil && m.Command.Name == "onStatus" {
			level, code := m.Command.Status()
			if code == want {
				return sid, nil
			}
			if level == rtmp.LevelError {
				return 0, errors.New(code)
			}
		}
	}
}

// goodPair connects a publisher of stream name and a player of it, both
// reading in the background; it returns them with the publisher's stream
// ID.
func goodPair(t *testing.T, pl *pipeListener, name string) (pub *rawClient, pubID uint32, player *rawClient) {
	t.Helper()
	pub = newRawClient(pl.dial())
	if err := pub.connect("live"); err != nil {
		t.Fatal(err)
	}
	pubID, err := pub.stream("publish", name, netstream.PublishStart)
	if err != nil {
		t.Fatal(err)
	}
	pub.readAll()
	player = newRawClient(pl.dial())
	if err := player.connect("live"); err != nil {
		t.Fatal(err)
	}
	if _, err := player.stream("play", name, netstream.PlayStart); err != nil {
		t.Fatal(err)
	}
	player.readAll()
	return pub, pubID, player
}

// readAll reads in the background into rc.msgs until an error.
func (rc *rawClient) readAll() {
	rc.msgs = make(chan rtmp.Message, 4096)
	rc.errc = make(chan error, 1)
	go func() {
		for {
			m, err := rc.c.ReadMessage()
			if err != nil {
				rc.errc <- err
				close(rc.msgs)
				return
			}
			rc.msgs <- m
		}
	}()
}

// frame is a video frame of n bytes: a key frame or not, with a counter in
// its payload.
func frame(ts uint32, key bool, n int) media.Message {
	p := make([]byte, max(n, 9))
	p[0], p[1] = 0x27, 1
	if key {
		p[0] = 0x17
	}
	p[5], p[6], p[7], p[8] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	return media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: p}
}
