package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/amsmulticast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// multicastRoutes serves the multicast service's publications and
// manifests on the status listener:
//
//	GET /multicast/              the running publications (JSON)
//	GET /multicast/NAME.f4m      the manifest of stream NAME (?instance=…, default _definst_)
//
// as the configurator's manifest.f4m for the event, which OSMF-based
// players (Strobe Media Playback, the AMS multicast player) load. The
// manifests are picked by their suffix before next (the status listener's
// routes), which keeps the other paths under /multicast/ (HTTP-FLV of the
// application's streams).
func (d *Daemon) multicastRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /multicast/{$}", d.serveMulticast)
}

// multicastManifests answers GET /multicast/NAME.f4m, and passes anything
// else to next.
func (d *Daemon) multicastManifests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			strings.HasPrefix(r.URL.Path, "/multicast/") && strings.HasSuffix(r.URL.Path, ".f4m") {
			d.serveMulticast(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// MulticastPublication describes a running multicast service publication.
type MulticastPublication struct {
	App      string `json:"app"`
	Instance string `json:"instance"`
	Stream   string `json:"stream"`
	Type     int    `json:"type"` // 1 fusion, 2 IP multicast, 3 peer to peer
	// Groupspec is what players join: the encoder's without its
	// authorizations.
	Groupspec   string `json:"groupspec"`
	GroupID     string `json:"groupID"`
	IPMulticast string `json:"ipMulticast,omitempty"`
	// Manifest is the path of its manifest on the status listener.
	Manifest       string  `json:"manifest"`
	PublishingTime float64 `json:"publishingTime"`
}

func (d *Daemon) serveMulticast(w http.ResponseWriter, r *http.Request) {
	cfg := d.mcs.cfg.Load()
	if !cfg.Enabled {
		http.Error(w, "the multicast service is not enabled (multicastService.enabled)", http.StatusNotFound)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/multicast/")
	if path == "" {
		d.serveMulticastList(w)
		return
	}
	name, ok := strings.CutSuffix(path, ".f4m")
	if !ok || name == "" {
		http.Error(w, "not found: the manifests are /multicast/NAME.f4m", http.StatusNotFound)
		return
	}
	inst := r.URL.Query().Get("instance")
	if inst == "" {
		inst = netstream.DefaultInstance
	}
	p, ok := d.mcs.publication(cfg.app(), inst, name)
	if !ok {
		http.Error(w, "no multicast publication of "+strconv.Quote(name)+" in "+cfg.app()+"/"+inst, http.StatusNotFound)
		return
	}
	b, err := amsmulticast.Manifest{ID: name, URL: d.manifestURL(cfg, r), Groupspec: p.req.Spec.WithoutAuthorizations(), StreamName: name}.Marshal()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/f4m+xml")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

func (d *Daemon) serveMulticastList(w http.ResponseWriter) {
	list := []MulticastPublication{}
	for _, p := range d.mcs.publications() {
		m := MulticastPublication{App: p.app, Instance: p.inst, Stream: p.name, Type: int(p.req.Type),
			Groupspec: p.req.Spec.WithoutAuthorizations(), GroupID: p.req.Spec.GroupID().String(), IPMulticast: p.req.Address,
			Manifest:       "/multicast/" + url.PathEscape(p.name) + ".f4m",
			PublishingTime: seconds(time.Since(p.since))}
		if p.inst != netstream.DefaultInstance {
			m.Manifest += "?instance=" + url.QueryEscape(p.inst)
		}
		list = append(list, m)
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// manifestURL is the RTMFP URL a manifest gives players: the configured
// one, or rtmfp:// with the host the manifest was asked of, the RTMFP port
// (left out when 1935) and the application.
func (d *Daemon) manifestURL(cfg *MulticastServiceConfig, r *http.Request) string {
	if cfg.URL != "" {
		return cfg.URL
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" { // an HTTP/1.0 request: the listener's own address
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host, _, _ = net.SplitHostPort(a.String())
		}
	}
	port := 1935
	if len(d.endpoints) > 0 {
		if ua, ok := d.endpoints[0].LocalAddr().(*net.UDPAddr); ok {
			port = ua.Port
		}
	}
	if port != 1935 {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "rtmfp://" + host + "/" + cfg.app()
}
