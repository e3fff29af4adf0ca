package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
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
	// Multicast holds Flash's multicast properties (zero: Flash's
	// defaults; out-of-range values are clamped).
	Multicast MulticastConfig `json:"multicast"`
	// IPMulticast also sends the stream to native IP multicast.
	IPMulticast *IPMulticastConfig `json:"ipMulticast"`
}

// MulticastConfig holds NetStream's multicast properties by their Flash
// names.
type MulticastConfig struct {
	WindowDuration           Duration `json:"multicastWindowDuration"`
	RelayMarginDuration      Duration `json:"multicastRelayMarginDuration"`
	FetchPeriod              Duration `json:"multicastFetchPeriod"`
	AvailabilityUpdatePeriod Duration `json:"multicastAvailabilityUpdatePeriod"`
	AvailabilitySendToAll    bool     `json:"multicastAvailabilitySendToAll"`
	PushNeighborLimit        *int     `json:"multicastPushNeighborLimit"`
}

func (m MulticastConfig) config() multicast.Config {
	c := multicast.DefaultConfig()
	set := func(dst *time.Duration, v Duration) {
		if v != 0 {
			*dst = time.Duration(v)
		}
	}
	set(&c.Window, m.WindowDuration)
	set(&c.RelayMargin, m.RelayMarginDuration)
	set(&c.FetchPeriod, m.FetchPeriod)
	set(&c.UpdatePeriod, m.AvailabilityUpdatePeriod)
	c.SendToAll = m.AvailabilitySendToAll
	if m.PushNeighborLimit != nil {
		c.PushNeighborLimit = *m.PushNeighborLimit
	}
	return c.Clamp()
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

// start sends pub to IP multicast when ip is set.
func (ip *IPMulticastConfig) start(pub *groupstream.Publication) error {
	if ip == nil {
		return nil
	}
	return pub.SetIPMulticastPublishAddress(ip.Address, ip.Port, groupstream.IPMulticastOptions{Interface: ip.Interface, TTL: ip.TTL})
}

// serverGroup is the server's membership of one group.
type serverGroup struct {
	cfg    GroupConfig
	member *netgroup.Member
	g      *groupstream.Group
	log    *slog.Logger
	stop   context.CancelFunc // ends the file publications
	files  sync.WaitGroup
}

// startGroups joins the configured groups on the first RTMFP endpoint.
func (d *Daemon) startGroups() error {
	if len(d.cfg.Groups) == 0 {
		return nil
	}
	ep, addrs := d.endpoints[0], d.reportAddresses()
	for _, gc := range d.cfg.Groups {
		sg := &serverGroup{cfg: gc, log: d.log.With("spec", gc.Spec)}
		sg.g = groupstream.New(sg.log)
		m, err := netgroup.Join(context.Background(), netgroup.Config{Endpoint: ep, Spec: gc.Spec, Logger: sg.log, Addresses: addrs,
			Rendezvous: netgroup.ServerRendezvous{Introducer: d.intro, Endpoint: ep}, Handler: sg.g})
		if err != nil {
			sg.g.Close()
			return fmt.Errorf("joining group %s: %w", gc.Spec, err)
		}
		sg.member = m
		d.groups = append(d.groups, sg)
		sg.log = sg.log.With("group", m.GroupID().String())
		sg.log.Info("member of group")
		var ctx context.Context
		ctx, sg.stop = context.WithCancel(context.Background())
		for _, f := range gc.Files {
			if err := sg.startFile(ctx, f); err != nil {
				return err
			}
		}
	}
	return nil
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

// groupHooks republishes matching streams into the groups.
func (d *Daemon) groupHooks() netstream.Hooks {
	return netstream.Hooks{
		OnPublish: func(c *netstream.Conn, s *netstream.Stream) error {
			for _, sg := range d.groups {
				sg.onPublish(s)
			}
			return nil
		},
	}
}

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
		sp, err := sg.g.PublishStream(s, name, r.Multicast.config(), 0)
		if err != nil {
			sg.log.Warn("group publish refused", "app", netstream.Clip(s.App), "stream", netstream.Clip(s.Name), "name", netstream.Clip(name), "reason", err.Error())
			return
		}
		if err := r.IPMulticast.start(sp.Publication); err != nil {
			sg.log.Warn("IP multicast not started", "app", netstream.Clip(s.App), "stream", netstream.Clip(s.Name), "err", err)
		}
		sg.log.Info("publishing into group", "app", netstream.Clip(s.App), "stream", netstream.Clip(s.Name), "name", netstream.Clip(name))
		return // one rule per stream
	}
}

// GroupStatus describes the server's membership of a group.
type GroupStatus struct {
	Spec    string         `json:"spec"`
	GroupID string         `json:"groupID"`
	Member  netgroup.Stats `json:"member"` // neighbours, heard members, counters
}

func (d *Daemon) groupStatus() []GroupStatus {
	var out []GroupStatus
	for _, sg := range d.groups {
		out = append(out, GroupStatus{Spec: sg.cfg.Spec, GroupID: sg.member.GroupID().String(), Member: sg.member.Stats()})
	}
	return out
}

// closeGroups leaves the groups; calling it again does nothing.
func (d *Daemon) closeGroups() {
	d.groupsOnce.Do(func() {
		for _, sg := range d.groups {
			if sg.stop != nil {
				sg.stop()
			}
			sg.files.Wait()
			sg.member.Close()
			sg.g.Close()
		}
	})
}
