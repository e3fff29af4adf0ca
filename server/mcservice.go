package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/amsmulticast"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// MulticastServiceConfig is Adobe Media Server's multicast service
// (rootinstall/applications/multicast), drop-in: an encoder publishing to
// the application with the configurator's stream name
// (livestream?fms.multicast.type=3&fms.multicast.groupspec=…) is
// republished into that group (see package amsmulticast for the
// parameters), and GET /multicast/NAME.f4m on the status listener serves
// the configurator's manifest for it.
type MulticastServiceConfig struct {
	// Enabled turns the service on (default off).
	Enabled bool `json:"enabled"`
	// App is the application encoders publish to (default "multicast").
	// Its access rules (apps) decide who may publish: give it
	// "publish": {"token": true} for encoder tokens.
	App string `json:"app"`
	// Groups lists the groups encoders may publish into, as patterns on
	// the group's name (GroupSpecifier's name) or group IDs (64 hex
	// digits); empty: any group.
	Groups []string `json:"groups"`
	// MaxGroups bounds the groups the service joins at once (default 16;
	// the configured groups it publishes into do not count).
	MaxGroups int `json:"maxGroups"`
	// IPMulticast is how fusion and IP multicast events are sent: the
	// outgoing interface when the stream name names none, the TTL
	// (default 1), and loopback for players on the server's own host.
	IPMulticast MulticastSendConfig `json:"ipMulticast"`
	// URL is the RTMFP URL the manifests give players
	// ("rtmfp://media.example.com/multicast"); empty: rtmfp:// and the
	// host the manifest was asked of, the RTMFP port, and App.
	URL string `json:"url"`
}

// MulticastSendConfig is how the multicast service sends to IP multicast.
type MulticastSendConfig struct {
	Interface string `json:"interface"`
	TTL       int    `json:"ttl"`
	Loopback  bool   `json:"loopback"`
}

// DefaultMulticastServiceApp and DefaultMulticastServiceMaxGroups are
// MulticastServiceConfig's defaults.
const (
	DefaultMulticastServiceApp       = "multicast"
	DefaultMulticastServiceMaxGroups = 16
)

func (m *MulticastServiceConfig) app() string {
	if m.App == "" {
		return DefaultMulticastServiceApp
	}
	return m.App
}

func (m *MulticastServiceConfig) maxGroups() int {
	if m.MaxGroups <= 0 {
		return DefaultMulticastServiceMaxGroups
	}
	return m.MaxGroups
}

// validate checks the service's fields; pol is the configuration's
// compiled policy (the application must be served).
func (m *MulticastServiceConfig) validate(pol *policy) error {
	if strings.ContainsAny(m.App, "*?[]/\\") {
		return fmt.Errorf("multicastService.app %q: an application name, not a pattern", m.App)
	}
	for i, g := range m.Groups {
		if err := netstream.CheckPattern(g); err != nil {
			return fmt.Errorf("multicastService.groups[%d]: %w", i, err)
		}
	}
	if m.IPMulticast.TTL > 255 {
		return fmt.Errorf("multicastService.ipMulticast.ttl: %d: want 1 to 255 (0: the default, 1)", m.IPMulticast.TTL)
	}
	if m.URL != "" && !strings.HasPrefix(m.URL, "rtmfp://") {
		return fmt.Errorf("multicastService.url %q: want an rtmfp:// URL", m.URL)
	}
	if m.Enabled && pol != nil && pol.lookup(m.app()) == nil {
		return fmt.Errorf("multicastService.app %q is not one of apps", m.app())
	}
	return nil
}

// allows reports whether the service may publish into the group of sp.
func (m *MulticastServiceConfig) allows(sp *group.Spec) bool {
	if len(m.Groups) == 0 {
		return true
	}
	name, _ := sp.Name()
	id := sp.GroupID().String()
	for _, p := range m.Groups {
		if netstream.MatchPattern(p, name) || strings.EqualFold(p, id) {
			return true
		}
	}
	return false
}

