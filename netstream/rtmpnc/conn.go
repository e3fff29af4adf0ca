package rtmpnc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// transport is one RTMP connection: it reads the client's messages into a
// netstream.Conn and implements netstream.Transport for the answers.
type transport struct {
	srv  *Server
	rc   *rtmp.Conn
	id   string
	log  *slog.Logger
	conn *netstream.Conn
	born time.Time
	acct *budget.Account // what the peer makes the server hold

	connected chan struct{} // closed by Connected
	connOnce  sync.Once

	// The output queue (see write.go).
	mu      sync.Mutex
	q       []outItem
	ctl     int  // control messages in q
	busy    bool // a goroutine is writing
	closing bool // Close was called: close rc once the queue is written
	closed  bool // rc is closed
	reason  error
}

func newTransport(srv *Server, rc *rtmp.Conn, id string) *transport {
	return &transport{srv: srv, rc: rc, id: id, born: time.Now(), connected: make(chan struct{}),
		log: srv.log.With("session", id, "proto", "rtmp", "remote", rc.RemoteAddr().String())}
}

// errorClass sorts why a connection ended.
type errorClass int

const (
	endNormal   errorClass = iota // the peer closed, or we did on purpose
	endProtocol                   // the peer misbehaved
)

// protocolError marks the peer's fault.
type protocolError struct{ err error }

func (e protocolError) Error() string { return e.err.Error() }
func (e protocolError) Unwrap() error { return e.err }

func peerFault(format string, args ...any) error {
	return protocolError{fmt.Errorf(format, args...)}
}

// serve runs the connection until it ends.
func (t *transport) serve() {
	srv := t.srv
	// One timer bounds everything before a successful connect, the
	// handshake included.
	noConnect := time.AfterFunc(srv.cfg.ConnectTimeout, func() {
		t.abort(peerFault("no successful connect within %v", srv.cfg.ConnectTimeout))
	})
	defer noConnect.Stop()
	if err := t.rc.Handshake(context.Background()); err != nil {
		srv.hsFailures.Add(1)
		t.mu.Lock()
		reason := t.reason
		t.mu.Unlock()
		if reason == nil {
			reason = err
		}
		t.log.Info("rtmp connection closed during the handshake", "reason", reason.Error(), "duration", time.Since(t.born).Round(time.Millisecond))
		t.rc.Close()
		return
	}
	t.conn = srv.cfg.NS.NewConn(t, t.id)
	// What a publisher sent together goes to each player in one write:
	// the players' writes wait until the reader has used up what it read.
	t.conn.HoldPublished()
	t.rc.SetReadHook(t.conn.Flush)
	err := t.readLoop(noConnect)
	t.conn.Flush()
	t.conn.Close()
	t.mu.Lock()
	switch werr := t.rc.WriteFailure(); {
	case t.reason != nil:
		err = t.reason // why we closed it ourselves
	case werr != nil && (errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)):
		err = fmt.Errorf("writing: %w", werr) // a failed write closed it (net.Pipe: ErrClosedPipe)
	}
	t.mu.Unlock()
	t.Close(err)
	t.end(err)
}

// end logs why the connection ended.
func (t *transport) end(err error) {
	attrs := []any{"duration", time.Since(t.born).Round(time.Millisecond),
		"bytesIn", t.rc.BytesRead(), "bytesOut", t.rc.BytesWritten()}
	switch classify(err) {
	case endProtocol:
		t.srv.protoErrors.Add(1)
		t.log.Warn("rtmp connection closed", append([]any{"reason", err.Error()}, attrs...)...)
	default:
		reason := "peer closed"
		if err != nil && !isPeerGone(err) {
			reason = err.Error()
		}
		t.log.Info("rtmp connection closed", append([]any{"reason", reason}, attrs...)...)
	}
}

