// Package client is a Flash-style NetConnection and NetStream client over
// RTMFP (RFC 7016 with the RFC 7425 profile): connect to
// rtmfp://host[:port]/app[/instance], call server methods, create streams,
// publish and play, and receive status events, as Flash Player and
// librtmfp do.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// DefaultPort is the RTMFP port of a URL that names none.
const DefaultPort = 1935

// Options configure Dial.
type Options struct {
	// Endpoint to use; nil makes one on an ephemeral UDP port, closed with
	// the connection.
	Endpoint *rtmfp.Endpoint
	Logger   *slog.Logger
	// Args are extra arguments of the connect command.
	Args []any
	// ObjectEncoding announced in connect. Default 3 (AMF3), as Flash.
	ObjectEncoding float64
	// FlashVer announced in connect. Default "WIN 32,0,0,465" (the last
	// Flash Player).
	FlashVer string
	// StatusBuffer bounds the status events kept for Status readers.
	// Default 64; older events are dropped when nobody reads.
	StatusBuffer int
	// AMF0 announces objectEncoding 0 in connect instead of Flash's 3
	// (ObjectEncoding is then ignored).
	AMF0 bool
	// CommandsAMF3 sends the commands after connect in AMF3 command
	// messages (type 17: a 0x00 format byte, then the AMF0 values, RFC
	// 7425 §5.1) rather than AMF0 ones (type 20). connect itself is always
	// an AMF0 command, as Flash sends it.
	CommandsAMF3 bool
	// OnMessage, when set, sees every TC message the far end sends on this
	// connection's flows (commands, status, user control events, media),
	// with its stream ID, before the connection acts on it. It runs on the
	// connection's reading goroutines and must not block or keep the
	// payload.
	OnMessage func(streamID uint32, m media.Message)
	// OnCall answers the server's calls of the NetConnection's client
	// methods (onBWCheck, onBWDone, ...), as a Flash NetConnection.client
	// object does: its value goes back in _result, an error in _error. It
	// runs on the connection's reading goroutine. Nil answers every call
	// with _error.
	OnCall func(name string, args []amf.Value) (amf.Value, error)
}

// Status is a status event (onStatus, or the info object of _result and
// _error).
type Status struct {
	Code, Level, Description string
	Info                     *amf.Object
}

func (s Status) String() string { return s.Code + " (" + s.Level + "): " + s.Description }

// StatusError is a call or command that failed with a status.
type StatusError struct{ Status Status }

func (e *StatusError) Error() string { return "client: " + e.Status.String() }

func statusOf(v amf.Value) (Status, bool) {
	o, ok := amf.AsObject(v)
	if !ok {
		return Status{}, false
	}
	code, _ := o.GetString("code")
	level, _ := o.GetString("level")
	desc, _ := o.GetString("description")
	return Status{Code: code, Level: level, Description: desc, Info: o}, code != ""
}

// Conn is a NetConnection over RTMFP.
type Conn struct {
	ep    *rtmfp.Endpoint
	ownEP bool
	s     *rtmfp.Session
	log   *slog.Logger
	nc    *rtmfp.SendFlow
	ctx   context.Context
	stop  context.CancelFunc
	opts  Options

	mu      sync.Mutex
	txn     float64
	pending map[float64]chan callResult
	streams map[uint32]*Stream
	status  chan Status
	ncIn    *rtmfp.RecvFlow // the server's NetConnection return flow
	groups  []*Group
	// readDone is closed when the server's messages have all been read
	// (the session ended): an answer sent just before a close (a
	// refused connect's _error) is then known.
	readDone chan struct{}
	// ConnectResult is the info object of the connect answer.
	ConnectResult Status
}

type callResult struct {
	ok   bool
	args []amf.Value
}

// ParseURL splits rtmfp://host[:port]/path into the server addresses (host
// resolved) and the application path.
func ParseURL(ctx context.Context, raw string) (addrs []netip.AddrPort, u *url.URL, err error) {
	u, err = url.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != "rtmfp" {
		return nil, nil, fmt.Errorf("client: %q is not an rtmfp:// URL", raw)
	}
	port := DefaultPort
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			return nil, nil, fmt.Errorf("client: bad port in %q", raw)
		}
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(port))}, u, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, nil, err
	}
	for _, ip := range ips {
		addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	return addrs, u, nil
}