// mcService is the multicast service: it follows encoders from their
// publish check to their unpublish, and the groups it joined for them.
type mcService struct {
	d   *Daemon
	log *slog.Logger
	cfg atomic.Pointer[MulticastServiceConfig]

	mu sync.Mutex
	// pending is a connection's checked multicast publish, waiting for
	// its stream (publish runs check, registry, OnPublish in a row on the
	// connection's goroutine: one at a time per connection).
	pending map[*netstream.Conn]*mcPending
	groups  map[group.GroupID]*mcGroup // joined by the service
	pubs    map[string]*mcPub          // by server stream key
	closed  bool
	onLeave func(*serverGroup) // tests: a group was left
}

type mcPending struct {
	key string
	req *amsmulticast.Request
}

// mcGroup is a group the service joined; it is left once its last
// publication has been over for its window (the members' late pulls).
type mcGroup struct {
	sg        *serverGroup
	pubs      int
	published bool // it had a publication (its leave waits for the linger)
	leave     *time.Timer
}

// streamKey is a server stream's key (netstream.Stream.Key).
func streamKey(app, inst, name string) string { return app + "/" + inst + "/" + name }

// mcPub is a running multicast publication.
type mcPub struct {
	app, inst, name string
	req             *amsmulticast.Request
	cfg             multicast.Config
	sg              *serverGroup
	own             *mcGroup // nil: a configured group
	sp              *groupstream.StreamPublication
	since           time.Time
}

func newMCService(d *Daemon, cfg MulticastServiceConfig) *mcService {
	m := &mcService{d: d, log: d.log, pending: map[*netstream.Conn]*mcPending{},
		groups: map[group.GroupID]*mcGroup{}, pubs: map[string]*mcPub{}}
	m.cfg.Store(&cfg)
	return m
}

// refuse is a publish refusal naming the parameter at fault.
func refuse(code string, err error) error {
	return &netstream.Refusal{Code: code, Description: err.Error()}
}

// checkPublish reads a publish to the service's application: a stream name
// with the service's parameters is checked now, so that a bad one is
// refused before anything starts; others publish as usual.
func (m *mcService) checkPublish(c *netstream.Conn, req *netstream.StreamRequest) error {
	cfg := m.cfg.Load()
	info := c.Info()
	if !cfg.Enabled || info.App != cfg.app() || !amsmulticast.Has(req.Query) {
		m.forget(c)
		return nil
	}
	r, err := amsmulticast.Parse(req.Query)
	if err != nil {
		return refuse(netstream.PublishFailed, err)
	}
	if !cfg.allows(r.Spec) {
		name, _ := r.Spec.Name()
		return refuse(netstream.PublishFailed, &amsmulticast.ParamError{Param: amsmulticast.ParamGroupspec, Value: r.Spec.WithoutAuthorizations(),
			Reason: fmt.Sprintf("unauthorised: group %q is not one of multicastService.groups", name)})
	}
	if r.Interface == "" {
		r.Interface = cfg.IPMulticast.Interface
	}
	if len(r.Ignored) > 0 {
		m.log.Info("multicast parameters ignored", "app", info.App, "stream", req.Name, "params", r.Ignored)
	}
	m.mu.Lock()
	m.pending[c] = &mcPending{key: streamKey(info.App, info.Instance, req.Name), req: r}
	m.mu.Unlock()
	return nil
}

// forget drops a connection's pending publish.
func (m *mcService) forget(c *netstream.Conn) {
	m.mu.Lock()
	delete(m.pending, c)
	m.mu.Unlock()
}

