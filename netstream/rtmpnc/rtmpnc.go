// Package rtmpnc runs Flash NetConnections over RTMP (Adobe's RTMP
// specification 1.0): it accepts TCP connections, runs the handshake and the
// chunk stream through the rtmp package, and maps the messages onto a
// netstream.Conn, so that encoders and players speaking RTMP (ffmpeg, OBS,
// Flash Media Live Encoder, Flash Player) share streams with RTMFP clients.
//
// The RTMP-level parts are done here: the answers to connect in the order
// encoders expect (Window Acknowledgement Size, Set Peer Bandwidth, Set
// Chunk Size, then the _result, §5.4 and §7.2.1.1), User Control Stream
// Begin and Stream EOF around played streams (§7.1.7), message stream IDs
// on every message (§6.1), and the policing of what a client may send
// before it is connected. Commands (releaseStream, FCPublish, createStream,
// publish, play, FCUnpublish, deleteStream) and @setDataFrame metadata are
// netstream's.
//
// Each connection has one output queue, written in order by whichever
// goroutine finds it idle. Control messages (answers, status events) are
// queued without waiting, up to a bound past which a peer that does not
// read is disconnected. Media for a played stream is written from that
// stream's subscription goroutine and waits for the write (bounded by the
// connection's write timeout): a stalled TCP reader stalls only its own
// subscriptions, whose bounded queues drop whole groups of pictures.
package rtmpnc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/internal/waitgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// Defaults of [Config].
const (
	// DefaultConnectTimeout bounds the time from TCP accept to a
	// successful connect command.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxConns caps the connections served at once.
	DefaultMaxConns = 10000
	// DefaultControlQueue bounds the control messages (answers, status
	// events) waiting for a peer that does not read.
	DefaultControlQueue = 256
	// closeGrace bounds how long a closing connection may take to send what
	// it has queued (a rejection, the last status events).
	closeGrace = 2 * time.Second
)

// Config configures a [Server].
type Config struct {
	// NS is the NetConnection server the connections belong to (shared
	// with RTMFP, so that streams cross transports).
	NS     *netstream.Server
	Logger *slog.Logger
	// RTMP sets each connection's timeouts (handshake, read, write, ping)
	// and the limits on what a peer may send; nil uses the rtmp package's
	// defaults. Its ChunkSize and WindowAckSize are announced after
	// connect.
	RTMP *rtmp.Config
	// ConnectTimeout bounds the time from accept to a successful connect
	// (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// MaxConns caps the connections served at once (default
	// DefaultMaxConns); more are closed as soon as they are accepted.
	MaxConns int
	// ControlQueue bounds the control messages queued for a peer (default
	// DefaultControlQueue); past it the peer is disconnected.
	ControlQueue int
	// Memory is the server-wide memory budget the connections' accounts
	// belong to (nil: none). Each connection's incomplete messages and
	// player queues are charged to its account.
	Memory *budget.Pool
	// PeerMemory caps what one connection may make the server hold
	// (incomplete messages and player queues); past it the connection is
	// closed. 0: no cap beyond the RTMP limits and the player queues'.
	PeerMemory int64
}

// Stats counts a server's connections.
type Stats struct {
	// Active connections now.
	Active int `json:"active"`
	// Accepted TCP connections, ever.
	Accepted uint64 `json:"accepted"`
	// Refused: accepted over MaxConns and closed at once.
	Refused uint64 `json:"refused"`
	// HandshakeFailures: connections that ended before the handshake
	// completed (garbage, stalls, timeouts).
	HandshakeFailures uint64 `json:"handshakeFailures"`
	// ProtocolErrors: connections closed for what the peer sent (limits
	// broken, malformed messages, commands out of order, no connect in
	// time, not reading).
	ProtocolErrors uint64 `json:"protocolErrors"`
	// BytesIn and BytesOut count the bytes received and sent, ever (those
	// of open connections included).
	BytesIn  uint64 `json:"bytesIn"`
	BytesOut uint64 `json:"bytesOut"`
}

