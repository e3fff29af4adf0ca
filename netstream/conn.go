package netstream

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Transport carries a NetConnection's messages to the client. Send must be
// reliable and ordered per stream; it may block briefly.
type Transport interface {
	// Send delivers a control message (command, status, user control or
	// data) for stream streamID; 0 is the NetConnection itself.
	Send(streamID uint32, m media.Message) error
	// MediaSink returns the sink for the media of stream streamID played
	// by the client.
	MediaSink(streamID uint32) Sink
	// CloseStream releases what the transport holds for a stream.
	CloseStream(streamID uint32)
	// Close ends the connection; err says why.
	Close(err error)
	// Protocol is "rtmfp" or "rtmp".
	Protocol() string
	// RemoteAddr describes the client's address.
	RemoteAddr() string
}

// ConnectedNotifier is implemented by transports that act once a connect
// succeeded (RTMFP sends its keepalive timers then).
type ConnectedNotifier interface {
	Connected()
}

// Conn is one NetConnection, whichever transport carries it. Its methods
// are safe for concurrent use (an RTMFP connection reads several flows at
// once).
type Conn struct {
	srv *Server
	t   Transport

	mu        sync.Mutex
	connected bool
	closed    bool
	direct    bool // a direct P2P NetStream connection: no connect, no createStream
	info      ConnectInfo
	streams   map[uint32]*netStream
	nextID    uint32
	peerAddrs []string
	calls     calls // the server's calls to the client
	// connectedAt is when connect succeeded.
	connectedAt time.Time

	holdMu  sync.Mutex
	hold    bool      // the transport calls Flush (see HoldPublished)
	toFlush []*Stream // streams written since the last Flush

	// ID identifies the connection in logs and status (the peer ID for
	// RTMFP).
	ID string
}

// logger returns the logger of the connection's events, made when a line
// is logged so that an idle connection holds none of its own.
func (c *Conn) logger() *slog.Logger {
	return c.srv.log.With("session", c.ID, "proto", c.t.Protocol(), "remote", c.t.RemoteAddr())
}

// NewConn registers a connection arriving on transport t.
func (srv *Server) NewConn(t Transport, id string) *Conn {
	c := &Conn{srv: srv, t: t, streams: make(map[uint32]*netStream), nextID: 1, ID: id}
	srv.mu.Lock()
	srv.conns[c] = struct{}{}
	srv.mu.Unlock()
	return c
}

// NewDirectConn registers the connection of a peer that plays this end's
// direct P2P NetStreams (NetStream.DIRECT_CONNECTIONS): Flash peers send no
// connect and no createStream on such a session; streams come into being
// when the peer names them (rtmfp-facts §5.1: stream IDs 2000000+n). With
// no connect to name an application, its streams are those of the empty
// application's default instance, where direct publishers register theirs.
func (srv *Server) NewDirectConn(t Transport, id string) *Conn {
	c := srv.NewConn(t, id)
	c.connected, c.direct = true, true
	c.info.Instance = DefaultInstance
	return c
}

// Info returns what the client's connect said.
func (c *Conn) Info() ConnectInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Connected reports whether connect succeeded.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// ConnectedAt returns when connect succeeded (zero before).
func (c *Conn) ConnectedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectedAt
}

// StreamCounts returns how many of the connection's NetStreams publish and
// how many play.
func (c *Conn) StreamCounts() (publishing, playing int) {
	c.mu.Lock()
	streams := make([]*netStream, 0, len(c.streams))
	for _, ns := range c.streams {
		streams = append(streams, ns)
	}
	c.mu.Unlock()
	for _, ns := range streams {
		ns.mu.Lock()
		if ns.publishing != nil {
			publishing++
		}
		if ns.playing != nil {
			playing++
		}
		ns.mu.Unlock()
	}
	return publishing, playing
}

// PeerAddresses returns the addresses the client announced with setPeerInfo
// (RTMFP): where other peers may reach it directly.
func (c *Conn) PeerAddresses() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.peerAddrs...)
}

// HoldPublished tells the connection that its transport calls Flush before
// it waits for more messages from the client: the media the client
// publishes may then wait for Flush on its way to players, so that what
// arrived together reaches each player in one write (see Stream.WriteHeld).
func (c *Conn) HoldPublished() {
	c.holdMu.Lock()
	c.hold = true
	c.holdMu.Unlock()
}

// Flush delivers the media held since the last Flush (see HoldPublished).
func (c *Conn) Flush() {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	for i, s := range c.toFlush {
		s.Flush()
		c.toFlush[i] = nil
	}
	c.toFlush = c.toFlush[:0]
}

