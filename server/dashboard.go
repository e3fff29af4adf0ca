package server

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/netstream/httpflv"
	"github.com/rtmfpd/rtmfpd/netstream/rtmpnc"
	"github.com/rtmfpd/rtmfpd/relay"
)

// The dashboard's page, script and style sheet: served from the binary,
// nothing fetched from elsewhere.
//
//go:embed dashboard
var dashboardFiles embed.FS

// DashboardFrame is one update of the dashboard (GET /admin/dashboard, and
// each event of GET /admin/events): totals over everything, and pages of
// the long lists, so that its size does not grow with the sessions.
type DashboardFrame struct {
	Time     time.Time            `json:"time"`
	PeerID   string               `json:"peerID"`
	Uptime   float64              `json:"uptime"` // seconds
	Totals   DashboardTotals      `json:"totals"`
	Sessions SessionPage          `json:"sessions"`
	Streams  StreamPage           `json:"streams"`
	Groups   DashboardGroups      `json:"groups"`
	Relay    []relay.TargetStatus `json:"relay"`
	// Refusals are the last ones logged, newest first; RefusalsTotal
	// counts them all.
	Refusals      []Refusal `json:"refusals"`
	RefusalsTotal uint64    `json:"refusalsTotal"`
	// Cluster is the node's view of its cluster, as in GET /status, with
	// at most a page of pulls (absent on a single node).
	Cluster *ClusterStatus `json:"cluster,omitempty"`
}

// DashboardTotals sums up the server.
type DashboardTotals struct {
	Sessions int `json:"sessions"`
	// ByProto counts the sessions by protocol (rtmfp, rtmp, http-flv,
	// ws-flv); ByApp the ten applications with most, then "…" for the
	// others.
	ByProto    map[string]int `json:"byProto"`
	ByApp      []NameCount    `json:"byApp"`
	Publishers int            `json:"publishers"`
	Players    int            `json:"players"`
	Streams    int            `json:"streams"`
	// BytesIn and BytesOut count the bytes of every client session ever
	// (RTMFP, RTMP, HTTP-FLV).
	BytesIn  uint64        `json:"bytesIn"`
	BytesOut uint64        `json:"bytesOut"`
	RTMP     rtmpnc.Stats  `json:"rtmp"`
	FLV      httpflv.Stats `json:"flv"`
	Groups   int           `json:"groups"`
	Members  int           `json:"members"`
}

// NameCount is a name and a count.
type NameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// SessionRow is a client connection.
type SessionRow struct {
	Session    string  `json:"session"`
	Proto      string  `json:"proto"`
	Remote     string  `json:"remote"`
	App        string  `json:"app"`
	Instance   string  `json:"instance"`
	Age        float64 `json:"age"` // seconds since connect
	BytesIn    uint64  `json:"bytesIn"`
	BytesOut   uint64  `json:"bytesOut"`
	Publishing int     `json:"publishing"`
	Playing    int     `json:"playing"`
}

// SessionPage is a page of the sessions that match a filter.
type SessionPage struct {
	Matched int          `json:"matched"`
	Offset  int          `json:"offset"`
	Limit   int          `json:"limit"`
	Filter  string       `json:"filter"`
	Sort    string       `json:"sort"`
	Items   []SessionRow `json:"items"`
}

// StreamRow is a live stream.
type StreamRow struct {
	Key            string  `json:"key"`
	Publisher      string  `json:"publisher"`
	PublishingTime float64 `json:"publishingTime"`
	Bitrate        float64 `json:"bitrate"` // bits per second, over the last second or so
	Players        int     `json:"players"`
	Bytes          uint64  `json:"bytes"`
	// Recording is the file being recorded, or "".
	Recording string `json:"recording"`
}

// StreamPage is a page of the streams, by key.
type StreamPage struct {
	Total  int         `json:"total"`
	Offset int         `json:"offset"`
	Limit  int         `json:"limit"`
	Items  []StreamRow `json:"items"`
}

// DashboardGroups holds the server's own group memberships and the groups
// it keeps members of.
type DashboardGroups struct {
	Server []ServerGroupRow `json:"server"`
	// Membership lists the twenty groups with most members.
	Membership []NameCount `json:"membership"`
}

// ServerGroupRow is one group the server is a member of.
type ServerGroupRow struct {
	GroupID string `json:"groupID"`
	Spec    string `json:"spec"`
	// Neighbors are the peer IDs of the server's neighbours in the group
	// (at most 32).
	Neighbors []string            `json:"neighbors"`
	Member    netgroup.Stats      `json:"member"`
	Streams   []GroupStreamStatus `json:"streams"`
}

// dashboardQuery is what a dashboard asks for: a page of sessions (by
// filter and order) and of streams.
type dashboardQuery struct {
	offset, limit   int
	filter, sort    string
	sOffset, sLimit int
}

