// Package rtmfpnc runs Flash NetConnections over RTMFP sessions (RFC 7425
// §5): it maps the TC flows of a session onto a netstream.Conn, answers on
// return flows associated with the client's NetConnection flow (as
// rtmfp-cpp's tcserver and MonaServer2 do), sends each played stream's
// audio, video and data on their own partially reliable flows, and hands
// NetGroup control flows ("GC") to the group layer.
package rtmfpnc

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// Config configures the RTMFP side of the NetConnection server.
type Config struct {
	NS     *netstream.Server
	Logger *slog.Logger
	// KeepaliveServer and KeepalivePeer are announced to clients with the
	// Set Keepalive Timers event after connect (RFC 7425 §5.3.4). Default
	// 15 s and 10 s, as Cumulus and MonaServer.
	KeepaliveServer, KeepalivePeer time.Duration
	// MediaLifetime is how long audio and video stay worth delivering:
	// older media is abandoned on lossy paths. Default 2 s.
	MediaLifetime time.Duration
	// OnGroupFlow receives NetGroup control flows ("GC" metadata) of
	// sessions read flow by flow. When nil they are refused.
	OnGroupFlow func(s *rtmfp.Session, c *netstream.Conn, f *rtmfp.RecvFlow)
	// OnGroupMessage receives the messages of NetGroup control flows of
	// sessions read in arrival order (rtmfp.Config.InOrder), then the
	// flow's end (msg nil, err set). When nil such flows are refused.
	OnGroupMessage func(s *rtmfp.Session, c *netstream.Conn, f *rtmfp.RecvFlow, msg []byte, err error)
	// OnConn is told of each NetConnection as it starts (after the client's
	// NetConnection flow arrives).
	OnConn func(s *rtmfp.Session, c *netstream.Conn)
	// Direct serves the direct P2P NetStreams of a peer (publishers using
	// NetStream.DIRECT_CONNECTIONS): sessions carry no NetConnection, and
	// the first TC flow, for any stream, starts the connection.
	Direct bool
}

// Server serves NetConnections on RTMFP sessions.
type Server struct {
	cfg Config
	log *slog.Logger
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KeepaliveServer <= 0 {
		cfg.KeepaliveServer = 15 * time.Second
	}
	if cfg.KeepalivePeer <= 0 {
		cfg.KeepalivePeer = 10 * time.Second
	}
	if cfg.MediaLifetime <= 0 {
		cfg.MediaLifetime = 2 * time.Second
	}
	return &Server{cfg: cfg, log: cfg.Logger}
}

// Serve accepts sessions from ep until ctx ends or ep closes.
func (srv *Server) Serve(ctx context.Context, ep *rtmfp.Endpoint) error {
	for {
		s, err := ep.Accept(ctx)
		if err != nil {
			return err
		}
		go srv.HandleSession(s)
	}
}

// Metadata signatures of NetGroup flows (rtmfp-facts §5.1).
var groupControl = []byte("GC")

// HandleSession runs the NetConnection of one session until it ends.
func (srv *Server) HandleSession(s *rtmfp.Session) {
	done := make(chan struct{})
	srv.Start(s, func() { close(done) })
	<-done
}

// Start runs the NetConnection of one session and returns at once; ended
// is called once the session has ended and its connection is closed. A
// session read in arrival order (rtmfp.Config.InOrder) holds no goroutine
// while it is idle: one runs while its messages wait to be handled.
func (srv *Server) Start(s *rtmfp.Session, ended func()) {
	t := &transport{srv: srv, s: s}
	if !s.InOrder() {
		t.ctx, t.cancel = context.WithCancel(context.Background())
		go func() {
			srv.handleFlows(t)
			<-s.Done()
			ended()
		}()
		return
	}
	// Nothing to cancel: the session's end ends what waits on its flows.
	t.ctx, t.cancel = context.Background(), func() {}
	t.flows = map[*rtmfp.RecvFlow]*flowState{}
	t.ended = ended
	s.NotifyInOrder(t.kick)
}

// handleFlows runs a session whose flows are read one by one.
func (srv *Server) handleFlows(t *transport) {
	s := t.s
	defer t.cancel()
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		if t.conn != nil {
			t.conn.Close()
		}
	}()
	for {
		f, err := s.AcceptFlow(t.ctx)
		if err != nil {
			return
		}
		md := f.Metadata()
		if bytes.Equal(md, groupControl) {
			if srv.cfg.OnGroupFlow == nil || t.conn == nil {
				f.Reject(0)
				continue
			}
			srv.cfg.OnGroupFlow(s, t.conn, f)
			continue
		}
		id, ok := tcflow.ParseMetadata(md)
		if !ok {
			f.Reject(0)
			continue
		}
		if t.conn == nil {
			switch {
			case srv.cfg.Direct:
				t.ncIn = f
				t.conn = srv.cfg.NS.NewDirectConn(t, s.FarPeerID().String())
			case id != 0:
				// A NetStream flow before the NetConnection flow.
				f.Reject(0)
				continue
			default:
				t.ncIn = f
				t.conn = srv.cfg.NS.NewConn(t, s.FarPeerID().String())
			}
			if srv.cfg.OnConn != nil {
				srv.cfg.OnConn(s, t.conn)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.readFlow(id, f)
		}()
	}
}