// publishMedia passes a message the client publishes to its stream.
func (c *Conn) publishMedia(ns *netStream, s *Stream, m media.Message) {
	c.holdMu.Lock()
	hold := c.hold
	if hold && (len(c.toFlush) == 0 || c.toFlush[len(c.toFlush)-1] != s) && !slices.Contains(c.toFlush, s) {
		c.toFlush = append(c.toFlush, s)
	}
	c.holdMu.Unlock()
	if hold {
		s.WriteHeld(ns, m)
	} else {
		s.Write(ns, m)
	}
}

// Transport returns the connection's transport.
func (c *Conn) Transport() Transport { return c.t }

// HandleMessage processes one message the client sent on stream streamID.
// An error means the connection must be closed.
func (c *Conn) HandleMessage(streamID uint32, m media.Message) error {
	switch m.Type {
	case media.TypeCommandAMF0, media.TypeCommandAMF3:
		cmd, err := DecodeCommand(m)
		if err != nil {
			return err
		}
		if len(cmd.Name) > MaxCommandBytes {
			why := tooLong("command name", len(cmd.Name), MaxCommandBytes)
			c.logger().Info("refused", "app", Clip(c.Info().App), "code", CallFailed, "reason", why, "command", Clip(cmd.Name))
			c.callFailed(streamID, cmd.TxnID, why)
			return nil
		}
		return c.handleCommand(streamID, cmd)
	case media.TypeUserControl:
		if len(m.Payload) >= 2 && uint16(m.Payload[0])<<8|uint16(m.Payload[1]) == EventSetBufferLength {
			c.setBufferLength(m.Payload)
		}
	case media.TypeDataAMF0, media.TypeDataAMF3, media.TypeAudio, media.TypeVideo:
		ns := c.stream(streamID)
		if ns == nil {
			return nil
		}
		// A session read flow by flow hands messages over from several
		// goroutines: the publication is read under the stream's lock.
		ns.mu.Lock()
		pub := ns.publishing
		ns.mu.Unlock()
		if pub == nil {
			return nil // media for nothing published: ignored, as FMS does
		}
		if m.IsData() {
			if vs, err := DecodeData(m); err == nil && len(vs) > 0 {
				h, _ := vs[0].(string)
				if h == "@clearDataFrame" {
					pub.ClearMetadata()
					return nil
				}
				if len(h) > MaxCommandBytes {
					c.logger().Debug("data message dropped", "handler", Clip(h), "reason", "handler name too long")
					return nil
				}
			}
		}
		c.publishMedia(ns, pub, m)
	}
	return nil
}

// Close ends the connection's streams (the transport is gone).
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	streams := c.streams
	c.streams = map[uint32]*netStream{}
	c.mu.Unlock()
	for _, ns := range streams {
		ns.close(false)
	}
	c.calls.fail()
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
	if h := c.srv.cfg.Hooks.OnDisconnect; h != nil {
		h(c)
	}
}

func (c *Conn) stream(id uint32) *netStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.streams[id]
	if ns == nil && c.direct && id != 0 && len(c.streams) < c.srv.cfg.MaxStreamsPerConn {
		ns = &netStream{c: c, id: id}
		c.streams[id] = ns
	}
	return ns
}

// send writes a control message, logging failures (the transport closes
// the connection on its own when it is gone).
func (c *Conn) send(streamID uint32, m media.Message) {
	if err := c.t.Send(streamID, m); err != nil {
		c.logger().Debug("send failed", "streamID", streamID, "err", err)
	}
}

// reply answers a call with _result or _error.
func (c *Conn) reply(streamID uint32, name string, txn float64, obj amf.Value, args ...amf.Value) {
	m, err := EncodeCommand(name, txn, obj, args...)
	if err != nil {
		c.logger().Warn("encoding reply", "err", err)
		return
	}
	c.send(streamID, m)
}

// status sends onStatus with an info object on a stream.
func (c *Conn) status(streamID uint32, code, description string, extra ...amf.Property) {
	if levelOf(code) == LevelError { // a refusal: one line, whatever refused
		attrs := []any{"app", Clip(c.Info().App), "code", code, "reason", description}
		for _, p := range extra {
			if s, ok := p.Value.(string); ok && p.Key == "details" {
				attrs = append(attrs, "stream", Clip(s))
			}
		}
		c.logger().Info("refused", attrs...)
	}
	info := Info(code, description)
	info.Props = append(info.Props, extra...)
	c.reply(streamID, "onStatus", 0, nil, info)
}

func (c *Conn) callFailed(streamID uint32, txn float64, description string) {
	if txn == 0 {
		return
	}
	c.reply(streamID, "_error", txn, nil, Info(CallFailed, description))
}

