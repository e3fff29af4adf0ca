package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// AdminConfig is the admin API on the status listener (README "Admin
// API").
type AdminConfig struct {
	// Enabled serves /admin/ on the status listener.
	Enabled bool `json:"enabled"`
	// User and PasswordHash (a bcrypt hash, as htpasswd -B makes) protect
	// it with HTTP basic authentication. Without a hash the admin API is
	// served only when the status listener is on a loopback address, and
	// only to loopback clients.
	User         string `json:"user"`
	PasswordHash string `json:"passwordHash"`
	// Pprof also serves Go's profiler under /debug/pprof/, behind the same
	// protection.
	Pprof bool `json:"pprof"`
}

func (a AdminConfig) validate(status string) error {
	if !a.Enabled {
		if a.Pprof {
			return errors.New("pprof: needs admin.enabled")
		}
		return nil
	}
	if status == "off" {
		return errors.New("enabled: the admin API is served on the status listener, which is off")
	}
	if a.PasswordHash != "" {
		if _, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil {
			return fmt.Errorf("passwordHash: not a bcrypt hash: %v", err)
		}
		return nil
	}
	ap, err := netip.ParseAddrPort(status)
	if err == nil && !ap.Addr().IsLoopback() {
		return fmt.Errorf("passwordHash: required when the status listener (%s) is not on a loopback address", status)
	}
	return nil
}

// admin serves the admin API.
type admin struct {
	d    *Daemon
	cfg  AdminConfig
	gate chan struct{} // bounds concurrent bcrypt checks
}

// maxAdminBody bounds what an admin request may send.
const maxAdminBody = 4 << 10