// Dial connects to rtmfp://host[:port]/app[/instance][?query]: RTMFP
// handshake, then NetConnection.connect. It returns a *StatusError when the
// server refuses the connection.
func Dial(ctx context.Context, rawurl string, opts Options) (*Conn, error) {
	addrs, u, err := ParseURL(ctx, rawurl)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ep, own := opts.Endpoint, false
	if ep == nil {
		prof, err := flash.New(flash.Config{})
		if err != nil {
			return nil, err
		}
		network := "udp4"
		if addrs[0].Addr().Is6() {
			network = "udp6"
		}
		ep, err = rtmfp.Listen(network, ":0", rtmfp.Config{Profile: prof, Logger: opts.Logger,
			InOrder: func(s *rtmfp.Session) bool { return !s.PeerMode() }})
		if err != nil {
			return nil, err
		}
		own = true
	}
	s, err := ep.Connect(ctx, flash.URLEPD(rawurl), addrs...)
	if err != nil {
		if own {
			ep.Close()
		}
		return nil, err
	}
	c, err := NewConn(ctx, s, u, opts)
	if err != nil {
		s.Abort()
		if own {
			ep.Close()
		}
		return nil, err
	}
	c.ep, c.ownEP = ep, own
	return c, nil
}

// NewConn runs NetConnection.connect on an open session (for instance a
// direct P2P session) and returns the connection.
func NewConn(ctx context.Context, s *rtmfp.Session, u *url.URL, opts Options) (*Conn, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StatusBuffer <= 0 {
		opts.StatusBuffer = 64
	}
	switch {
	case opts.AMF0:
		opts.ObjectEncoding = 0
	case opts.ObjectEncoding == 0:
		opts.ObjectEncoding = 3
	}
	if opts.FlashVer == "" {
		opts.FlashVer = "WIN 32,0,0,465"
	}
	nc, err := s.OpenFlow(tcflow.Metadata(0), rtmfp.FlowOptions{Priority: 3})
	if err != nil {
		return nil, err
	}
	cctx, stop := context.WithCancel(context.Background())
	c := &Conn{ep: s.Endpoint(), s: s, log: opts.Logger, nc: nc, ctx: cctx, stop: stop, opts: opts,
		pending: map[float64]chan callResult{}, streams: map[uint32]*Stream{},
		status: make(chan Status, opts.StatusBuffer)}
	c.readDone = make(chan struct{})
	go func() {
		defer close(c.readDone)
		c.acceptFlows()
	}()
	app := ""
	tcURL := ""
	if u != nil {
		app = trimSlash(u.Path)
		if u.RawQuery != "" {
			app += "?" + u.RawQuery
		}
		tcURL = u.String()
	}
	obj := amf.NewObject(
		amf.Property{Key: "app", Value: app},
		amf.Property{Key: "flashVer", Value: opts.FlashVer},
		amf.Property{Key: "swfUrl", Value: ""},
		amf.Property{Key: "tcUrl", Value: tcURL},
		amf.Property{Key: "fpad", Value: false},
		amf.Property{Key: "capabilities", Value: 235.0},
		amf.Property{Key: "audioCodecs", Value: 3575.0},
		amf.Property{Key: "videoCodecs", Value: 252.0},
		amf.Property{Key: "videoFunction", Value: 1.0},
		amf.Property{Key: "pageUrl", Value: ""},
		amf.Property{Key: "objectEncoding", Value: opts.ObjectEncoding},
	)
	args := make([]amf.Value, len(opts.Args))
	copy(args, opts.Args)
	res, err := c.callObj(ctx, 0, "connect", obj, args...)
	if err != nil {
		c.shutdown()
		return nil, err
	}
	for _, v := range res {
		if st, ok := statusOf(v); ok {
			c.ConnectResult = st
		}
	}
	return c, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	return p
}

// netConnFlow returns the server's NetConnection flow to this client (nil
// before connect was answered, and on a direct P2P session).
func (c *Conn) netConnFlow() *rtmfp.RecvFlow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ncIn
}

// Session returns the underlying RTMFP session.
func (c *Conn) Session() *rtmfp.Session { return c.s }

// Status returns the NetConnection's status events.
func (c *Conn) Status() <-chan Status { return c.status }

// Done is closed when the connection ended.
func (c *Conn) Done() <-chan struct{} { return c.s.Done() }

// Call invokes a server method and returns the values of its _result. A
// failed call returns a *StatusError.
func (c *Conn) Call(ctx context.Context, name string, args ...any) ([]amf.Value, error) {
	vs := make([]amf.Value, len(args))
	copy(vs, args)
	return c.callObj(ctx, 0, name, nil, vs...)
}