// handleCommand dispatches a command (NetConnection commands on stream 0,
// NetStream commands on the others).
func (c *Conn) handleCommand(streamID uint32, cmd Command) error {
	if cmd.Name == "connect" {
		return c.connect(cmd)
	}
	if !c.Connected() {
		switch cmd.Name {
		case "publish":
			c.status(streamID, PublishFailed, "connect first")
		case "play":
			c.status(streamID, PlayFailed, "connect first")
		default:
			c.callFailed(streamID, cmd.TxnID, "not connected")
		}
		return nil
	}
	switch cmd.Name {
	case "_result", "_error":
		if streamID == 0 {
			c.answered(cmd)
		}
	case "createStream":
		c.createStream(cmd)
	case "deleteStream":
		if id, ok := amf.Number(cmd.Arg(0)); ok {
			c.deleteStream(uint32(id))
		}
	case "closeStream":
		if ns := c.stream(streamID); ns != nil {
			ns.close(true)
		}
	case "releaseStream":
		if _, ok := c.streamName(streamID, cmd); ok {
			c.reply(streamID, "_result", cmd.TxnID, nil, amf.Undefined{})
		}
	case "FCPublish":
		if name, ok := c.streamName(streamID, cmd); ok {
			c.reply(streamID, "onFCPublish", 0, nil, Info(PublishStart, name))
		}
	case "FCUnpublish":
		if name, ok := c.streamName(streamID, cmd); ok {
			c.reply(streamID, "onFCUnpublish", 0, nil, Info(UnpublishSuccess, name))
		}
	case "publish":
		c.publish(streamID, cmd)
	case "play":
		c.play(streamID, cmd)
	case "receiveAudio", "receiveVideo":
		if ns := c.stream(streamID); ns != nil {
			on, _ := cmd.Arg(0).(bool)
			ns.setReceive(cmd.Name == "receiveAudio", on)
		}
	case "pause":
		if ns := c.stream(streamID); ns != nil {
			p, _ := cmd.Arg(0).(bool)
			ns.pause(p)
		}
	case "seek":
		ms, _ := amf.Number(cmd.Arg(0))
		if ns := c.stream(streamID); ns != nil && ns.seek(ms) {
			break
		}
		c.status(streamID, SeekFailed, "seek is not possible on a live stream")
	case "setPeerInfo":
		var addrs []string
		for _, a := range cmd.Args {
			if s, ok := a.(string); ok && len(addrs) < 16 && len(s) <= MaxPeerAddrBytes {
				addrs = append(addrs, s)
			}
		}
		c.mu.Lock()
		c.peerAddrs = addrs
		c.mu.Unlock()
		if cmd.TxnID != 0 {
			// Flash sends it with transaction 0 and wants no answer;
			// a client that numbers it is answered, as rtmfp-cpp's
			// servers do.
			c.reply(streamID, "_result", cmd.TxnID, nil, amf.Undefined{})
		}
		if h := c.srv.cfg.Hooks.OnPeerInfo; h != nil {
			h(c, addrs)
		}
	case "getStreamLength":
		name, _ := cmd.ArgString(0)
		c.reply(streamID, "_result", cmd.TxnID, nil, c.streamLength(name))
	default:
		c.call(streamID, cmd)
	}
	return nil
}

func (c *Conn) call(streamID uint32, cmd Command) {
	if h := c.srv.cfg.Hooks.OnCall; h != nil {
		res, err := h(c, cmd)
		if err == nil {
			if cmd.TxnID != 0 {
				c.reply(streamID, "_result", cmd.TxnID, nil, res)
			}
			return
		}
		if !errors.Is(err, ErrUnknownMethod) {
			c.callFailed(streamID, cmd.TxnID, err.Error())
			return
		}
	}
	c.callFailed(streamID, cmd.TxnID, fmt.Sprintf("method %q not found", Clip(cmd.Name)))
}

// streamName returns the stream name argument of FCPublish, FCUnpublish and
// releaseStream, answering _error when it is over MaxNameBytes (false).
func (c *Conn) streamName(streamID uint32, cmd Command) (string, bool) {
	name, _ := cmd.ArgString(0)
	if len(name) > MaxNameBytes {
		why := tooLong("stream name", len(name), MaxNameBytes)
		c.logger().Info("refused", "app", Clip(c.Info().App), "code", CallFailed, "reason", why, "command", cmd.Name, "stream", Clip(name))
		c.callFailed(streamID, cmd.TxnID, why)
		return "", false
	}
	return name, true
}