// Server serves NetConnections over RTMP.
type Server struct {
	cfg     Config
	rtmpCfg rtmp.Config
	log     *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*transport]struct{}
	closed    bool
	wg        sync.WaitGroup
	nextID    atomic.Uint64

	accepted, refused, hsFailures, protoErrors atomic.Uint64
	bytesIn, bytesOut                          atomic.Uint64 // of the connections that ended
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ControlQueue <= 0 {
		cfg.ControlQueue = DefaultControlQueue
	}
	var rc rtmp.Config
	if cfg.RTMP != nil {
		rc = *cfg.RTMP
	}
	if rc.ChunkSize <= 0 {
		rc.ChunkSize = rtmp.DefaultChunkSize
	}
	if rc.WindowAckSize == 0 {
		rc.WindowAckSize = rtmp.DefaultWindowAckSize
	}
	return &Server{cfg: cfg, rtmpCfg: rc, log: cfg.Logger,
		listeners: map[net.Listener]struct{}{}, conns: map[*transport]struct{}{}}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("rtmpnc: server closed")

// Serve accepts RTMP connections on l (a TCP listener) until ctx ends, l
// fails or the server shuts down, and serves each on its own goroutine. It
// closes l when it returns.
func (srv *Server) Serve(ctx context.Context, l net.Listener) error {
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	srv.listeners[l] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, l)
		srv.mu.Unlock()
		l.Close()
	}()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			srv.mu.Lock()
			closed := srv.closed
			srv.mu.Unlock()
			switch {
			case closed:
				return ErrServerClosed
			case ctx.Err() != nil:
				return ctx.Err()
			case isTemporary(err):
				// Out of file descriptors and the like: wait a little,
				// as net/http does, instead of spinning.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				srv.log.Warn("rtmp accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				continue
			}
			return err
		}
		backoff = 0
		srv.accepted.Add(1)
		if !srv.start(c) {
			continue
		}
	}
}

// isTemporary reports accept errors worth retrying (EMFILE, ECONNABORTED).
func isTemporary(err error) bool {
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

// start registers and runs a connection; false when it was refused.
func (srv *Server) start(nc net.Conn) bool {
	srv.mu.Lock()
	if srv.closed || len(srv.conns) >= srv.cfg.MaxConns {
		n := len(srv.conns)
		srv.mu.Unlock()
		srv.refused.Add(1)
		srv.log.Warn("rtmp connection refused", "remote", nc.RemoteAddr().String(), "proto", "rtmp", "reason", "too many connections", "active", n)
		nc.Close()
		return false
	}
	t := newTransport(srv, rtmp.NewServerConn(nc, &srv.rtmpCfg), fmt.Sprintf("rtmp-%d", srv.nextID.Add(1)))
	t.acct = srv.cfg.Memory.Open(t.id+" ("+nc.RemoteAddr().String()+")", srv.cfg.PeerMemory, t.abort)
	t.rc.SetAccount(t.acct)
	srv.conns[t] = struct{}{}
	srv.wg.Add(1)
	srv.mu.Unlock()
	go func() {
		defer srv.wg.Done()
		t.serve()
		t.acct.Close()
		srv.mu.Lock()
		delete(srv.conns, t)
		srv.bytesIn.Add(t.rc.BytesRead()) // under mu: Stats counts t once
		srv.bytesOut.Add(t.rc.BytesWritten())
		srv.mu.Unlock()
	}()
	return true
}

// Stats returns the server's counters.
func (srv *Server) Stats() Stats {
	srv.mu.Lock()
	n := len(srv.conns)
	var in, out uint64
	for t := range srv.conns {
		in += t.rc.BytesRead()
		out += t.rc.BytesWritten()
	}
	in += srv.bytesIn.Load()
	out += srv.bytesOut.Load()
	srv.mu.Unlock()
	return Stats{Active: n, Accepted: srv.accepted.Load(), Refused: srv.refused.Load(),
		HandshakeFailures: srv.hsFailures.Load(), ProtocolErrors: srv.protoErrors.Load(),
		BytesIn: in, BytesOut: out}
}

// errShutdown is the reason given to connections closed by Shutdown.
var errShutdown = errors.New("server shutting down")

// Shutdown stops accepting, closes every connection (each first sends what
// it has queued) and waits for their goroutines, or until ctx ends, when
// the remaining connections are closed at once.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closed = true
	for l := range srv.listeners {
		l.Close()
	}
	conns := make([]*transport, 0, len(srv.conns))
	for t := range srv.conns {
		conns = append(conns, t)
	}
	srv.mu.Unlock()
	for _, t := range conns {
		t.Close(errShutdown)
	}
	done := waitgroup.Done(&srv.wg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, t := range conns {
			t.rc.Close()
		}
		<-done
		return ctx.Err()
	}
}
