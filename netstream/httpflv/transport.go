package httpflv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// transport is one player: a NetConnection whose answers are read by the
// request's goroutine and whose media is written as FLV tags.
type transport struct {
	srv    *Server
	proto  string
	id     string
	remote string
	born   time.Time
	conn   *netstream.Conn
	app    string
	name   string
	played bool // the response started

	ctx    context.Context // ends with the player
	cancel context.CancelCauseFunc

	amu     sync.Mutex
	answers []answer // the server's answers, while connecting and starting to play

	// wmu orders the writes: the request holds it until the response's
	// header is out, then the subscription writes tags under it.
	wmu      sync.Mutex
	out      func(ctx context.Context, b []byte) error
	buf      bytes.Buffer
	fw       *flv.Writer
	bytesOut atomic.Uint64
}

// answer is a command the netstream server sent the client.
type answer struct {
	name        string
	code        string // of an info object
	description string
	result      any // the first argument of a _result
}

func newTransport(srv *Server, proto, id, remote string) *transport {
	t := &transport{srv: srv, proto: proto, id: id, remote: remote, born: time.Now()}
	t.ctx, t.cancel = context.WithCancelCause(context.Background())
	return t
}

// Protocol is "http-flv" or "ws-flv".
func (t *transport) Protocol() string { return t.proto }

// RemoteAddr is the client's address.
func (t *transport) RemoteAddr() string { return t.remote }

// PlayFromKeyframe: players start with the stream's last key frame.
func (t *transport) PlayFromKeyframe() bool { return true }

// Bytes returns the bytes received (none: a request has no body) and sent.
func (t *transport) Bytes() (in, out uint64) { return 0, t.bytesOut.Load() }

// Send takes the netstream server's answers and status events.
func (t *transport) Send(streamID uint32, m media.Message) error {
	if m.Type != media.TypeCommandAMF0 && m.Type != media.TypeCommandAMF3 {
		return nil
	}
	cmd, err := netstream.DecodeCommand(m)
	if err != nil {
		return nil
	}
	a := answer{name: cmd.Name, result: cmd.Arg(0)}
	for _, v := range cmd.Args {
		if o, ok := amf.AsObject(v); ok {
			a.code, _ = o.GetString("code")
			a.description, _ = o.GetString("description")
		}
	}
	switch {
	case a.code == netstream.PlayUnpublishNotify:
		t.end(errors.New("the stream was unpublished"))
	case a.code == netstream.PlayStop:
		t.end(errors.New("playing stopped"))
	case cmd.Name == "close":
		t.end(errors.New("closed by the server"))
	}
	t.amu.Lock()
	if len(t.answers) < 64 { // only those of connect and play are read
		t.answers = append(t.answers, a)
	}
	t.amu.Unlock()
	return nil
}

// MediaSink returns the FLV writer of the played stream.
func (t *transport) MediaSink(uint32) netstream.Sink { return sink{t} }

// CloseStream does nothing: the player has one stream.
func (t *transport) CloseStream(uint32) {}

// Close ends the player.
func (t *transport) Close(err error) { t.end(err) }

// end ends the player's request with a reason (the first one given).
func (t *transport) end(err error) { t.cancel(err) }

// close releases the NetConnection once the request has ended, and logs
// the end.
func (t *transport) close() {
	t.end(errors.New("request ended"))
	if t.conn == nil {
		return
	}
	t.conn.Close()
	if !t.played {
		return // the refusal was logged
	}
	reason := context.Cause(t.ctx)
	t.srv.log.Info("http-flv player closed", "session", t.id, "remote", t.remote, "proto", t.proto, "app", t.app, "stream", t.name,
		"reason", reason.Error(), "duration", time.Since(t.born).Round(time.Millisecond), "bytesOut", t.bytesOut.Load())
}

// last returns the last answer named name (any when name is ""), or false.
func (t *transport) last(names ...string) (answer, bool) {
	t.amu.Lock()
	defer t.amu.Unlock()
	for i := len(t.answers) - 1; i >= 0; i-- {
		for _, n := range names {
			if t.answers[i].name == n {
				return t.answers[i], true
			}
		}
	}
	return answer{}, false
}

// command passes the client's command to the NetConnection.
func (t *transport) command(streamID uint32, name string, txn float64, obj amf.Value, args ...amf.Value) error {
	m, err := netstream.EncodeCommand(name, txn, obj, args...)
	if err != nil {
		return err
	}
	return t.conn.HandleMessage(streamID, m)
}