func classify(err error) errorClass {
	var pe protocolError
	switch {
	case err == nil, isPeerGone(err), errors.Is(err, errShutdown):
		return endNormal
	case errors.As(err, &pe), errors.Is(err, budget.ErrPeerLimit), errors.Is(err, budget.ErrShed),
		errors.Is(err, netstream.ErrSlowConsumer):
		return endProtocol
	case errors.Is(err, os.ErrDeadlineExceeded):
		return endProtocol // stalled or silent peer
	case errors.Is(err, rtmp.ErrMalformed), errors.Is(err, rtmp.ErrMessageTooLarge), errors.Is(err, rtmp.ErrChunkSize),
		errors.Is(err, rtmp.ErrTooManyChunkStreams), errors.Is(err, rtmp.ErrTooManyPartial),
		errors.Is(err, rtmp.ErrReassemblyLimit), errors.Is(err, rtmp.ErrProtocol), errors.Is(err, io.ErrUnexpectedEOF):
		return endProtocol
	}
	return endNormal
}

// isPeerGone reports the ordinary ways a peer leaves.
func isPeerGone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readLoop passes the client's messages to the NetConnection.
func (t *transport) readLoop(noConnect *time.Timer) error {
	preamble := false
	for {
		m, err := t.rc.ReadMessage()
		if err != nil {
			return err
		}
		connected := t.conn.Connected()
		switch {
		case m.Command != nil:
			if !connected {
				if m.Command.Name != "connect" {
					return peerFault("command %q before connect", netstream.Clip(m.Command.Name))
				}
				if m.StreamID != 0 {
					return peerFault("connect on message stream %d", m.StreamID)
				}
				if !preamble {
					preamble = true
					t.sendPreamble()
				}
			}
			if err := t.conn.HandleMessage(m.StreamID, m.Message); err != nil {
				return protocolError{err}
			}
			if !connected && t.conn.Connected() {
				noConnect.Stop()
			}
		case m.Type == media.TypeUserControl:
			// Set Buffer Length paces recorded streams; the rest is the
			// rtmp package's.
			if connected {
				if err := t.conn.HandleMessage(m.StreamID, m.Message); err != nil {
					return protocolError{err}
				}
			}
		case m.Type == media.TypeAudio, m.Type == media.TypeVideo, m.IsData():
			if !connected {
				return peerFault("media (type %d) before connect", m.Type)
			}
			if err := t.conn.HandleMessage(m.StreamID, m.Message); err != nil {
				return protocolError{err}
			}
		default:
			// Shared objects (types 16, 19) are not served.
			t.log.Debug("rtmp message ignored", "type", m.Type, "streamID", m.StreamID)
		}
	}
}

// sendPreamble queues what RTMP servers send before the answer to connect,
// in the order ffmpeg, OBS and FMLE expect: Window Acknowledgement Size,
// Set Peer Bandwidth (dynamic), Set Chunk Size.
func (t *transport) sendPreamble() {
	cfg := &t.srv.rtmpCfg
	bw := uint32Message(media.TypeSetPeerBW, cfg.WindowAckSize)
	bw.Payload = append(bw.Payload, rtmp.LimitDynamic)
	for _, m := range []media.Message{
		uint32Message(media.TypeWindowAckSize, cfg.WindowAckSize),
		bw,
		uint32Message(media.TypeSetChunkSize, uint32(cfg.ChunkSize)),
	} {
		t.enqueue(outItem{m: m})
	}
}

func uint32Message(typ uint8, v uint32) media.Message {
	return media.Message{Type: typ, Payload: []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}}
}

// Connected is called by netstream once connect succeeded.
func (t *transport) Connected() { t.connOnce.Do(func() { close(t.connected) }) }

// Protocol is "rtmp".
func (t *transport) Protocol() string { return "rtmp" }

// RemoteAddr is the client's TCP address.
func (t *transport) RemoteAddr() string { return t.rc.RemoteAddr().String() }

// Bytes returns the bytes received and sent on the connection.
func (t *transport) Bytes() (in, out uint64) { return t.rc.BytesRead(), t.rc.BytesWritten() }