const (
	defaultPage = 50
	maxPage     = 500
)

func parseDashboardQuery(r *http.Request) dashboardQuery {
	q := r.URL.Query()
	num := func(k string, def, hi int) int {
		n, err := strconv.Atoi(q.Get(k))
		if err != nil || n < 0 {
			return def
		}
		return min(n, hi)
	}
	dq := dashboardQuery{offset: num("offset", 0, 1<<30), limit: num("limit", defaultPage, maxPage),
		filter: clipText(q.Get("filter")), sort: q.Get("sort"),
		sOffset: num("streamOffset", 0, 1<<30), sLimit: num("streamLimit", defaultPage, maxPage)}
	switch dq.sort {
	case "session", "age", "bytes", "remote":
	default:
		dq.sort = "session"
	}
	return dq
}

// byteCounter is implemented by the transports that count their bytes.
type byteCounter interface {
	Bytes() (in, out uint64)
}

// dashboardFrame gathers one update.
func (d *Daemon) dashboardFrame(q dashboardQuery) DashboardFrame {
	now := time.Now()
	f := DashboardFrame{Time: now, PeerID: d.PeerID(), Uptime: seconds(now.Sub(d.started)), Relay: d.relay.Status()}
	f.Refusals, f.RefusalsTotal = d.refusals.recent()
	if f.Relay == nil {
		f.Relay = []relay.TargetStatus{}
	}
	t := &f.Totals
	t.ByProto = map[string]int{}
	apps := map[string]int{}
	var rows []SessionRow
	filter := strings.ToLower(q.filter)
	for _, c := range d.ns.Conns() {
		info := c.Info()
		tr := c.Transport()
		row := SessionRow{Session: c.ID, Proto: tr.Protocol(), Remote: tr.RemoteAddr(), App: info.App, Instance: info.Instance}
		if at := c.ConnectedAt(); !at.IsZero() {
			row.Age = seconds(now.Sub(at))
		}
		if bc, ok := tr.(byteCounter); ok {
			row.BytesIn, row.BytesOut = bc.Bytes()
		}
		row.Publishing, row.Playing = c.StreamCounts()
		t.Sessions++
		t.ByProto[row.Proto]++
		apps[row.App]++
		t.Publishers += row.Publishing
		t.Players += row.Playing
		if filter == "" || strings.Contains(strings.ToLower(row.Session+" "+row.Proto+" "+row.Remote+" "+row.App+"/"+row.Instance), filter) {
			rows = append(rows, row)
		}
	}
	t.ByApp = topCounts(apps, 10)
	sortSessions(rows, q.sort)
	f.Sessions = SessionPage{Matched: len(rows), Offset: q.offset, Limit: q.limit, Filter: q.filter, Sort: q.sort,
		Items: page(rows, q.offset, q.limit)}

	in, out := d.sessions.bytes()
	t.BytesIn, t.BytesOut = in, out
	if d.rtmp != nil {
		t.RTMP = d.rtmp.Stats()
		t.BytesIn += t.RTMP.BytesIn
		t.BytesOut += t.RTMP.BytesOut
	}
	if d.flv != nil {
		t.FLV = d.flv.Stats()
		t.BytesOut += t.FLV.BytesOut
	}
	f.Streams = d.streamPage(now, q)
	t.Streams = f.Streams.Total
	f.Groups = d.dashboardGroups()
	is := d.intro.Stats()
	t.Groups, t.Members = is.Groups, is.Members
	if f.Cluster = d.clusterStatus(); f.Cluster != nil {
		f.Cluster.Pulls = page(f.Cluster.Pulls, 0, defaultPage)
	}
	return f
}

func sortSessions(rows []SessionRow, by string) {
	slices.SortFunc(rows, func(a, b SessionRow) int {
		switch by {
		case "age":
			if c := cmp.Compare(b.Age, a.Age); c != 0 {
				return c
			}
		case "bytes":
			if c := cmp.Compare(b.BytesIn+b.BytesOut, a.BytesIn+a.BytesOut); c != 0 {
				return c
			}
		case "remote":
			if c := strings.Compare(a.Remote, b.Remote); c != 0 {
				return c
			}
		}
		return strings.Compare(a.Session, b.Session)
	})
}

// page returns rows[offset:offset+limit], never nil.
func page[T any](rows []T, offset, limit int) []T {
	if offset >= len(rows) {
		return []T{}
	}
	return slices.Clone(rows[offset:min(len(rows), offset+limit)])
}

