// Package httpflv plays live streams as FLV over HTTP and over WebSocket
// ("HTTP-FLV", as nginx-http-flv-module and SRS serve it): GET
// /<app>/<stream>.flv (or /<app>/<instance>/<stream>.flv) answers with an
// endless FLV file that starts with the stream's metadata and codec headers,
// then its last key frame and what followed, then the live stream, and
// ends when the publisher stops. flv.js and mpegts.js play it in browsers,
// ffplay, ffmpeg and VLC as a URL. The same URL opened as a WebSocket sends
// the same bytes as binary messages (flv.js's ws:// URLs).
//
// Each request is a NetConnection of the netstream server (protocol
// "http-flv" or "ws-flv"): it connects to the application and plays the
// stream with the query of the URL (tokens), so the access rules, tokens
// and HTTP callbacks of RTMP and RTMFP players apply, and it takes the same
// bounded player queue: a reader slower than the stream loses whole groups
// of pictures, and one that does not read for WriteTimeout is disconnected.
package httpflv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/rtmfpd/rtmfpd/internal/waitgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Defaults of [Config].
const (
	DefaultWriteTimeout = 30 * time.Second
	DefaultMaxConns     = 10000
)

// Config configures a [Server].
type Config struct {
	NS     *netstream.Server
	Logger *slog.Logger
	// WriteTimeout disconnects a reader that takes no bytes for that long
	// (default DefaultWriteTimeout). Meanwhile its queue drops whole
	// groups of pictures.
	WriteTimeout time.Duration
	// MaxConns caps the players served at once (default DefaultMaxConns);
	// more are answered 503.
	MaxConns int
	// AllowOrigins lists the origins whose pages may read the streams
	// (CORS) and open them as WebSockets: "*" for any, or patterns
	// (path.Match) on the origin's host or on "scheme://host". Empty: the
	// server's own origin only.
	AllowOrigins []string
}

// Stats counts a server's players.
type Stats struct {
	// Active players now.
	Active int `json:"active"`
	// Played: requests that started playing, ever.
	Played uint64 `json:"played"`
	// Refused: requests answered with an error (unknown stream, refused
	// by the access rules, too many players).
	Refused uint64 `json:"refused"`
	// BytesOut counts the bytes sent, ever.
	BytesOut uint64 `json:"bytesOut"`
}

// Server serves HTTP-FLV requests; it is an http.Handler.
type Server struct {
	cfg    Config
	log    *slog.Logger
	nextID atomic.Uint64

	mu     sync.Mutex
	conns  map[*transport]struct{}
	closed bool
	wg     sync.WaitGroup

	played, refused, bytesOut atomic.Uint64 // bytesOut: of the players that ended
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	return &Server{cfg: cfg, log: cfg.Logger, conns: map[*transport]struct{}{}}
}

// Stats returns the server's counters.
func (srv *Server) Stats() Stats {
	srv.mu.Lock()
	n := len(srv.conns)
	out := srv.bytesOut.Load()
	for t := range srv.conns {
		out += t.bytesOut.Load()
	}
	srv.mu.Unlock()
	return Stats{Active: n, Played: srv.played.Load(), Refused: srv.refused.Load(), BytesOut: out}
}

// maxPath bounds the path of a request.
const maxPath = 1024

