// Package netstream implements the NetConnection and NetStream semantics
// of Flash Media Server, shared by the RTMFP transport (RFC 7425 §5: TC
// flows carrying RTMP-style messages) and by RTMP over TCP: applications
// and instances taken from the connection URI, connect and its answer,
// createStream, publish and play with Flash's status codes, NetStream.send
// and metadata, and the live fan-out from one publisher to many players.
//
// A transport adapter creates a Conn per NetConnection with Server.NewConn,
// passes it every message it receives (HandleMessage) and implements
// Transport to carry the answers. The fan-out never lets a slow player slow
// the publisher: each player has a bounded queue that drops whole groups of
// pictures (see Subscription).
package netstream

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/budget"
)

// DefaultInstance is the instance of a URI that names only an application.
const DefaultInstance = "_definst_"

// Config configures a Server. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// Apps lists the applications clients may connect to. Empty: any
	// (the Cirrus-compatible mode accepts any developer key as the app).
	Apps []string
	// PlayerQueue bounds each player's queue in bytes, codec headers and
	// metadata included. Default 2 MiB.
	PlayerQueue int
	// MaxSticky bounds the metadata and codec headers kept for late
	// joiners, in bytes (larger ones are passed on as ordinary messages).
	// Default DefaultMaxSticky (64 KiB); at most a quarter of PlayerQueue.
	MaxSticky int
	// SlowConsumer disconnects a player whose queue stayed over its bound
	// (dropping) without catching up for this long, whatever it answers to
	// pings. Default DefaultSlowConsumer; negative: never.
	SlowConsumer time.Duration
	// GOPCache bounds the group of pictures each live stream keeps for
	// players that start at its last key frame (HTTP-FLV), in bytes; at
	// most half of PlayerQueue. 0 keeps none: they start at the next key
	// frame.
	GOPCache int
	// MaxStreamsPerConn caps createStream per connection. Default 64.
	MaxStreamsPerConn int
	// NoMedia refuses publish and play: the server only introduces peers
	// and keeps groups, as Adobe Cirrus did ("no media relay").
	NoMedia bool
	// Hooks let the application accept, refuse and follow connections and
	// streams.
	Hooks Hooks
	// Recorder records published streams (publish types record, append,
	// appendWithGap). Nil: those publish live and hear
	// NetStream.Record.NoAccess.
	Recorder Recorder
	// Files plays recorded streams (video on demand). Nil: play finds live
	// streams only.
	Files Files
}

// Hooks are the application's say, in the manner of FMS server-side
// scripts (application.onConnect, onPublish, onUnpublish). Each may be nil.
// They run on the connection's goroutine and should return quickly.
type Hooks struct {
	// OnConnect accepts (nil) or rejects (an error, whose text becomes
	// the rejection's description; a *Refusal chooses the code or
	// redirects) a connection. It may change info's App and Instance
	// (an application taken from a query parameter, a default
	// application); an empty App afterwards is refused.
	OnConnect func(c *Conn, info *ConnectInfo) error
	// OnDisconnect is told when a connection ends.
	OnDisconnect func(c *Conn)
	// OnConnected is told once the answer to a successful connect is on
	// its way; it may call the client (Conn.Call, on its own goroutine:
	// the answer comes through this connection's goroutine).
	OnConnected func(c *Conn)
	// CheckPublish is asked before a stream is published: an error
	// refuses it (NetStream.Publish.Failed with the error's text, or the
	// code of a *Refusal); changing req.Name publishes under another name.
	CheckPublish func(c *Conn, req *StreamRequest) error
	// OnPublish is told when a stream starts; an error refuses the publish
	// (NetStream.Publish.Failed with the error's text, or the code of a
	// *Refusal).
	OnPublish func(c *Conn, s *Stream) error
	// OnUnpublish is told when a stream's publisher stops.
	OnUnpublish func(c *Conn, s *Stream)
	// CheckPlay is asked before a stream is played: an error refuses it
	// (NetStream.Play.Failed, or the code of a *Refusal); changing
	// req.Name plays another stream.
	CheckPlay func(c *Conn, req *StreamRequest) error
	// OnPlayStop is told when a player stops playing name (play(false),
	// closeStream, deleteStream, another play, or the connection's end).
	OnPlayStop func(c *Conn, name string)
	// OnCall answers a client call the server does not implement itself.
	// Return ErrUnknownMethod for NetConnection.Call.Failed.
	OnCall func(c *Conn, cmd Command) (result any, err error)
	// OnPeerInfo is told of each setPeerInfo (RFC 7425 §5.3.3) of a
	// connected client, with the addresses it announced (at most 16).
	OnPeerInfo func(c *Conn, addrs []string)
}

// DefaultSlowConsumer is the default Config.SlowConsumer: as long as RTMP's
// default write timeout.
const DefaultSlowConsumer = 30 * time.Second

// Accounted is implemented by transports whose peer has a memory account:
// the queues of the streams it plays are charged to it.
type Accounted interface {
	Account() *budget.Account
}