// open connects to the application and plays the stream, as an RTMP
// player would, and answers the HTTP status to send with its reason. It
// returns holding wmu: the media waits until the response has begun.
func (t *transport) open(r *http.Request, app, inst, name string) (int, string) {
	t.wmu.Lock()
	t.app, t.name = app, name
	t.conn = t.srv.cfg.NS.NewConn(t, t.id)
	q := ""
	if r.URL.RawQuery != "" {
		q = "?" + r.URL.RawQuery
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	tcURL := (&url.URL{Scheme: scheme, Host: r.Host, Path: "/" + app + "/" + inst}).String()
	obj := amf.NewObject(
		amf.Property{Key: "app", Value: app + "/" + inst + q},
		amf.Property{Key: "flashVer", Value: netstream.Clip(r.UserAgent())},
		amf.Property{Key: "tcUrl", Value: tcURL + q},
		amf.Property{Key: "objectEncoding", Value: 0.0},
	)
	if err := t.command(0, "connect", 1, obj); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	a, _ := t.last("_result", "_error")
	if a.name != "_result" {
		code := http.StatusForbidden
		if a.code == netstream.ConnectInvalidApp {
			code = http.StatusNotFound
		}
		return code, a.code + ": " + a.description
	}
	info := t.conn.Info()
	t.app = info.App
	s, ok := t.srv.cfg.NS.Registry.Lookup(info.App, info.Instance, name)
	if !ok || s.Publisher() == nil {
		return http.StatusNotFound, fmt.Sprintf("%s/%s/%s is not published", info.App, info.Instance, name)
	}
	if err := t.command(0, "createStream", 2, nil); err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	a, _ = t.last("_result", "_error")
	id, ok := a.result.(float64)
	if a.name != "_result" || !ok {
		return http.StatusServiceUnavailable, "createStream failed: " + a.description
	}
	// start -1: the live stream only (HTTP-FLV plays no recordings).
	if err := t.command(uint32(id), "play", 0, nil, name+q, -1.0); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	a, _ = t.last("onStatus")
	switch a.code {
	case netstream.PlayStart:
	case netstream.PlayStreamNotFound:
		return http.StatusNotFound, a.code + ": " + a.description
	default:
		return http.StatusForbidden, a.code + ": " + a.description
	}
	audio, video := s.Tracks()
	var flags byte
	if audio {
		flags |= flv.FlagAudio
	}
	if video {
		flags |= flv.FlagVideo
	}
	if flags == 0 {
		flags = flv.FlagAudio | flv.FlagVideo
	}
	t.fw, _ = flv.NewWriter(&t.buf, flags) // the header, sent with the response's first bytes
	t.played = true
	return http.StatusOK, ""
}

// serveHTTP streams the FLV file in the response until the player ends.
func (t *transport) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "video/x-flv")
	w.Header().Set("Cache-Control", "no-cache, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	t.out = func(ctx context.Context, b []byte) error {
		rc.SetWriteDeadline(time.Now().Add(t.srv.cfg.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	err := t.flushHeader()
	t.wmu.Unlock()
	if err != nil {
		t.end(fmt.Errorf("writing: %w", err))
		return
	}
	select {
	case <-t.ctx.Done():
	case <-r.Context().Done():
		t.end(errors.New("closed by the player"))
	}
	t.stopWriting()
}

// stopWriting waits for a write in progress (bounded by the write
// timeout) and makes later ones fail: the response is over.
func (t *transport) stopWriting() {
	t.wmu.Lock()
	t.out = nil
	t.wmu.Unlock()
}

// serveWebSocket accepts the WebSocket and sends the FLV file in binary
// messages until the player ends. The peer may send nothing but control
// frames: a data message ends it with status 1008.
func (t *transport) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, t.srv.acceptOptions())
	if err != nil {
		t.wmu.Unlock()
		t.end(fmt.Errorf("websocket handshake: %w", err))
		return
	}
	t.out = func(ctx context.Context, b []byte) error {
		ctx, cancel := context.WithTimeout(ctx, t.srv.cfg.WriteTimeout)
		defer cancel()
		return ws.Write(ctx, websocket.MessageBinary, b)
	}
	peer := make(chan error, 1)
	go func() {
		// Control frames (ping, close) are answered inside; the read ends
		// on a data message or when the connection closes.
		_, _, err := ws.Reader(context.Background())
		if err == nil {
			err = errDataMessage
		}
		peer <- err
	}()
	err = t.flushHeader()
	t.wmu.Unlock()
	if err != nil {
		t.end(fmt.Errorf("writing: %w", err))
	}
	status := websocket.StatusNormalClosure
	select {
	case <-t.ctx.Done():
	case err := <-peer:
		if err == errDataMessage {
			status = websocket.StatusPolicyViolation
			t.end(err)
		} else {
			t.end(errors.New("closed by the player"))
		}
	}
	t.stopWriting()
	// The close handshake goes on without the request (the library
	// bounds it to 5 s).
	reason := context.Cause(t.ctx).Error()
	if len(reason) > 120 { // a close frame's reason is at most 123 bytes
		reason = reason[:120]
	}
	go ws.Close(status, reason)
}

// errDataMessage ends a WebSocket player that sent a data message.
var errDataMessage = errors.New("the player sent a data message (a WebSocket player sends none)")

// flushHeader sends the FLV header (under wmu).
func (t *transport) flushHeader() error {
	err := t.out(t.ctx, t.buf.Bytes())
	t.bytesOut.Add(uint64(t.buf.Len()))
	t.buf.Reset()
	return err
}

// sink writes a played stream's media as FLV tags.
type sink struct{ t *transport }

func (s sink) WriteMedia(ctx context.Context, m media.Message) error {
	return s.WriteMediaBatch(ctx, []media.Message{m})
}

// WriteMediaBatch writes the messages as one HTTP chunk or one WebSocket
// message.
func (s sink) WriteMediaBatch(ctx context.Context, msgs []media.Message) error {
	t := s.t
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := context.Cause(t.ctx); err != nil {
		return err
	}
	if t.out == nil {
		return errors.New("httpflv: the response is over")
	}
	for _, m := range msgs {
		if err := t.fw.Write(m); err != nil {
			return err
		}
	}
	if t.buf.Len() == 0 {
		return nil
	}
	err := t.out(ctx, t.buf.Bytes())
	t.bytesOut.Add(uint64(t.buf.Len()))
	t.buf.Reset()
	if t.buf.Cap() > 1<<20 {
		t.buf = bytes.Buffer{} // a large batch: do not keep its memory
	}
	if err != nil {
		err = fmt.Errorf("writing: %w", err)
		t.end(err)
	}
	return err
}