// ParsePath splits the path of a stream URL: /app/name.flv is the stream
// name of application app's default instance, /app/instance/name.flv names
// the instance.
func ParsePath(p string) (app, inst, name string, err error) {
	if len(p) > maxPath {
		return "", "", "", fmt.Errorf("a path of %d bytes is over the limit of %d", len(p), maxPath)
	}
	rest, ok := strings.CutSuffix(p, ".flv")
	if !ok || !strings.HasPrefix(rest, "/") {
		return "", "", "", errors.New("want /app/stream.flv or /app/instance/stream.flv")
	}
	parts := strings.Split(rest[1:], "/")
	for _, s := range parts {
		if s == "" || s == "." || s == ".." {
			return "", "", "", errors.New("want /app/stream.flv or /app/instance/stream.flv")
		}
	}
	switch len(parts) {
	case 2:
		return parts[0], netstream.DefaultInstance, parts[1], nil
	case 3:
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", errors.New("want /app/stream.flv or /app/instance/stream.flv")
}

// ServeHTTP plays the stream the request names.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin != "" && srv.originAllowed(origin, r.Host) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodOptions: // a CORS preflight (a Range header)
		w.Header().Set("Access-Control-Allow-Methods", "GET")
		w.Header().Set("Access-Control-Allow-Headers", "Range")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET")
		srv.refuse(w, r, http.StatusMethodNotAllowed, r.Method+" is not served: GET plays a stream")
		return
	}
	app, inst, name, err := ParsePath(r.URL.Path)
	if err != nil {
		srv.refuse(w, r, http.StatusNotFound, err.Error())
		return
	}
	ws := isWebSocket(r)
	proto := "http-flv"
	if ws {
		proto = "ws-flv"
	}
	t, ok := srv.start(proto, r)
	if !ok {
		srv.refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("too many players (%d)", srv.cfg.MaxConns))
		return
	}
	defer srv.finish(t)
	code, why := t.open(r, app, inst, name)
	if code != http.StatusOK {
		t.wmu.Unlock()
		srv.refuse(w, r, code, why)
		t.end(errors.New(why))
		return
	}
	srv.played.Add(1)
	if ws {
		t.serveWebSocket(w, r)
	} else {
		t.serveHTTP(w, r)
	}
}

// refuse answers an error in plain text, the status code first.
func (srv *Server) refuse(w http.ResponseWriter, r *http.Request, code int, why string) {
	srv.refused.Add(1)
	srv.log.Info("http-flv request refused", "remote", r.RemoteAddr, "proto", "http-flv", "path", netstream.Clip(r.URL.Path), "status", code, "reason", why)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, why)
}

// start registers a player; false over MaxConns or after Shutdown.
func (srv *Server) start(proto string, r *http.Request) (*transport, bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.closed || len(srv.conns) >= srv.cfg.MaxConns {
		return nil, false
	}
	t := newTransport(srv, proto, fmt.Sprintf("flv-%d", srv.nextID.Add(1)), r.RemoteAddr)
	srv.conns[t] = struct{}{}
	srv.wg.Add(1)
	return t, true
}

// finish forgets a player whose request has ended.
func (srv *Server) finish(t *transport) {
	t.close()
	srv.mu.Lock()
	delete(srv.conns, t)
	srv.bytesOut.Add(t.bytesOut.Load())
	srv.mu.Unlock()
	srv.wg.Done()
}

// errShutdown ends the players at shutdown.
var errShutdown = errors.New("server shutting down")

// Shutdown ends every player (each after what is being written) and waits
// for their requests to end, or for ctx.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closed = true
	conns := make([]*transport, 0, len(srv.conns))
	for t := range srv.conns {
		conns = append(conns, t)
	}
	srv.mu.Unlock()
	for _, t := range conns {
		t.end(errShutdown)
	}
	done := waitgroup.Done(&srv.wg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// originAllowed reports whether a page of origin may read streams served
// at host.
func (srv *Server) originAllowed(origin, host string) bool {
	o := strings.ToLower(origin)
	_, ohost, found := strings.Cut(o, "://")
	if !found {
		return false
	}
	if strings.EqualFold(ohost, host) {
		return true
	}
	for _, p := range srv.cfg.AllowOrigins {
		p = strings.ToLower(p)
		if p == "*" {
			return true
		}
		target := ohost
		if strings.Contains(p, "://") {
			target = o
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// acceptOptions are the WebSocket handshake's options for the allowed
// origins.
func (srv *Server) acceptOptions() *websocket.AcceptOptions {
	o := &websocket.AcceptOptions{}
	for _, p := range srv.cfg.AllowOrigins {
		if p == "*" {
			o.InsecureSkipVerify = true // any origin: the URL's token is the access control
			return o
		}
	}
	o.OriginPatterns = srv.cfg.AllowOrigins
	return o
}

// AcceptOptions returns the WebSocket handshake options for origins, as
// Config.AllowOrigins reads them (for other WebSocket endpoints of the same
// server).
func AcceptOptions(origins []string) *websocket.AcceptOptions {
	return (&Server{cfg: Config{AllowOrigins: origins}}).acceptOptions()
}