// callObj sends a command with a fresh transaction ID on the NetConnection
// flow and waits for its answer.
func (c *Conn) callObj(ctx context.Context, streamID uint32, name string, obj amf.Value, args ...amf.Value) ([]amf.Value, error) {
	c.mu.Lock()
	c.txn++
	txn := c.txn
	ch := make(chan callResult, 1)
	c.pending[txn] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, txn)
		c.mu.Unlock()
	}()
	m, err := c.encodeCommand(name, txn, obj, args...)
	if err != nil {
		return nil, err
	}
	if err := tcflow.Write(ctx, c.nc, m, 0); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.result(name)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.s.Done():
		// The answer may be among the last messages of the session.
		select {
		case <-c.readDone:
		case <-ctx.Done():
		}
		select {
		case r := <-ch:
			return r.result(name)
		default:
		}
		return nil, c.closedErr()
	}
}

// encodeCommand builds a command message, as an AMF3 command (type 17)
// after connect when Options.CommandsAMF3 asks for it.
func (c *Conn) encodeCommand(name string, txn float64, obj amf.Value, args ...amf.Value) (media.Message, error) {
	m, err := netstream.EncodeCommand(name, txn, obj, args...)
	if err != nil || !c.opts.CommandsAMF3 || name == "connect" {
		return m, err
	}
	m.Type = media.TypeCommandAMF3
	m.Payload = append([]byte{0}, m.Payload...)
	return m, nil
}

// SetPeerInfo announces the addresses where this client's endpoint may be
// reached directly (RFC 7425 §5.3.3), as Flash does after connect:
// "setPeerInfo", 0, null, "ip:port", "[ipv6]:port"... The server answers
// nothing; introducers give these addresses to the peers that ask for this
// client (rtmfp-cpp's introduces only clients that sent it).
func (c *Conn) SetPeerInfo(ctx context.Context, addrs ...netip.AddrPort) error {
	args := make([]amf.Value, len(addrs))
	for i, a := range addrs {
		args[i] = a.String()
	}
	m, err := c.encodeCommand("setPeerInfo", 0, nil, args...)
	if err != nil {
		return err
	}
	return tcflow.Write(ctx, c.nc, m, 0)
}

func (r callResult) result(name string) ([]amf.Value, error) {
	if !r.ok {
		for _, v := range r.args {
			if st, ok := statusOf(v); ok {
				return nil, &StatusError{st}
			}
		}
		return nil, &StatusError{Status{Code: netstream.CallFailed, Level: "error", Description: name + " failed"}}
	}
	return r.args, nil
}

func (c *Conn) closedErr() error {
	if err := c.s.Err(); err != nil {
		return err
	}
	return errors.New("client: connection closed")
}

// closeDrain bounds how long Close waits for the NetConnection flow's
// last messages (deleteStream) to be delivered.
const closeDrain = 2 * time.Second

// Close closes the connection (and the endpoint Dial made) as librtmfp and
// rtmfp-cpp's clients do: the NetConnection flow is never ended on its own.
// What was written on it is delivered first (within closeDrain), then the
// session is closed (RFC 7016 §3.5.5.1), ending every flow with it. Ending
// the NetConnection flow first (as a graceful session close does) makes
// MonaServer2 free the session's flows twice and crash (interop/FINDINGS.md).
func (c *Conn) Close() error {
	if c.nc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeDrain)
		// More than the send buffer fits only in an empty flow.
		c.nc.WaitBuffer(ctx, math.MaxInt32)
		cancel()
	}
	c.s.Abort()
	select {
	case <-c.s.Done():
	case <-time.After(5 * time.Second):
	}
	c.shutdown()
	return nil
}

func (c *Conn) shutdown() {
	c.stop()
	if c.ownEP {
		c.ep.Close()
	}
}

// acceptFlows reads the server's flows.
func (c *Conn) acceptFlows() {
	if c.s.InOrder() {
		c.readInOrder()
		return
	}
	for {
		f, err := c.s.AcceptFlow(c.ctx)
		if err != nil {
			return
		}
		if string(f.Metadata()) == "GC" {
			c.groupFlow(f)
			continue
		}
		id, ok := tcflow.ParseMetadata(f.Metadata())
		if !ok {
			f.Reject(0)
			continue
		}
		if id == 0 {
			c.mu.Lock()
			if c.ncIn == nil {
				c.ncIn = f
			}
			c.mu.Unlock()
		}
		go c.readFlow(id, f)
	}
}