// onPublish republishes a checked stream into its group: handled is false
// for streams that are not the service's. An error refuses the publish,
// and whatever was started for it is undone.
func (m *mcService) onPublish(c *netstream.Conn, s *netstream.Stream) (handled bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pending[c]
	delete(m.pending, c)
	if p == nil || p.key != s.Key() {
		return false, nil
	}
	if m.closed {
		return true, refuse(netstream.PublishFailed, errors.New("the server is shutting down"))
	}
	r, cfg := p.req, m.cfg.Load()
	sg, own, err := m.groupFor(r.Spec, cfg)
	if err != nil {
		return true, err
	}
	mc := r.Properties.Apply(multicast.DefaultConfig())
	var opts []groupstream.PublishOption
	var ip *IPMulticastConfig
	if r.Address != "" {
		ip = &IPMulticastConfig{Address: r.Address, Interface: r.Interface, TTL: cfg.IPMulticast.TTL}
		opts = append(opts, groupstream.IPMulticastPublishAddress(r.Address, "",
			groupstream.IPMulticastOptions{Interface: r.Interface, TTL: cfg.IPMulticast.TTL, Loopback: cfg.IPMulticast.Loopback}))
	}
	sp, err := sg.g.PublishStream(s, s.Name, mc, 0, opts...)
	if err != nil {
		m.release(own, mc)
		var se *groupstream.StatusError
		switch {
		case errors.As(err, &se) && se.Code == groupstream.StatusPublishBadName:
			return true, refuse(netstream.PublishBadName, &amsmulticast.ParamError{Param: amsmulticast.ParamGroupspec,
				Value: r.Spec.WithoutAuthorizations(), Reason: fmt.Sprintf("the group already has a stream %q (another encoder publishes it)", s.Name)})
		case errors.Is(err, ipmulticast.ErrNoInterface):
			return true, refuse(netstream.PublishFailed, &amsmulticast.ParamError{Param: amsmulticast.ParamInterface, Value: r.Interface,
				Reason: "no such interface on the server"})
		case r.Address != "" && !errors.As(err, &se):
			return true, refuse(netstream.PublishFailed, &amsmulticast.ParamError{Param: amsmulticast.ParamAddress, Value: r.Address,
				Reason: strings.TrimPrefix(err.Error(), "groupstream: ")})
		}
		return true, refuse(netstream.PublishFailed, fmt.Errorf("not published into the group: %w", err))
	}
	if own != nil {
		own.pubs++
		own.published = true
	}
	sg.streams.add(sp.Publication, s.Name, s.Key(), mc, ip)
	m.pubs[s.Key()] = &mcPub{app: s.App, inst: s.Inst, name: s.Name, req: r, cfg: mc, sg: sg, own: own, sp: sp, since: time.Now()}
	sg.log.Info("multicast service publication", "app", s.App, "instance", s.Inst, "stream", s.Name,
		"type", r.Type.String(), "ipMulticast", r.Address)
	return true, nil
}

// groupFor returns the membership to publish into: a configured group of
// the same ID, or the service's own (joined now if need be, own != nil).
// Called with m.mu held.
func (m *mcService) groupFor(sp *group.Spec, cfg *MulticastServiceConfig) (sg *serverGroup, own *mcGroup, err error) {
	id := sp.GroupID()
	for _, g := range m.d.groupList() {
		if g.member.GroupID() == id {
			return g, nil, nil
		}
	}
	if g := m.groups[id]; g != nil {
		if g.leave != nil {
			g.leave.Stop()
			g.leave = nil
		}
		return g.sg, g, nil
	}
	if len(m.groups) >= cfg.maxGroups() {
		return nil, nil, refuse(netstream.PublishFailed, &amsmulticast.ParamError{Param: amsmulticast.ParamGroupspec, Value: sp.WithoutAuthorizations(),
			Reason: fmt.Sprintf("the service is in %d groups already (multicastService.maxGroups)", len(m.groups))})
	}
	if len(m.d.endpoints) == 0 {
		return nil, nil, refuse(netstream.PublishFailed, errors.New("the multicast service needs an RTMFP endpoint"))
	}
	// The membership shows (status, logs) the spec without its
	// authorizations: they are the publish password.
	sg, err = m.d.joinGroup(GroupConfig{Spec: sp.WithoutAuthorizations()})
	if err != nil {
		if sg != nil {
			sg.close()
		}
		return nil, nil, refuse(netstream.PublishFailed, fmt.Errorf("%s: %w", amsmulticast.ParamGroupspec, err))
	}
	g := &mcGroup{sg: sg}
	m.groups[id] = g
	return sg, g, nil
}