// StreamRequest is a publish or play a hook is asked about.
type StreamRequest struct {
	// Name is the stream name without its query; a hook may change it
	// (a redirect).
	Name string
	// Query holds the parameters of the name's query ("cam?token=…").
	Query url.Values
	// Mode is publish's type (live, record, append, appendWithGap); ""
	// for play.
	Mode string
}

// Refusal is an error a hook returns to choose what the client is told.
type Refusal struct {
	// Code is the status code sent; "" means the hook's default
	// (NetConnection.Connect.Rejected, NetStream.Publish.Failed,
	// NetStream.Play.Failed).
	Code string
	// Description is the info object's description.
	Description string
	// Redirect, for a connect, is the URL the client should connect to
	// instead: it is sent as ex.redirect with ex.code 302 in the
	// NetConnection.Connect.Rejected info object, as Flash Media Server's
	// application.redirectConnection did.
	Redirect string
}

func (r *Refusal) Error() string { return r.Description }

// refusal returns the code and description err asks for, def being the
// hook's default code.
func refusal(err error, def string) (code, description, redirect string) {
	var r *Refusal
	if errors.As(err, &r) {
		code = r.Code
		if code == "" {
			code = def
		}
		return code, r.Description, r.Redirect
	}
	return def, err.Error(), ""
}

// ErrUnknownMethod makes a call fail with NetConnection.Call.Failed.
var ErrUnknownMethod = errors.New("netstream: unknown method")

// ConnectInfo is what a client's connect command said.
type ConnectInfo struct {
	App, Instance string
	// Query holds the URI's query parameters (application keys).
	Query          url.Values
	TcURL          string
	ObjectEncoding float64
	FlashVer       string
	// Args are the extra arguments of NetConnection.connect.
	Args []any
	// Object is the connect command object, with the fields a client
	// adds (login, appKey, ...).
	Object *amf.Object
}

// Server holds the applications' streams and connections.
type Server struct {
	cfg      Config
	log      *slog.Logger
	Registry *Registry

	mu    sync.Mutex
	conns map[*Conn]struct{}
	stats serverCounters
}

type serverCounters struct {
	connects, rejects, publishes, plays, slowPlayers atomic.Uint64
}

// NewServer returns a server.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PlayerQueue <= 0 {
		cfg.PlayerQueue = 2 << 20
	}
	if cfg.MaxStreamsPerConn <= 0 {
		cfg.MaxStreamsPerConn = 64
	}
	if cfg.MaxSticky <= 0 {
		cfg.MaxSticky = DefaultMaxSticky
	}
	cfg.MaxSticky = min(cfg.MaxSticky, cfg.PlayerQueue/4)
	switch {
	case cfg.SlowConsumer == 0:
		cfg.SlowConsumer = DefaultSlowConsumer
	case cfg.SlowConsumer < 0:
		cfg.SlowConsumer = 0
	}
	reg := NewRegistry()
	reg.MaxSticky = cfg.MaxSticky
	cfg.GOPCache = min(cfg.GOPCache, cfg.PlayerQueue/2)
	reg.GOPCache = cfg.GOPCache
	return &Server{cfg: cfg, log: cfg.Logger, Registry: reg, conns: make(map[*Conn]struct{})}
}

// Conns returns a snapshot of the connections.
func (srv *Server) Conns() []*Conn {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*Conn, 0, len(srv.conns))
	for c := range srv.conns {
		out = append(out, c)
	}
	return out
}

// ServerStats counts connections and streams.
type ServerStats struct {
	Conns                               int
	Connects, Rejects, Publishes, Plays uint64
	// SlowPlayers counts players disconnected for staying behind.
	SlowPlayers uint64
}

// Stats returns the server's counters.
func (srv *Server) Stats() ServerStats {
	srv.mu.Lock()
	n := len(srv.conns)
	srv.mu.Unlock()
	return ServerStats{Conns: n, Connects: srv.stats.connects.Load(), Rejects: srv.stats.rejects.Load(),
		Publishes: srv.stats.publishes.Load(), Plays: srv.stats.plays.Load(), SlowPlayers: srv.stats.slowPlayers.Load()}
}

// appAllowed reports whether app is served.
func (srv *Server) appAllowed(app string) bool {
	if len(srv.cfg.Apps) == 0 {
		return app != ""
	}
	for _, a := range srv.cfg.Apps {
		if a == app {
			return true
		}
	}
	return false
}

// SplitAppPath splits the path of rtmfp://host/app/instance (or of an RTMP
// URL, or the app string a client sends) into application and instance;
// the instance defaults to "_definst_" and query parameters are returned
// apart.
func SplitAppPath(p string) (app, inst string, query url.Values) {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		query, _ = url.ParseQuery(p[i+1:])
		p = p[:i]
	}
	p = strings.Trim(p, "/")
	app, inst, _ = strings.Cut(p, "/")
	if inst == "" {
		inst = DefaultInstance
	}
	return app, inst, query
}

// SplitStreamName separates a stream name from its query ("name?key=v").
func SplitStreamName(s string) (name string, query url.Values) {
	name, q, found := strings.Cut(s, "?")
	if found {
		query, _ = url.ParseQuery(q)
	}
	return name, query
}