// connect answers NetConnection.connect (rtmfp-facts §5.4).
func (c *Conn) connect(cmd Command) error {
	c.mu.Lock()
	already := c.connected
	c.mu.Unlock()
	if already {
		c.callFailed(0, cmd.TxnID, "already connected")
		return nil
	}
	obj, _ := amf.AsObject(cmd.Object)
	if why := checkConnect(obj, cmd.Args); why != "" {
		c.srv.stats.rejects.Add(1)
		c.logger().Info("connect refused", "reason", why)
		c.reply(0, "_error", cmd.TxnID, nil, Info(ConnectRejected, why))
		c.reply(0, "close", 0, nil)
		c.t.Close(errors.New(why))
		return nil
	}
	info := ConnectInfo{ObjectEncoding: 0}
	info.TcURL, _ = objString(obj, "tcUrl")
	info.FlashVer, _ = objString(obj, "flashVer")
	if oe, ok := obj.GetNumber("objectEncoding"); ok {
		info.ObjectEncoding = oe
	}
	appField, _ := objString(obj, "app")
	info.App, info.Instance, info.Query = SplitAppPath(appField)
	if info.App == "" && info.TcURL != "" {
		info.App, info.Instance, info.Query = appFromURL(info.TcURL)
	}
	if q := appQuery(info.TcURL); info.Query == nil && q != nil {
		info.Query = q
	}
	info.Args = append(info.Args, cmd.Args...)
	info.Object = obj
	reject := func(code, why, redirect string) error {
		c.srv.stats.rejects.Add(1)
		c.logger().Info("connect refused", "app", Clip(info.App), "instance", Clip(info.Instance), "code", code, "reason", why)
		res := Info(code, why)
		if redirect != "" {
			// FMS's application.redirectConnection: the client reads
			// info.ex.redirect.
			res.Set("ex", amf.NewObject(amf.Property{Key: "code", Value: 302.0}, amf.Property{Key: "redirect", Value: redirect}))
		}
		c.reply(0, "_error", cmd.TxnID, nil, res)
		c.reply(0, "close", 0, nil)
		c.t.Close(errors.New(why))
		return nil
	}
	if len(c.srv.cfg.Apps) > 0 && !c.srv.appAllowed(info.App) {
		return reject(ConnectInvalidApp, fmt.Sprintf("application %q is not served here", Clip(info.App)), "")
	}
	if h := c.srv.cfg.Hooks.OnConnect; h != nil {
		if err := h(c, &info); err != nil {
			return reject(refusal(err, ConnectRejected))
		}
	}
	if info.App == "" {
		return reject(ConnectInvalidApp, "the URL names no application", "")
	}
	if info.Instance == "" {
		info.Instance = DefaultInstance
	}
	c.mu.Lock()
	c.connected = true
	c.connectedAt = time.Now()
	c.info = info
	c.mu.Unlock()
	c.srv.stats.connects.Add(1)
	res := Info(ConnectSuccess, "Connection succeeded.")
	res.Set("objectEncoding", info.ObjectEncoding)
	var props amf.Value
	if c.t.Protocol() == "rtmp" {
		// What FMS and nginx-rtmp put first; RTMFP servers send null.
		props = amf.NewObject(
			amf.Property{Key: "fmsVer", Value: "FMS/3,5,7,7009"},
			amf.Property{Key: "capabilities", Value: 31.0},
			amf.Property{Key: "mode", Value: 1.0},
		)
	}
	c.reply(0, "_result", cmd.TxnID, props, res)
	if n, ok := c.t.(ConnectedNotifier); ok {
		n.Connected()
	}
	c.logger().Info("connected", "app", Clip(info.App), "instance", Clip(info.Instance), "flashVer", Clip(info.FlashVer))
	if h := c.srv.cfg.Hooks.OnConnected; h != nil {
		h(c)
	}
	return nil
}

func objString(o *amf.Object, key string) (string, bool) {
	v, ok := o.Get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func (c *Conn) createStream(cmd Command) {
	c.mu.Lock()
	if len(c.streams) >= c.srv.cfg.MaxStreamsPerConn {
		c.mu.Unlock()
		c.callFailed(0, cmd.TxnID, "too many streams")
		return
	}
	id := c.nextID
	for c.streams[id] != nil || id == 0 {
		id++
	}
	c.nextID = id + 1
	c.streams[id] = &netStream{c: c, id: id}
	c.mu.Unlock()
	c.reply(0, "_result", cmd.TxnID, nil, float64(id))
}

func (c *Conn) deleteStream(id uint32) {
	c.mu.Lock()
	ns := c.streams[id]
	delete(c.streams, id)
	c.mu.Unlock()
	if ns != nil {
		ns.close(true)
	}
	c.t.CloseStream(id)
}