// topCounts returns the n largest counts, then the others summed as "…".
func topCounts(m map[string]int, n int) []NameCount {
	out := make([]NameCount, 0, len(m))
	for k, v := range m {
		out = append(out, NameCount{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, b NameCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out) > n {
		rest := 0
		for _, x := range out[n:] {
			rest += x.Count
		}
		out = append(out[:n], NameCount{Name: "…", Count: rest})
	}
	return out
}

// streamPage lists a page of the live streams with their bitrates.
func (d *Daemon) streamPage(now time.Time, q dashboardQuery) StreamPage {
	recording := map[string]string{}
	for _, r := range d.recordingStatus() {
		recording[r.Stream] = r.File
	}
	ss := d.streamStatus()
	rates := d.rates.update(now, ss)
	rows := make([]StreamRow, 0, len(ss))
	for _, s := range ss {
		rows = append(rows, StreamRow{Key: s.Key, Publisher: s.Publisher, PublishingTime: s.PublishingTime,
			Bitrate: rates[s.Key], Players: s.Subscribers, Bytes: s.Bytes, Recording: recording[s.Key]})
	}
	return StreamPage{Total: len(rows), Offset: q.sOffset, Limit: q.sLimit, Items: page(rows, q.sOffset, q.sLimit)}
}

func (d *Daemon) dashboardGroups() DashboardGroups {
	g := DashboardGroups{Server: []ServerGroupRow{}}
	for _, sg := range d.groupList() {
		row := ServerGroupRow{GroupID: sg.member.GroupID().String(), Spec: sg.cfg.Spec, Member: sg.member.Stats(),
			Streams: sg.streams.status(), Neighbors: []string{}}
		for _, n := range sg.member.Neighbors() {
			if len(row.Neighbors) == 32 {
				break
			}
			row.Neighbors = append(row.Neighbors, n.ID().String())
		}
		slices.Sort(row.Neighbors)
		g.Server = append(g.Server, row)
	}
	counts := map[string]int{}
	for _, gi := range d.intro.Groups() {
		counts[gi.ID.String()] = gi.Members
	}
	g.Membership = topCounts(counts, 20)
	if len(g.Membership) > 0 && g.Membership[len(g.Membership)-1].Name == "…" {
		g.Membership = g.Membership[:len(g.Membership)-1]
	}
	return g
}

// rateTracker measures the streams' bitrates between dashboard updates,
// whoever asks: a sample at most every half second.
type rateTracker struct {
	mu    sync.Mutex
	at    time.Time
	bytes map[string]uint64
	rates map[string]float64
}

// update samples the streams' byte counts and returns their bitrates.
func (r *rateTracker) update(now time.Time, ss []StreamStatus) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	dt := now.Sub(r.at)
	if r.bytes != nil && dt < 500*time.Millisecond {
		return r.rates
	}
	bytes := make(map[string]uint64, len(ss))
	rates := make(map[string]float64, len(ss))
	for _, s := range ss {
		bytes[s.Key] = s.Bytes
		if prev, ok := r.bytes[s.Key]; ok && s.Bytes >= prev && r.bytes != nil {
			rates[s.Key] = float64(s.Bytes-prev) * 8 / dt.Seconds()
		}
	}
	r.at, r.bytes, r.rates = now, bytes, rates
	return rates
}

// dashboardRoutes serves the dashboard behind the admin API's protection
// and returns what answers "/" (a redirect to it).
func (a *admin) dashboardRoutes(mux *http.ServeMux) http.Handler {
	files, _ := fs.Sub(dashboardFiles, "dashboard")
	static := http.StripPrefix("/dashboard/", http.FileServerFS(files))
	mux.Handle("GET /dashboard/", a.auth(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		static.ServeHTTP(w, r)
	}))
	mux.Handle("GET /admin/dashboard", a.auth(func(w http.ResponseWriter, r *http.Request) {
		b, err := camelJSON(a.d.dashboardFrame(parseDashboardQuery(r)))
		if err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	mux.Handle("GET /admin/events", a.auth(a.events))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/dashboard/", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
}

// Bounds of the event stream's period.
const (
	minEventPeriod     = 250 * time.Millisecond
	defaultEventPeriod = time.Second
	eventWriteTimeout  = 10 * time.Second
)

// events sends a dashboard frame at once, then one per period, as
// server-sent events, until the dashboard goes or the server stops. A
// dashboard that does not read is dropped after eventWriteTimeout.
func (a *admin) events(w http.ResponseWriter, r *http.Request) {
	q := parseDashboardQuery(r)
	period := defaultEventPeriod
	if ms, err := strconv.Atoi(r.URL.Query().Get("period")); err == nil {
		period = min(max(time.Duration(ms)*time.Millisecond, minEventPeriod), time.Minute)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var buf bytes.Buffer
	for {
		b, err := camelJSON(a.d.dashboardFrame(q))
		if err != nil {
			return
		}
		buf.Reset()
		buf.WriteString("data: ")
		json.Compact(&buf, b) // one line: an event's data
		buf.WriteString("\n\n")
		rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-a.d.ctx.Done():
			return
		}
	}
}
