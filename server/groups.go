package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// GroupConfig makes the server a member of a NetGroup and says which
// server streams it publishes into the group (FMS 4's server-side group
// NetStreams).
type GroupConfig struct {
	// Spec is the groupspec, "G:…" (required).
	Spec string `json:"spec"`
	// Publish lists the rules that republish server streams into the
	// group as P2P multicast streams.
	Publish []GroupPublishRule `json:"publish"`
	// Files lists FLV files the server publishes into the group.
	Files []GroupFile `json:"files"`
	// Play lists group streams the server plays into server streams.
	Play []GroupPlayRule `json:"play"`
	// Neighbors is how many members the server keeps as neighbours beyond
	// its best list (netgroup.Config.KeepNeighbors), default 64; 0 is
	// librtmfp's best list alone. Members that are the server's
	// neighbours get its publications from their first fragment.
	Neighbors *int `json:"neighbors"`
	// Messages, set from Go, receives the posts and routed messages that
	// reach the server's member and lets GroupMember(spec).Post,
	// SendToNearest and SendToAllNeighbors send them (rtmfpd members
	// only: see netgroup's messaging).
	Messages netgroup.MessageHandler `json:"-"`
}

// DefaultGroupNeighbors is GroupConfig.Neighbors' default.
const DefaultGroupNeighbors = 64

func (g *GroupConfig) keepNeighbors() int {
	if g.Neighbors == nil {
		return DefaultGroupNeighbors
	}
	return max(*g.Neighbors, 0)
}

// GroupPublishRule republishes matching server streams into the group.
type GroupPublishRule struct {
	// App and Stream are patterns (path.Match: *, ?, [...]) on the
	// application and the stream name; empty matches everything.
	App    string `json:"app"`
	Stream string `json:"stream"`
	// Name is the group stream name; {name}, {app} and {instance} are
	// replaced. Default "{name}".
	Name string `json:"name"`
	// Multicast holds Flash's multicast properties (absent: Flash's
	// defaults; out-of-range values are coerced).
	Multicast MulticastConfig `json:"multicast"`
	// IPMulticast also sends the stream to native IP multicast.
	IPMulticast *IPMulticastConfig `json:"ipMulticast"`
}

// MulticastConfig holds NetStream's multicast properties by their Flash
// names. An absent (or null) property takes Flash's default; any value,
// 0 included, is used as given after Flash's coercion: periods and
// durations are numbers of seconds or duration strings ("8s") in
// [0, 4294967.295] seconds, the push limit a number in [0, 4294967295];
// negative values become 0 and larger ones the maximum, without error.
type MulticastConfig struct {
	WindowDuration           *PropertySeconds `json:"multicastWindowDuration"`
	RelayMarginDuration      *PropertySeconds `json:"multicastRelayMarginDuration"`
	FetchPeriod              *PropertySeconds `json:"multicastFetchPeriod"`
	AvailabilityUpdatePeriod *PropertySeconds `json:"multicastAvailabilityUpdatePeriod"`
	AvailabilitySendToAll    bool             `json:"multicastAvailabilitySendToAll"`
	PushNeighborLimit        *PropertyCount   `json:"multicastPushNeighborLimit"`
}

func (m MulticastConfig) config() multicast.Config {
	c := multicast.DefaultConfig()
	set := func(dst *time.Duration, v *PropertySeconds) {
		if v != nil {
			*dst = time.Duration(*v)
		}
	}
	set(&c.Window, m.WindowDuration)
	set(&c.RelayMargin, m.RelayMarginDuration)
	set(&c.FetchPeriod, m.FetchPeriod)
	set(&c.UpdatePeriod, m.AvailabilityUpdatePeriod)
	c.SendToAll = m.AvailabilitySendToAll
	if m.PushNeighborLimit != nil {
		c.PushNeighborLimit = int(*m.PushNeighborLimit)
	}
	return c.Clamp()
}

// PropertySeconds is a multicast period or duration: a number of seconds,
// as Flash's NetStream properties take them, or a duration string ("2.5s",
// "100ms"). Values are coerced into [0, multicast.MaxPeriod] as Flash
// coerces property assignments: negative → 0, larger → the maximum.
type PropertySeconds time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (p *PropertySeconds) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		d, err := parseSaturating(s)
		if err != nil {
			return err
		}
		*p = PropertySeconds(multicast.ClampSeconds(d))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("a multicast period is a number of seconds or a duration string such as \"2.5s\"")
	}
	*p = PropertySeconds(multicast.ClampSeconds(f))
	return nil
}

// MarshalJSON writes the period as a duration string.
func (p PropertySeconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(p).String())
}

// parseSaturating parses a Go duration string into seconds; a well-formed
// duration too large for time.Duration gives +Inf (or -Inf), which the
// coercion turns into the maximum (or 0).
func parseSaturating(s string) (float64, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d.Seconds(), nil
	}
	t := strings.TrimLeft(s, "+-")
	if t != "" && strings.Trim(t, "0123456789.nsuµmh") == "" && t[0] >= '0' && t[0] <= '9' {
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	}
	return 0, fmt.Errorf("multicast period %q: want a number of seconds or a duration such as \"2.5s\"", s)
}