// onUnpublish ends the publication of a stream whose encoder stopped: the
// group gets what the republication still holds (at most drainTimeout),
// then the stream's end; the group's leave is scheduled after.
func (m *mcService) onUnpublish(s *netstream.Stream) {
	m.mu.Lock()
	p := m.pubs[s.Key()]
	delete(m.pubs, s.Key())
	m.mu.Unlock()
	if p == nil {
		return
	}
	t := time.NewTimer(drainTimeout)
	select {
	case <-p.sp.Closed():
	case <-t.C:
	}
	t.Stop()
	p.sp.Close()
	p.sg.streams.remove(s.Key())
	m.mu.Lock()
	m.release(p.own, p.cfg)
	m.mu.Unlock()
	p.sg.log.Info("multicast service publication ended", "app", p.app, "instance", p.inst, "stream", p.name,
		"duration", time.Since(p.since).Round(time.Millisecond))
}

// drainTimeout bounds the wait for a republication's last messages.
const drainTimeout = 5 * time.Second

// release is a publication's end (or failed start) in g; with m.mu held.
func (m *mcService) release(g *mcGroup, cfg multicast.Config) { g.release(m, cfg) }

// release schedules the group's leave once it has no publication: the
// members' pulls of the last one are answered for its window and relay
// margin, and its end announced, before the server leaves. A group that
// never had a publication is left at once.
func (g *mcGroup) release(m *mcService, cfg multicast.Config) {
	if g == nil {
		return
	}
	if g.pubs > 0 {
		g.pubs--
	}
	if g.pubs > 0 || g.leave != nil {
		return
	}
	if !g.published {
		delete(m.groups, g.sg.member.GroupID())
		go m.left(g.sg)
		return
	}
	g.leave = time.AfterFunc(lingerFor(cfg), func() { m.leave(g) })
}

// lingerFor is how long a group is kept after its last publication:
// window, relay margin, and the end's announcement (two fetch periods and
// a second), at most two minutes.
func lingerFor(c multicast.Config) time.Duration {
	return min(c.Window+c.RelayMargin+2*c.FetchPeriod+time.Second, 2*time.Minute)
}

// leave leaves g if it still has no publication.
func (m *mcService) leave(g *mcGroup) {
	m.mu.Lock()
	if g.pubs > 0 || m.groups[g.sg.member.GroupID()] != g {
		m.mu.Unlock()
		return
	}
	delete(m.groups, g.sg.member.GroupID())
	m.mu.Unlock()
	m.left(g.sg)
}

// left closes a membership the service no longer uses.
func (m *mcService) left(sg *serverGroup) {
	sg.close()
	sg.log.Info("group left by the multicast service")
	m.mu.Lock()
	f := m.onLeave
	m.mu.Unlock()
	if f != nil {
		f(sg)
	}
}

// close leaves the service's groups (shutdown).
func (m *mcService) close() {
	m.mu.Lock()
	m.closed = true
	var gs []*serverGroup
	for id, g := range m.groups {
		if g.leave != nil {
			g.leave.Stop()
		}
		gs = append(gs, g.sg)
		delete(m.groups, id)
	}
	m.mu.Unlock()
	for _, sg := range gs {
		sg.close()
	}
}

// ownGroups returns the memberships the service joined.
func (m *mcService) ownGroups() []*serverGroup {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*serverGroup, 0, len(m.groups))
	for _, g := range m.groups {
		out = append(out, g.sg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cfg.Spec < out[j].cfg.Spec })
	return out
}

// running reports whether p's republication goes on: it ends before the
// encoder stops when a reload leaves the configured group it publishes
// into.
func (p *mcPub) running() bool {
	select {
	case <-p.sp.Closed():
		return false
	default:
		return true
	}
}

// publication returns the running publication of app/inst/name.
func (m *mcService) publication(app, inst, name string) (mcPub, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pubs[streamKey(app, inst, name)]
	if !ok || !p.running() {
		return mcPub{}, false
	}
	return *p, true
}

// publications returns the running publications, by stream key.
func (m *mcService) publications() []mcPub {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]mcPub, 0, len(m.pubs))
	for _, p := range m.pubs {
		if p.running() {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return streamKey(out[i].app, out[i].inst, out[i].name) < streamKey(out[j].app, out[j].inst, out[j].name)
	})
	return out
}