// adminRoutes adds the admin API and the dashboard to mux and returns
// what answers "/".
func (d *Daemon) adminRoutes(mux *http.ServeMux, cfg AdminConfig) http.Handler {
	a := &admin{d: d, cfg: cfg, gate: make(chan struct{}, 2)}
	mux.Handle("GET /admin/sessions", a.auth(a.sessions))
	mux.Handle("DELETE /admin/sessions/{id}", a.auth(a.closeSession))
	mux.Handle("GET /admin/streams", a.auth(a.streams))
	mux.Handle("DELETE /admin/streams/{key...}", a.auth(a.stopPublisher))
	mux.Handle("GET /admin/groups", a.auth(a.groups))
	mux.Handle("GET /admin/groups/{id}", a.auth(a.members))
	mux.Handle("POST /admin/reload", a.auth(a.reload))
	if cfg.Pprof {
		mux.Handle("/debug/pprof/", a.auth(pprof.Index))
		mux.Handle("/debug/pprof/cmdline", a.auth(pprof.Cmdline))
		mux.Handle("/debug/pprof/profile", a.auth(pprof.Profile))
		mux.Handle("/debug/pprof/symbol", a.auth(pprof.Symbol))
		mux.Handle("/debug/pprof/trace", a.auth(pprof.Trace))
	}
	return a.dashboardRoutes(mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func adminError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// auth lets a request through when it carries the password, or, without
// one configured, when it comes from loopback.
func (a *admin) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
		if a.cfg.PasswordHash == "" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
				adminError(w, http.StatusForbidden, "the admin API answers loopback clients only (no admin.passwordHash)")
				return
			}
			h(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		want := a.cfg.User
		if want == "" {
			want = "admin"
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="rtmfpd admin"`)
			adminError(w, http.StatusUnauthorized, "credentials required (HTTP basic authentication)")
			return
		}
		a.gate <- struct{}{}
		err := bcrypt.CompareHashAndPassword([]byte(a.cfg.PasswordHash), []byte(pass))
		<-a.gate
		if err != nil || user != want {
			a.d.log.Warn("admin: refused", "remote", r.RemoteAddr, "reason", "wrong user or password")
			w.Header().Set("WWW-Authenticate", `Basic realm="rtmfpd admin"`)
			adminError(w, http.StatusUnauthorized, "wrong user or password")
			return
		}
		h(w, r)
	})
}

// SessionInfo describes a client connection in the admin API.
type SessionInfo struct {
	Session     string    `json:"session"`
	Proto       string    `json:"proto"`
	Remote      string    `json:"remote"`
	App         string    `json:"app"`
	Instance    string    `json:"instance"`
	ConnectedAt time.Time `json:"connectedAt,omitzero"`
}

// Sessions lists the client connections (RTMFP and RTMP).
func (d *Daemon) Sessions() []SessionInfo {
	var out []SessionInfo
	for _, c := range d.ns.Conns() {
		info := c.Info()
		t := c.Transport()
		out = append(out, SessionInfo{Session: c.ID, Proto: t.Protocol(), Remote: t.RemoteAddr(),
			App: info.App, Instance: info.Instance, ConnectedAt: c.ConnectedAt()})
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.Session, b.Session) })
	return out
}

// CloseSession closes the connections of session id (a peer ID or
// rtmp-N) and reports how many there were.
func (d *Daemon) CloseSession(id, reason string) int {
	n := 0
	for _, c := range d.ns.Conns() {
		if c.ID == id {
			c.Transport().Close(errors.New(reason))
			n++
		}
	}
	return n
}

func (a *admin) sessions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.d.Sessions())
}

func (a *admin) closeSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if n := a.d.CloseSession(id, "closed by the administrator"); n == 0 {
		adminError(w, http.StatusNotFound, "no session "+id)
		return
	}
	a.d.log.Info("admin: session closed", "session", id, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"closed": id})
}

func (a *admin) streams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.d.streamStatus())
}

// StopPublisher closes the connection publishing stream app/inst/name, as
// nginx-rtmp's control API drops a publisher; false when nobody publishes
// it from a client connection.
func (d *Daemon) StopPublisher(app, inst, name, reason string) bool {
	s, ok := d.ns.Registry.Lookup(app, inst, name)
	if !ok {
		return false
	}
	p := s.Publisher()
	if p == nil {
		return false
	}
	c, ok := netstream.ConnOf(p)
	if !ok {
		return false
	}
	c.Transport().Close(errors.New(reason))
	return true
}

func (a *admin) stopPublisher(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		adminError(w, http.StatusBadRequest, "want /admin/streams/app/instance/name")
		return
	}
	if !a.d.StopPublisher(parts[0], parts[1], parts[2], "publisher stopped by the administrator") {
		adminError(w, http.StatusNotFound, "no client publishes "+key)
		return
	}
	a.d.log.Info("admin: publisher stopped", "app", parts[0], "instance", parts[1], "stream", parts[2], "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"stopped": key})
}

// GroupInfo describes a group the server keeps members of.
type GroupInfo struct {
	Group   string   `json:"group"`
	Members int      `json:"members"`
	PeerIDs []string `json:"peerIDs,omitempty"`
}

func (a *admin) groups(w http.ResponseWriter, r *http.Request) {
	var out []GroupInfo
	for _, g := range a.d.intro.Groups() {
		out = append(out, GroupInfo{Group: g.ID.String(), Members: g.Members})
	}
	slices.SortFunc(out, func(a, b GroupInfo) int { return strings.Compare(a.Group, b.Group) })
	writeJSON(w, http.StatusOK, out)
}

func (a *admin) members(w http.ResponseWriter, r *http.Request) {
	id, err := group.ParseGroupID(r.PathValue("id"))
	if err != nil {
		adminError(w, http.StatusBadRequest, "group: "+err.Error())
		return
	}
	ids := a.d.intro.GroupMembers(id)
	if ids == nil {
		adminError(w, http.StatusNotFound, "no group "+r.PathValue("id"))
		return
	}
	gi := GroupInfo{Group: id.String(), Members: len(ids)}
	for _, p := range ids {
		gi.PeerIDs = append(gi.PeerIDs, p.String())
	}
	slices.Sort(gi.PeerIDs)
	writeJSON(w, http.StatusOK, gi)
}

func (a *admin) reload(w http.ResponseWriter, r *http.Request) {
	if err := a.d.ReloadFromSource(); err != nil {
		adminError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	a.d.log.Info("admin: configuration reloaded", "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"reloaded": "ok"})
}
