package server

import (
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmpnc"
	"github.com/rtmfpd/rtmfpd/relay"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/server/metrics"
)

// statusServer serves the counters over HTTP.
type statusServer struct {
	addr string
	srv  *http.Server
}

// Status is the document served at GET /status.
type Status struct {
	PeerID     string                `json:"peerID"`
	Uptime     string                `json:"uptime"`
	Endpoints  []EndpointStatus      `json:"rtmfp"`
	RTMP       RTMPStatus            `json:"rtmp"`
	NetStream  netstream.ServerStats `json:"netstream"`
	Streams    []StreamStatus        `json:"streams"`
	Introducer introducer.Stats      `json:"introducer"`
	Relay      []relay.TargetStatus  `json:"relay"`
	Groups     []GroupStatus         `json:"groups"`
	Memory     MemoryStatus          `json:"memory"`
	Recordings []RecordingStatus     `json:"recordings"`
	// Cluster is this node's view of its cluster (absent without one).
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// EndpointStatus is one RTMFP endpoint's counters.
type EndpointStatus struct {
	Address string      `json:"address"`
	Stats   rtmfp.Stats `json:"stats"`
}

// RTMPStatus describes the RTMP listeners and their connections.
type RTMPStatus struct {
	Addresses []string `json:"addresses"`
	rtmpnc.Stats
}

// StreamStatus describes one live stream.
type StreamStatus struct {
	Key         string `json:"key"`
	Publisher   string `json:"publisher,omitempty"`
	Subscribers int    `json:"subscribers"`
	Messages    uint64 `json:"messages"`
	Bytes       uint64 `json:"bytes"`
	// PublishingTime is how long the current publisher has published, in
	// seconds.
	PublishingTime float64 `json:"publishingTime"`
}

func (d *Daemon) streamStatus() []StreamStatus {
	out := []StreamStatus{}
	for _, s := range d.ns.Registry.Streams() {
		ss := StreamStatus{Key: s.Key(), Subscribers: s.Subscribers()}
		if p := s.Publisher(); p != nil {
			ss.Publisher = p.PublisherName()
		}
		if t := s.PublishedSince(); !t.IsZero() {
			ss.PublishingTime = seconds(time.Since(t))
		}
		c := s.Stats()
		ss.Messages, ss.Bytes = c.Messages, c.Bytes
		out = append(out, ss)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Snapshot gathers the status document.
func (d *Daemon) Snapshot() Status {
	st := Status{PeerID: d.PeerID(), Uptime: time.Since(d.started).Round(time.Second).String(),
		NetStream: d.ns.Stats(), Introducer: d.intro.Stats()}
	for _, ep := range d.endpoints {
		st.Endpoints = append(st.Endpoints, EndpointStatus{Address: ep.LocalAddr().String(), Stats: ep.Stats()})
	}
	st.RTMP.Addresses = d.rtmpAddrs
	st.Relay = d.relay.Status()
	st.Groups = d.groupStatus()
	st.Memory = d.memoryStatus()
	st.Recordings = d.recordingStatus()
	if d.rtmp != nil {
		st.RTMP.Stats = d.rtmp.Stats()
	}
	st.Streams = d.streamStatus()
	st.Cluster = d.clusterStatus()
	return st
}

func (d *Daemon) startStatus(addr string) (*statusServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		b, err := camelJSON(d.Snapshot())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	d.multicastRoutes(mux)
	mux.Handle("GET /metrics", metrics.Handler(d.samples))
	var other http.Handler
	if d.cfg.Admin.Enabled {
		other = d.adminRoutes(mux, d.cfg.Admin)
	}
	d.mediaRoutes(mux, other)
	s := &statusServer{addr: ln.Addr().String(), srv: &http.Server{Handler: d.multicastManifests(mux), ReadHeaderTimeout: 5 * time.Second}}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *statusServer) close() { s.srv.Close() }

// StatusAddr returns the status endpoint's address, or "".
func (d *Daemon) StatusAddr() string {
	if d.status == nil {
		return ""
	}
	return d.status.addr
}
