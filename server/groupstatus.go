package server

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// groupStreams follows the streams the server publishes into one group,
// for GET /status and /metrics.
type groupStreams struct {
	log  *slog.Logger // where IP multicast send failures are said
	mu   sync.Mutex
	list map[*groupstream.Publication]*groupStream
}

type groupStream struct {
	name, source string
	cfg          multicast.Config
	ipmc         string
	since        time.Time
	pub          *groupstream.Publication
}

// add follows a publication; source is the server stream's key or the
// file's path.
func (gs *groupStreams) add(pub *groupstream.Publication, name, source string, cfg multicast.Config, ip *IPMulticastConfig) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.list == nil {
		gs.list = map[*groupstream.Publication]*groupStream{}
	}
	g := &groupStream{name: name, source: source, cfg: cfg, since: time.Now(), pub: pub}
	if ip != nil {
		g.ipmc = ip.Address
		if log := gs.log; log != nil {
			// One line when sends start failing and one when they work
			// again, not one per datagram; /status counts them.
			log = log.With("stream", name, "address", ip.Address)
			pub.OnIPMulticastSendError(func(err error) {
				if err != nil {
					log.Warn("ip multicast send failed", "err", err)
				} else {
					log.Info("ip multicast send recovered", "failed", pub.IPMulticastStats().Errors)
				}
			})
		}
	}
	gs.list[pub] = g
}

// remove forgets the publications fed by source.
func (gs *groupStreams) remove(source string) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	for p, g := range gs.list {
		if g.source == source {
			delete(gs.list, p)
		}
	}
}

// MulticastProperties are a group stream's NetStream multicast properties
// by Flash's names, periods in seconds.
type MulticastProperties struct {
	WindowDuration           float64 `json:"multicastWindowDuration"`
	RelayMarginDuration      float64 `json:"multicastRelayMarginDuration"`
	FetchPeriod              float64 `json:"multicastFetchPeriod"`
	AvailabilityUpdatePeriod float64 `json:"multicastAvailabilityUpdatePeriod"`
	AvailabilitySendToAll    bool    `json:"multicastAvailabilitySendToAll"`
	PushNeighborLimit        int     `json:"multicastPushNeighborLimit"`
}

// GroupStreamStatus describes a stream the server publishes into a group.
type GroupStreamStatus struct {
	Name string `json:"name"`
	// Source is the server stream (app/instance/name) or the file.
	Source string `json:"source"`
	// PublishingTime is how long it has been published, in seconds (what
	// FMS's NetStream.time says).
	PublishingTime float64             `json:"publishingTime"`
	Multicast      MulticastProperties `json:"multicast"`
	IPMulticast    string              `json:"ipMulticast,omitempty"`
	// IPMulticastSent counts the datagrams sent to IPMulticast and the
	// sends that failed, with the last error (none without IPMulticast).
	IPMulticastSent *ipmulticast.SenderStats `json:"ipMulticastSent,omitempty"`
	// MulticastInfo holds the statistics of Flash's NetStreamMulticastInfo
	// (bytesPushedToPeers, fragmentsRequestedByPeers, sendDataBytesPerSecond,
	// ...) and the engine's own counters.
	MulticastInfo multicast.Stats `json:"multicastInfo"`
}

func (gs *groupStreams) status() []GroupStreamStatus {
	gs.mu.Lock()
	list := make([]*groupStream, 0, len(gs.list))
	for _, g := range gs.list {
		list = append(list, g)
	}
	gs.mu.Unlock()
	out := make([]GroupStreamStatus, 0, len(list))
	for _, g := range list {
		c := g.cfg
		var sent *ipmulticast.SenderStats
		if g.ipmc != "" {
			st := g.pub.IPMulticastStats()
			sent = &st
		}
		out = append(out, GroupStreamStatus{IPMulticastSent: sent, Name: g.name, Source: g.source, PublishingTime: seconds(time.Since(g.since)),
			IPMulticast: g.ipmc, MulticastInfo: g.pub.Stats(),
			Multicast: MulticastProperties{WindowDuration: c.Window.Seconds(), RelayMarginDuration: c.RelayMargin.Seconds(),
				FetchPeriod: c.FetchPeriod.Seconds(), AvailabilityUpdatePeriod: c.UpdatePeriod.Seconds(),
				AvailabilitySendToAll: c.SendToAll, PushNeighborLimit: c.PushNeighborLimit}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// seconds rounds d to milliseconds, in seconds.
func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// groupUnpublish forgets the group streams fed by a server stream.
func (d *Daemon) groupUnpublish(s *netstream.Stream) {
	for _, sg := range d.groupList() {
		sg.streams.remove(s.Key())
	}
}
