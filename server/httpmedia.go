package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/rtmfpd/rtmfpd/internal/wsconn"
	"github.com/rtmfpd/rtmfpd/netstream/httpflv"
)

// HTTPConfig configures what browsers and HTTP players reach: HTTP-FLV
// playback and RTMP over WebSocket, served on the status listener and on
// the listeners of Listen.
type HTTPConfig struct {
	// Listen lists TCP addresses of HTTP listeners for players: they serve
	// HTTP-FLV and RTMP over WebSocket only (no /status, /metrics, admin
	// API or dashboard), so they can face the Internet while the status
	// listener stays on loopback. Empty: the status listener only.
	Listen []string `json:"listen"`
	// FLV serves live streams at GET /<app>/<stream>.flv and
	// /<app>/<instance>/<stream>.flv, over HTTP and WebSocket (default
	// true).
	FLV *bool `json:"flv"`
	// RTMPPath is the path of RTMP over WebSocket (default "/rtmp";
	// "off": none).
	RTMPPath string `json:"rtmpPath"`
	// AllowOrigins lists the origins of the web pages that may play
	// streams and open the WebSockets: "*" (the default) for any, or
	// patterns on the origin's host ("*.example.com") or on
	// "scheme://host". Access control is that of RTMP (rules, tokens,
	// callbacks), which a page of any origin goes through.
	AllowOrigins []string `json:"allowOrigins"`
	// GOPCacheBytes bounds the last group of pictures each live stream
	// keeps so that HTTP-FLV players start at once with a picture
	// (default 1 MiB; at most half a player's queue). A larger one is not
	// kept: those players start at the next key frame.
	GOPCacheBytes int `json:"gopCacheBytes"`
}

// Defaults of HTTPConfig.
const (
	defaultRTMPPath = "/rtmp"
	defaultGOPCache = 1 << 20
)

func (h *HTTPConfig) flv() bool { return h.FLV == nil || *h.FLV }

func (h *HTTPConfig) rtmpPath() string {
	switch h.RTMPPath {
	case "":
		return defaultRTMPPath
	case "off":
		return ""
	}
	return h.RTMPPath
}

func (h *HTTPConfig) origins() []string {
	if h.AllowOrigins == nil {
		return []string{"*"}
	}
	return h.AllowOrigins
}

func (h *HTTPConfig) gopCache() int {
	if h.GOPCacheBytes == 0 {
		return defaultGOPCache
	}
	return h.GOPCacheBytes
}

func (h *HTTPConfig) validate() error {
	for _, a := range h.Listen {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return fmt.Errorf("http.listen: address %q: %w", a, err)
		}
	}
	if p := h.rtmpPath(); p != "" && !validRTMPPath(p) {
		return fmt.Errorf("http.rtmpPath: %q: want a path such as /rtmp (letters, digits, / _ . -; not ending in .flv; "+
			"not /status, /metrics, /admin/, /dashboard/ or /debug/), or off", h.RTMPPath)
	}
	for _, o := range h.AllowOrigins {
		if o == "" {
			return errors.New("http.allowOrigins: an empty pattern")
		}
	}
	return nil
}

// validRTMPPath reports whether p can be the path of RTMP over WebSocket:
// plain characters, and none of the status listener's own paths.
func validRTMPPath(p string) bool {
	if !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, ".flv") || len(p) > 256 {
		return false
	}
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_.-", r)
		if !ok {
			return false
		}
	}
	for _, own := range []string{"/status", "/metrics", "/admin", "/dashboard", "/debug"} {
		if p == own || strings.HasPrefix(p, own+"/") {
			return false
		}
	}
	return true
}

// startHTTPMedia creates the HTTP-FLV server and the RTMP-over-WebSocket
// listener (served by the RTMP server) and opens the players' listeners.
func (d *Daemon) startHTTPMedia(ctx context.Context) error {
	h := d.cfg.HTTP
	if h.flv() {
		o := d.cfg.RTMPOptions
		d.flv = httpflv.New(httpflv.Config{NS: d.ns, Logger: d.log, WriteTimeout: time.Duration(o.WriteTimeout),
			MaxConns: o.MaxConns, AllowOrigins: h.origins()})
	}
	if h.rtmpPath() != "" && d.rtmp != nil {
		d.rtmpWS = wsconn.NewListener(&net.TCPAddr{})
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.rtmp.Serve(ctx, d.rtmpWS)
		}()
	}
	for _, a := range h.Listen {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("http listener %s: %w", a, err)
		}
		mux := http.NewServeMux()
		d.mediaRoutes(mux, nil)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		d.httpServers = append(d.httpServers, srv)
		d.httpAddrs = append(d.httpAddrs, ln.Addr().String())
		d.log.Info("HTTP listening", "address", ln.Addr().String(), "flv", h.flv(), "rtmpPath", h.rtmpPath())
		go srv.Serve(ln)
	}
	return nil
}

// HTTPAddrs returns the addresses of the players' HTTP listeners.
func (d *Daemon) HTTPAddrs() []string { return d.httpAddrs }

// mediaRoutes adds the players' endpoints to mux; other is what answers
// the paths that are neither (nil: 404).
func (d *Daemon) mediaRoutes(mux *http.ServeMux, other http.Handler) {
	if p := d.cfg.HTTP.rtmpPath(); p != "" && d.rtmpWS != nil {
		mux.HandleFunc(p, d.serveRTMPWebSocket)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case d.flv != nil && strings.HasSuffix(r.URL.Path, ".flv"):
			d.flv.ServeHTTP(w, r)
		case other != nil:
			other.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// serveRTMPWebSocket hands a WebSocket to the RTMP server: its binary
// messages carry the RTMP byte stream, as Ruffle's socket proxy sends it.
// The RTMP server's limits apply (connections, timeouts, message sizes),
// and a WebSocket message may not be larger than the largest RTMP message
// (64 KiB at least).
func (d *Daemon) serveRTMPWebSocket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !isWebSocketRequest(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUpgradeRequired)
		fmt.Fprintln(w, "RTMP over WebSocket: open this URL as a WebSocket (binary messages carry the RTMP byte stream)")
		return
	}
	ws, err := websocket.Accept(w, r, httpflv.AcceptOptions(d.cfg.HTTP.origins()))
	if err != nil {
		d.log.Info("rtmp websocket refused", "remote", r.RemoteAddr, "proto", "rtmp", "reason", err.Error())
		return
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	remote, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	maxMsg := d.cfg.RTMPOptions.MaxMessageSize
	if maxMsg <= 0 {
		maxMsg = 16 << 20
	}
	maxMsg = max(maxMsg, minWebSocketMessage)
	c := wsconn.New(ws, local, remote, int64(maxMsg))
	if !d.rtmpWS.Offer(r.Context(), c) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	<-c.Done()
}

// minWebSocketMessage is the least a WebSocket message may carry: the
// handshake's C0 and C1 (1537 bytes) and a few chunks with them.
const minWebSocketMessage = 64 << 10

func isWebSocketRequest(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// shutdownHTTPMedia ends the HTTP-FLV players and closes the players'
// listeners.
func (d *Daemon) shutdownHTTPMedia(ctx context.Context) error {
	var err error
	if d.flv != nil {
		err = d.flv.Shutdown(ctx)
	}
	for _, s := range d.httpServers {
		s.Close()
	}
	return err
}