// flowState is what a session read in order knows of one client flow.
type flowState struct {
	kind     int // refused, tc or gc
	streamID uint32
}

const (
	refused = iota
	tc
	gc
)

// kick starts the goroutine that handles a session's queued messages,
// unless it runs (rtmfp.Session.NotifyInOrder: must not block).
func (t *transport) kick() {
	if t.running.CompareAndSwap(false, true) {
		go t.drain()
	}
}

// drain handles the session's queued messages in arrival order, so that a
// NetStream's commands are never handled before media that arrived ahead
// of them on other flows, and returns when none is left. Once the session
// has ended it closes the connection and calls ended; running then stays
// set, so no goroutine starts again.
func (t *transport) drain() {
	for {
		for {
			f, b, ok, err := t.s.TryReadInOrder()
			if !ok {
				break
			}
			if f == nil {
				t.cancel()
				if t.conn != nil {
					t.conn.Close()
				}
				t.ended()
				return
			}
			t.arrival(f, b, err)
		}
		t.running.Store(false)
		// Whatever was queued between the last read and now kicked while
		// running was set: look once more.
		if !t.s.InOrderPending() || !t.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// arrival handles one message (or the end) of flow f of a session read in
// arrival order.
func (t *transport) arrival(f *rtmfp.RecvFlow, b []byte, err error) {
	srv, s := t.srv, t.s
	st := t.flows[f]
	if st == nil {
		st = &flowState{}
		md := f.Metadata()
		switch id, ok := tcflow.ParseMetadata(md); {
		case bytes.Equal(md, groupControl) && srv.cfg.OnGroupMessage != nil && t.conn != nil:
			st.kind = gc
		case !ok:
			f.Reject(0)
		case t.conn == nil && (srv.cfg.Direct || id == 0):
			t.ncIn = f
			if srv.cfg.Direct {
				t.conn = srv.cfg.NS.NewDirectConn(t, s.FarPeerID().String())
			} else {
				t.conn = srv.cfg.NS.NewConn(t, s.FarPeerID().String())
			}
			if srv.cfg.OnConn != nil {
				srv.cfg.OnConn(s, t.conn)
			}
			st.kind, st.streamID = tc, id
		case t.conn == nil:
			f.Reject(0) // a NetStream flow before the NetConnection flow
		default:
			st.kind, st.streamID = tc, id
		}
		if len(t.flows) < 4096 || st.kind != refused {
			t.flows[f] = st
		}
	}
	switch st.kind {
	case gc:
		srv.cfg.OnGroupMessage(s, t.conn, f, b, err)
	case tc:
		if err != nil || t.broken {
			break
		}
		m, derr := tcflow.Decode(b)
		if derr == nil {
			derr = t.conn.HandleMessage(st.streamID, m)
		}
		if derr != nil {
			srv.log.Info("closing connection", "session", s.FarPeerID().String(), "proto", "rtmfp", "reason", derr.Error())
			t.Close(derr)
			t.broken = true
		}
	}
	if err != nil {
		delete(t.flows, f)
	}
}

// transport implements netstream.Transport over one session.
type transport struct {
	srv    *Server
	s      *rtmfp.Session
	ctx    context.Context
	cancel context.CancelFunc
	ncIn   *rtmfp.RecvFlow
	conn   *netstream.Conn

	// Sessions read in arrival order: the goroutine draining the queue
	// (running) owns flows and broken; ended is Start's.
	running atomic.Bool
	flows   map[*rtmfp.RecvFlow]*flowState
	broken  bool // the connection failed and is closing
	ended   func()

	mu    sync.Mutex
	ctrl0 *rtmfp.SendFlow            // the NetConnection's control flow
	ctrl  map[uint32]*rtmfp.SendFlow // the other streams' (made when needed)
	media map[uint32]*mediaFlows
}

// readFlow passes the messages of one client flow to the connection.
func (t *transport) readFlow(streamID uint32, f *rtmfp.RecvFlow) {
	for {
		b, err := f.ReadMessage(t.ctx)
		if err != nil {
			return
		}
		m, err := tcflow.Decode(b)
		if err != nil {
			t.srv.log.Debug("bad TC message, closing", "session", t.s.FarPeerID().String(), "proto", "rtmfp", "err", err)
			t.Close(err)
			return
		}
		if err := t.conn.HandleMessage(streamID, m); err != nil {
			t.srv.log.Info("closing connection", "session", t.s.FarPeerID().String(), "proto", "rtmfp", "reason", err.Error())
			t.Close(err)
			return
		}
	}
}

func (t *transport) Protocol() string   { return "rtmfp" }
func (t *transport) RemoteAddr() string { return t.s.RemoteAddr().String() }

// Bytes returns the bytes received and sent in the session.
func (t *transport) Bytes() (in, out uint64) {
	st := t.s.Stats()
	return st.BytesIn, st.BytesOut
}

// Account is the session's share of the memory budget (nil without one):
// the player queues of its streams are charged to it.
func (t *transport) Account() *budget.Account { return t.s.Account() }

// Close ends the session.
func (t *transport) Close(err error) { t.s.Close() }

// Connected sends the keepalive timers, as MonaServer does right after
// NetConnection.Connect.Success.
func (t *transport) Connected() {
	t.Send(0, netstream.UserControl(netstream.EventSetKeepalive,
		uint32(t.srv.cfg.KeepaliveServer/time.Millisecond), uint32(t.srv.cfg.KeepalivePeer/time.Millisecond)))
}

// control returns the reliable flow carrying stream id's control messages,
// opening it (associated with the client's NetConnection flow) on first use.
func (t *transport) control(id uint32) (*rtmfp.SendFlow, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.ctrl0; id == 0 && f != nil {
		return f, nil
	}
	if f := t.ctrl[id]; f != nil {
		return f, nil
	}
	f, err := t.s.OpenFlow(tcflow.Metadata(id), rtmfp.FlowOptions{ReturnFor: t.ncIn, Priority: 3})
	if err != nil {
		return nil, err
	}
	switch {
	case id == 0:
		t.ctrl0 = f
	case t.ctrl == nil:
		t.ctrl = map[uint32]*rtmfp.SendFlow{id: f}
	default:
		t.ctrl[id] = f
	}
	return f, nil
}

// Send writes a control message reliably.
func (t *transport) Send(id uint32, m media.Message) error {
	f, err := t.control(id)
	if err != nil {
		return err
	}
	if m.Type != media.TypeAudio && m.Type != media.TypeVideo {
		m.Timestamp = 0 // Flash may drop control messages with timestamps (MonaServer2)
	}
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	return tcflow.Write(ctx, f, m, 0)
}

// mediaFlows are the flows of one played stream, one per media type so
// that audio is not held up behind video (as rtmfp-cpp's tcserver does).
type mediaFlows struct {
	t                  *transport
	id                 uint32
	mu                 sync.Mutex
	audio, video, data *rtmfp.SendFlow
}

// MediaSink returns the sink of stream id's media.
func (t *transport) MediaSink(id uint32) netstream.Sink {
	t.mu.Lock()
	defer t.mu.Unlock()
	mf := t.media[id]
	if mf == nil {
		mf = &mediaFlows{t: t, id: id}
		if t.media == nil {
			t.media = map[uint32]*mediaFlows{}
		}
		t.media[id] = mf
	}
	return mf
}

func (mf *mediaFlows) flow(typ uint8) (*rtmfp.SendFlow, time.Duration, error) {
	mf.mu.Lock()
	defer mf.mu.Unlock()
	var slot **rtmfp.SendFlow
	prio, tc, life := 1, false, time.Duration(0)
	switch typ {
	case media.TypeAudio:
		slot, prio, tc, life = &mf.audio, 2, true, mf.t.srv.cfg.MediaLifetime
	case media.TypeVideo:
		slot, prio, tc, life = &mf.video, 1, true, mf.t.srv.cfg.MediaLifetime
	default:
		slot = &mf.data
	}
	if *slot == nil {
		f, err := mf.t.s.OpenFlow(tcflow.Metadata(mf.id), rtmfp.FlowOptions{ReturnFor: mf.t.ncIn, Priority: prio, TimeCritical: tc})
		if err != nil {
			return nil, 0, err
		}
		*slot = f
	}
	return *slot, life, nil
}

// WriteMedia sends one message on the flow of its type.
func (mf *mediaFlows) WriteMedia(ctx context.Context, m media.Message) error {
	f, life, err := mf.flow(m.Type)
	if err != nil {
		return err
	}
	return tcflow.WriteShared(ctx, f, m, life)
}

// TryWriteMedia sends one message on the flow of its type if the flow has
// room for it now (netstream.DirectSink): a live stream's messages then go
// from the publisher to the session without a goroutine in between.
func (mf *mediaFlows) TryWriteMedia(m media.Message) (bool, error) {
	f, life, err := mf.flow(m.Type)
	if err != nil {
		return false, err
	}
	return tcflow.TryWrite(f, m, life)
}

func (mf *mediaFlows) close() {
	mf.mu.Lock()
	defer mf.mu.Unlock()
	for _, f := range []*rtmfp.SendFlow{mf.audio, mf.video, mf.data} {
		if f != nil {
			f.Close()
		}
	}
	mf.audio, mf.video, mf.data = nil, nil, nil
}

// CloseStream closes the flows of a deleted stream.
func (t *transport) CloseStream(id uint32) {
	t.mu.Lock()
	mf := t.media[id]
	delete(t.media, id)
	f := t.ctrl[id]
	delete(t.ctrl, id)
	if id == 0 {
		f, t.ctrl0 = t.ctrl0, nil
	}
	t.mu.Unlock()
	if mf != nil {
		mf.close()
	}
	if f != nil && id != 0 {
		f.Close()
	}
}

var _ netstream.Transport = (*transport)(nil)
var _ netstream.DirectSink = (*mediaFlows)(nil)
var _ netstream.Accounted = (*transport)(nil)