// PropertyCount is multicastPushNeighborLimit: a number, truncated and
// coerced into [0, 4294967295] like Flash's property.
type PropertyCount int

// UnmarshalJSON implements json.Unmarshaler.
func (p *PropertyCount) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return errors.New("multicastPushNeighborLimit is a number")
	}
	*p = PropertyCount(multicast.ClampCount(f))
	return nil
}

// IPMulticastConfig is where a group stream goes on native IP multicast.
type IPMulticastConfig struct {
	// Address is "224.0.0.254:30000", "[ff03::ffff]:30000", or an
	// address with Port apart.
	Address string `json:"address"`
	Port    string `json:"port"`
	// Interface names the outgoing interface; TTL is the TTL or hop limit
	// (default 1: the local network).
	Interface string `json:"interface"`
	TTL       int    `json:"ttl"`
}

func (g *GroupConfig) validate() error {
	if _, err := group.ParseSpec(g.Spec); err != nil {
		return fmt.Errorf("spec %q: %w", g.Spec, err)
	}
	for i, r := range g.Publish {
		for _, p := range []string{r.App, r.Stream} {
			if err := netstream.CheckPattern(p); err != nil {
				return fmt.Errorf("publish[%d]: %w", i, err)
			}
		}
		if err := r.IPMulticast.validate(); err != nil {
			return fmt.Errorf("publish[%d].%w", i, err)
		}
	}
	for i, f := range g.Files {
		if err := f.validate(); err != nil {
			return fmt.Errorf("files[%d].%w", i, err)
		}
	}
	if g.Neighbors != nil && *g.Neighbors > 4096 {
		return fmt.Errorf("group %q: neighbors %d: at most 4096", g.Spec, *g.Neighbors)
	}
	seen := map[string]bool{}
	for _, r := range g.Play {
		if err := r.validate(); err != nil {
			return fmt.Errorf("group %q: %w", g.Spec, err)
		}
		if seen[r.Name] {
			return fmt.Errorf("group %q: group stream %q played twice", g.Spec, r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

func (ip *IPMulticastConfig) validate() error {
	if ip == nil {
		return nil
	}
	if _, err := ipmulticast.ParsePublishAddress(ip.Address, ip.Port); err != nil {
		return fmt.Errorf("ipMulticast: %w", err)
	}
	if ip.TTL > 255 {
		return fmt.Errorf("ipMulticast.ttl: %d: want 1 to 255 (0: the default, 1)", ip.TTL)
	}
	return nil
}

// options are the publish options of ip (none when ip is nil).
func (ip *IPMulticastConfig) options() []groupstream.PublishOption {
	if ip == nil {
		return nil
	}
	return []groupstream.PublishOption{groupstream.IPMulticastPublishAddress(ip.Address, ip.Port,
		groupstream.IPMulticastOptions{Interface: ip.Interface, TTL: ip.TTL})}
}

// serverGroup is the server's membership of one group.
type serverGroup struct {
	cfg    GroupConfig
	member *netgroup.Member
	g      *groupstream.Group
	log    *slog.Logger
	stop   context.CancelFunc // ends the file publications
	files  sync.WaitGroup
	// streams are the publications into the group, for the status
	streams groupStreams
	ingests []ingest // group streams played into server streams
}

// startGroups joins the configured groups on the first RTMFP endpoint.
func (d *Daemon) startGroups() error {
	if len(d.cfg.Groups) == 0 {
		return nil
	}
	for _, gc := range d.cfg.Groups {
		sg, err := d.joinGroup(gc)
		if sg != nil {
			d.groupsMu.Lock()
			d.groups = append(d.groups, sg)
			d.groupsMu.Unlock()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// joinGroup joins one group on the first RTMFP endpoint and starts its
// files. On an error after the join, the membership is returned with it
// (to be closed).
func (d *Daemon) joinGroup(gc GroupConfig) (*serverGroup, error) {
	ep, addrs := d.endpoints[0], d.reportAddresses()
	sg := &serverGroup{cfg: gc, log: d.log.With("spec", gc.Spec)}
	sg.streams.log = sg.log
	sg.g = groupstream.New(sg.log)
	keep := gc.keepNeighbors()
	m, err := netgroup.Join(context.Background(), netgroup.Config{Endpoint: ep, Spec: gc.Spec, Logger: sg.log, Addresses: addrs,
		Rendezvous: netgroup.ServerRendezvous{Introducer: d.intro, Endpoint: ep}, Handler: sg.g,
		KeepNeighbors: keep, MaxNeighbors: max(netgroup.DefaultMaxNeighbors, keep+16), Messages: gc.Messages})
	if err != nil {
		sg.g.Close()
		return nil, fmt.Errorf("joining group %s: %w", gc.Spec, err)
	}
	sg.member = m
	sg.log = sg.log.With("group", m.GroupID().String())
	sg.log.Info("member of group")
	var ctx context.Context
	ctx, sg.stop = context.WithCancel(context.Background())
	for _, f := range gc.Files {
		if err := sg.startFile(ctx, f); err != nil {
			return sg, err
		}
	}
	return sg, d.startPlays(sg)
}

// groupList returns the server's group memberships.
func (d *Daemon) groupList() []*serverGroup {
	d.groupsMu.Lock()
	defer d.groupsMu.Unlock()
	return d.groups
}

// close leaves the group: its file publications and ingests end, then the
// group's streams (their ends go out while the neighbours are there), then
// the membership.
func (sg *serverGroup) close() {
	if sg.stop != nil {
		sg.stop()
	}
	sg.files.Wait()
	for _, i := range sg.ingests {
		i.in.Close()
	}
	sg.g.Close()
	sg.member.Close()
}

// reportAddresses are the server's addresses its group reports announce:
// those of the RTMFP endpoints bound to a specific address (members learn
// the others from how they see the server).
func (d *Daemon) reportAddresses() []netip.AddrPort {
	var out []netip.AddrPort
	for _, ep := range d.endpoints {
		ua, ok := ep.LocalAddr().(*net.UDPAddr)
		if !ok {
			continue
		}
		if ap := ua.AddrPort(); ap.IsValid() && !ap.Addr().IsUnspecified() {
			out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	return out
}

// groupHooks republishes streams into the groups: the multicast service's
// (checked after the access rules), else the configured rules'.
func (d *Daemon) groupHooks() netstream.Hooks {
	return netstream.Hooks{
		CheckPublish: d.mcs.checkPublish,
		OnPublish: func(c *netstream.Conn, s *netstream.Stream) error {
			if handled, err := d.mcs.onPublish(c, s); handled || err != nil {
				return err
			}
			for _, sg := range d.groupList() {
				sg.onPublish(s)
			}
			return nil
		},
		OnUnpublish: func(c *netstream.Conn, s *netstream.Stream) {
			d.mcs.onUnpublish(s)
			d.groupUnpublish(s)
		},
		OnDisconnect: d.mcs.forget,
	}
}

// inGroups reports whether the server is a member of any group (P2P
// sessions to it are accepted then).
func (d *Daemon) inGroups() bool { return len(d.groupList()) > 0 || len(d.mcs.ownGroups()) > 0 }

func (sg *serverGroup) onPublish(s *netstream.Stream) {
	for _, r := range sg.cfg.Publish {
		if !netstream.MatchPattern(r.App, s.App) || !netstream.MatchPattern(r.Stream, s.Name) {
			continue
		}
		name := r.Name
		if name == "" {
			name = "{name}"
		}
		name = netstream.ExpandName(name, s.App, s.Inst, s.Name)
		sp, err := sg.g.PublishStream(s, name, r.Multicast.config(), 0, r.IPMulticast.options()...)
		if err != nil {
			sg.log.Warn("group publish refused", "app", netstream.Clip(s.App), "stream", netstream.Clip(s.Name), "name", netstream.Clip(name), "reason", err.Error())
			return
		}
		sg.streams.add(sp.Publication, name, s.Key(), r.Multicast.config(), r.IPMulticast)
		sg.log.Info("publishing into group", "app", netstream.Clip(s.App), "stream", netstream.Clip(s.Name), "name", netstream.Clip(name))
		return // one rule per stream
	}
}

// GroupMember returns the server's member of the group of spec (as
// configured), nil if the server is not in it: post and route messages
// with it.
func (d *Daemon) GroupMember(spec string) *netgroup.Member {
	for _, sg := range append(d.groupList(), d.mcs.ownGroups()...) {
		if sg.cfg.Spec == spec {
			return sg.member
		}
	}
	return nil
}

// GroupStatus describes the server's membership of a group.
type GroupStatus struct {
	Spec    string         `json:"spec"`
	GroupID string         `json:"groupID"`
	Member  netgroup.Stats `json:"member"` // neighbours, heard members, counters
	// Streams are the streams the server publishes into the group.
	Streams []GroupStreamStatus `json:"streams"`
	// Play are the group streams the server plays into server streams.
	Play []IngestStatus `json:"play,omitempty"`
}

func (d *Daemon) groupStatus() []GroupStatus {
	var out []GroupStatus
	for _, sg := range append(d.groupList(), d.mcs.ownGroups()...) {
		out = append(out, GroupStatus{Spec: sg.cfg.Spec, GroupID: sg.member.GroupID().String(), Member: sg.member.Stats(),
			Streams: sg.streams.status(), Play: sg.ingestStatus()})
	}
	return out
}

// closeGroups leaves the groups; calling it again does nothing.
func (d *Daemon) closeGroups() {
	d.groupsOnce.Do(func() {
		d.groupsMu.Lock()
		groups := d.groups
		d.groups, d.groupsClosed = nil, true
		d.groupsMu.Unlock()
		for _, sg := range groups {
			sg.close()
		}
		d.mcs.close()
	})
}