// readInOrder reads the server's messages in arrival order across flows.
func (c *Conn) readInOrder() {
	ids := map[*rtmfp.RecvFlow]uint32{}
	for {
		f, b, err := c.s.ReadInOrder(c.ctx)
		if f == nil {
			return
		}
		if err != nil {
			delete(ids, f)
			continue
		}
		if g := c.groupOf(f); g != nil {
			g.message(b)
			continue
		}
		id, known := ids[f]
		if !known {
			if string(f.Metadata()) == "GC" {
				f.Reject(0) // not the answer to a group we joined
				continue
			}
			var ok bool
			if id, ok = tcflow.ParseMetadata(f.Metadata()); !ok {
				f.Reject(0)
				continue
			}
			ids[f] = id
			if id == 0 {
				c.mu.Lock()
				if c.ncIn == nil {
					c.ncIn = f
				}
				c.mu.Unlock()
			}
		}
		m, err := tcflow.Decode(b)
		if err != nil {
			continue
		}
		c.dispatch(id, m)
	}
}

func (c *Conn) readFlow(id uint32, f *rtmfp.RecvFlow) {
	for {
		b, err := f.ReadMessage(c.ctx)
		if err != nil {
			return
		}
		m, err := tcflow.Decode(b)
		if err != nil {
			continue
		}
		c.dispatch(id, m)
	}
}

// dispatch routes a server message: call answers, status events, media.
func (c *Conn) dispatch(id uint32, m media.Message) {
	if c.opts.OnMessage != nil {
		c.opts.OnMessage(id, m)
	}
	switch m.Type {
	case media.TypeCommandAMF0, media.TypeCommandAMF3:
		cmd, err := netstream.DecodeCommand(m)
		if err != nil {
			return
		}
		switch cmd.Name {
		case "_result", "_error":
			c.mu.Lock()
			ch := c.pending[cmd.TxnID]
			c.mu.Unlock()
			if ch != nil {
				select {
				case ch <- callResult{ok: cmd.Name == "_result", args: append([]amf.Value{cmd.Object}, cmd.Args...)}:
				default: // answered already: a server answering twice must not stall the reader
				}
			}
			return
		case "onStatus":
			for _, a := range cmd.Args {
				if st, ok := statusOf(a); ok {
					c.deliverStatus(id, st)
				}
			}
			return
		case "close":
			c.s.Close()
			return
		}
		if id == 0 {
			c.answerCall(cmd)
			return
		}
	case media.TypeUserControl:
		return
	}
	if st := c.stream(id); st != nil {
		st.deliverMedia(m)
	}
}

func (c *Conn) stream(id uint32) *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[id]
}

func (c *Conn) deliverStatus(id uint32, st Status) {
	ch := c.status
	if s := c.stream(id); s != nil && id != 0 {
		ch = s.status
	}
	for {
		select {
		case ch <- st:
			return
		default:
		}
		// Full: drop the oldest event.
		select {
		case <-ch:
		default:
		}
	}
}

// ConnectPeer opens a direct RTMFP session to the peer with the given ID,
// introduced by this connection's server (IHello by peer ID, Forwarded
// IHello and Redirect, RFC 7016 §3.5.1.4). addrs may add addresses where
// the peer is already known to listen. It fails with rtmfp.ErrNoSuchPeer
// when no session could be established within the handshake timeout (the
// peer is unknown, gone, or unreachable through the NATs on the way).
func (c *Conn) ConnectPeer(ctx context.Context, id profile.PeerID, addrs ...netip.AddrPort) (*rtmfp.Session, error) {
	if s, ok := c.ep.Session(id); ok && s.Err() == nil {
		return s, nil
	}
	to := append([]netip.AddrPort{c.s.RemoteAddr()}, addrs...)
	return c.ep.Connect(ctx, flash.PeerEPD(id), to...)
}

// answerCall answers a call of the server.
func (c *Conn) answerCall(cmd netstream.Command) {
	var res amf.Value
	err := errors.New("no such method")
	if c.opts.OnCall != nil {
		res, err = c.opts.OnCall(cmd.Name, cmd.Args)
	}
	if cmd.TxnID == 0 {
		return
	}
	name, args := "_result", []amf.Value{res}
	if err != nil {
		name, args = "_error", []amf.Value{amf.NewObject(
			amf.Property{Key: "level", Value: netstream.LevelError},
			amf.Property{Key: "code", Value: netstream.CallFailed},
			amf.Property{Key: "description", Value: err.Error()})}
	}
	if m, err := netstream.EncodeCommand(name, cmd.TxnID, nil, args...); err == nil {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		tcflow.Write(ctx, c.nc, m, 0)
		cancel()
	}
}