// Send queues a control message: commands and status events on their
// stream, User Control events on stream 0 (§7.1.7). Stream Begin precedes
// NetStream.Play.PublishNotify and Stream EOF precedes
// NetStream.Play.UnpublishNotify, as RTMP players expect.
func (t *transport) Send(streamID uint32, m media.Message) error {
	if m.Type == media.TypeUserControl {
		return t.enqueue(outItem{m: m})
	}
	if streamID != 0 && m.Type == media.TypeCommandAMF0 {
		if cmd, err := netstream.DecodeCommand(m); err == nil && cmd.Name == "onStatus" {
			switch statusCode(cmd) {
			case netstream.PlayPublishNotify:
				t.enqueue(outItem{m: netstream.UserControl(netstream.EventStreamBegin, streamID)})
			case netstream.PlayUnpublishNotify:
				t.enqueue(outItem{m: netstream.UserControl(netstream.EventStreamEOF, streamID)})
			}
		}
	}
	return t.enqueue(outItem{sid: streamID, m: m})
}

func statusCode(cmd netstream.Command) string {
	for _, a := range cmd.Args {
		if o, ok := amf.AsObject(a); ok {
			if c, ok := o.GetString("code"); ok {
				return c
			}
		}
	}
	return ""
}

// Account is the connection's share of the memory budget (nil without
// one): the player queues of its streams are charged to it.
func (t *transport) Account() *budget.Account { return t.acct }

// MediaSink returns the sink of stream id's media.
func (t *transport) MediaSink(id uint32) netstream.Sink { return mediaSink{t: t, id: id} }

// CloseStream has nothing to release: a stream's messages share the
// connection's chunk streams.
func (t *transport) CloseStream(uint32) {}

// Close ends the connection once what is queued has been written (within
// closeGrace); err says why.
func (t *transport) Close(err error) {
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		return
	}
	t.closing = true
	if t.reason == nil {
		t.reason = err
	}
	idle := !t.busy
	if idle {
		t.closed = true
	}
	t.mu.Unlock()
	if idle {
		t.rc.Close()
		return
	}
	time.AfterFunc(closeGrace, func() { t.rc.Close() })
}

// abort closes the connection at once.
func (t *transport) abort(err error) {
	t.mu.Lock()
	if t.reason == nil {
		t.reason = err
	}
	t.closing, t.closed = true, true
	t.mu.Unlock()
	t.rc.Close()
}

// mediaSink writes a played stream's media.
type mediaSink struct {
	t  *transport
	id uint32
}

// WriteMedia writes m and waits until it is written.
func (s mediaSink) WriteMedia(ctx context.Context, m media.Message) error {
	return s.t.writeMedia(ctx, s.id, m)
}

// WriteMediaBatch writes several messages with one flush.
func (s mediaSink) WriteMediaBatch(ctx context.Context, msgs []media.Message) error {
	return s.t.writeMedia(ctx, s.id, msgs...)
}

// TryWriteMediaBatch writes msgs if the connection takes them without
// waiting.
func (s mediaSink) TryWriteMediaBatch(msgs []media.Message) (bool, error) {
	return s.t.tryWriteMedia(s.id, msgs)
}

// Prepare attaches to m the body of its chunks, shared with the other
// players of the fan-out (see rtmp.Conn.Prepare).
func (s mediaSink) Prepare(m *media.Message) int { return s.t.rc.Prepare(s.id, m) }

// PrepareAbove is the length up to which Prepare does nothing.
func (s mediaSink) PrepareAbove() int { return s.t.rc.PrepareAbove() }

var _ netstream.Transport = (*transport)(nil)
var _ netstream.FlushSink = mediaSink{}
var _ netstream.PrepareThreshold = mediaSink{}
var _ netstream.ConnectedNotifier = (*transport)(nil)
var _ netstream.Accounted = (*transport)(nil)
