package groupstream

import (
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// playerQueue bounds a player's undelivered messages; beyond it the oldest
// are dropped (the engine already gives up on fragments that leave the
// window, so this only guards against a reader that stopped).
const playerQueue = 4096

// stream is one multicast stream of this member, published or played.
type stream struct {
	g         *Group
	name      string
	cfg       multicast.Config
	publisher bool
	node      *multicast.Node // owned by the loop

	out     chan media.Message // player output
	status  chan string
	ended   chan struct{}
	endOnce sync.Once
	dropped atomic.Uint64
	resets  atomic.Uint64
	pub     *Publication // the publisher's handle, for its IP multicast tap
	// overrides: a player's cfg holds local overrides of the multicast
	// parameters; otherwise it uses those its publisher announces (loop
	// goroutine after Play).
	overrides bool
	info      multicast.StreamInfo // the first stream info routed (loop goroutine)
	keyed     bool                 // a video key frame was delivered (loop goroutine)
	onEnd     func()               // releases what the handle holds (receivers, senders)
	// lingerUntil is set when a publisher's stream was closed: it keeps
	// answering its neighbours' pulls until then (loop goroutine).
	lingerUntil time.Time
}

// nodeTransport sends one stream's engine messages to the neighbours.
type nodeTransport struct{ s *stream }

func (t nodeTransport) Send(to multicast.NeighborID, flow multicast.Flow, msg []byte) {
	g := t.s.g
	p := g.byID[to]
	if p == nil {
		return
	}
	pf := p.flows[t.s]
	if pf == nil {
		pf = &peerFlows{}
		p.flows[t.s] = pf
	}
	switch flow {
	case multicast.FlowReport:
		if pf.report == nil {
			f, err := p.n.OpenReportFlow(rtmfp.FlowOptions{Priority: reportPriority})
			if err != nil {
				return
			}
			pf.report = f
			g.ours[f] = route{p: p, s: t.s}
		}
		pf.report.Write(msg)
	case multicast.FlowMedia:
		if pf.media == nil {
			if pf.theirReport == nil {
				return // they have not subscribed on a flow of theirs yet
			}
			f, err := p.n.OpenMediaFlow(pf.theirReport, rtmfp.FlowOptions{Priority: 1, TimeCritical: true, Lifetime: mediaLifetime})
			if err != nil {
				return
			}
			pf.media = f
		}
		pf.media.Write(msg)
	}
}

// newNode builds the engine node of a stream (loop goroutine).
func (g *Group) newNode(s *stream, key multicast.StreamKey) *multicast.Node {
	g.seed++
	s.keyed = false
	return multicast.NewNode(multicast.NodeConfig{
		Config:    s.cfg,
		Name:      s.name,
		Key:       key,
		Publisher: s.publisher,
		Transport: nodeTransport{s},
		Seed:      g.seed,
		Deliver: func(_ uint64, m media.Message) {
			// A player that starts mid-GOP (it joined late, or the
			// fragments before were lost) cannot decode inter frames
			// until a key frame: they are not delivered.
			if m.IsVideo() && !m.IsSequenceHeader() {
				if !m.IsKeyframe() && !s.keyed {
					return
				}
				s.keyed = true
			}
			select {
			case s.out <- m:
			default:
				// The reader is gone or far behind: drop the oldest.
				select {
				case <-s.out:
					s.dropped.Add(1)
				default:
				}
				select {
				case s.out <- m:
				default:
				}
			}
		},
		OnEnd: func() { s.notify(StatusUnpublishNotify) },
		OnPublished: func(raw []byte) {
			if s.pub != nil {
				s.pub.sendIPMC(key, raw)
			}
		},
	})
}

// announced returns the parameters the stream's info announced.
func (s *stream) announced() (multicast.Config, bool) {
	if s.info.Name == "" {
		return multicast.Config{}, false
	}
	return s.info.Config(), true
}

func (s *stream) notify(code string) {
	select {
	case s.status <- code:
	default:
	}
}

// handle runs one event (loop goroutine).
func (g *Group) handle(ev event, now time.Time) {
	switch ev.kind {
	case evNeighborUp:
		if g.neighbors[ev.n] != nil {
			return
		}
		g.nextID++
		p := &peer{n: ev.n, id: g.nextID, flows: map[*stream]*peerFlows{}}
		g.neighbors[ev.n], g.byID[p.id] = p, p
		for _, s := range g.streams {
			s.node.AddNeighbor(p.id, now)
		}
	case evNeighborDown:
		p := g.neighbors[ev.n]
		if p == nil {
			return
		}
		for s := range p.flows {
			g.dropFlows(p, s)
		}
		for _, s := range g.streams {
			s.node.RemoveNeighbor(p.id, now)
		}
		delete(g.neighbors, ev.n)
		delete(g.byID, p.id)
	case evReportFlow:
		g.reportFlow(ev, now)
	case evReportMessage:
		if r, ok := g.theirs[ev.rf]; ok && g.streams[r.s.name] == r.s {
			r.s.node.HandleMessage(r.p.id, ev.msg, now)
			return
		}
		// A flow not routed yet (its stream was not played here when it
		// came, or the stream was reset): route it by this message if it
		// is a stream info, as the publisher repeats them.
		g.reportFlow(ev, now)
	case evFragment:
		if r, ok := g.ours[ev.ours]; ok && g.streams[r.s.name] == r.s {
			r.s.node.HandleFragment(r.p.id, ev.msg, now)
		}
	case evPublish:
		if g.streams[ev.s.name] == ev.s {
			if err := ev.s.node.Publish(ev.m, now); err != nil {
				g.log.Warn("group stream message not published", "stream", ev.s.name,
					"type", ev.m.Type, "time", ev.m.Timestamp, "bytes", len(ev.m.Payload), "err", err)
			}
		}
	case evIngest:
		if g.streams[ev.s.name] == ev.s && ev.s.node.SetKey(ev.key) {
			ev.s.node.IngestFragment(ev.source, ev.msg, now)
		}
	case evAddStream:
		if old := g.streams[ev.s.name]; old != nil {
			if old.lingerUntil.IsZero() {
				ev.reply <- ErrNameInUse
				return
			}
			delete(g.streams, old.name) // a closed publication gives way
		}
		var key multicast.StreamKey
		if ev.s.publisher {
			rand.Read(key[:])
		}
		ev.s.node = g.newNode(ev.s, key)
		g.streams[ev.s.name] = ev.s
		for _, p := range g.neighbors {
			ev.s.node.AddNeighbor(p.id, now)
		}
		ev.reply <- true
	case evRemoveStream:
		if g.streams[ev.s.name] == ev.s && ev.s.lingerUntil.IsZero() {
			g.removeStream(ev.s, now, true)
		}
		ev.reply <- true
	case evConfig:
		if g.streams[ev.s.name] != ev.s {
			ev.reply <- multicast.Config{}
			return
		}
		if !ev.query {
			ev.s.overrides = ev.cfg != multicast.Config{}
			if ev.s.overrides {
				ev.s.cfg = ev.cfg
				ev.s.node.SetConfig(ev.cfg, now)
			} else if c, ok := ev.s.announced(); ok {
				ev.s.node.SetConfig(c, now)
			}
		}
		ev.reply <- ev.s.node.Config()
	case evStreams:
		out := make([]StreamStatus, 0, len(g.streams))
		for name, s := range g.streams {
			out = append(out, StreamStatus{Name: name, Publisher: s.publisher, Closed: !s.lingerUntil.IsZero(), Stats: s.node.Stats(now)})
		}
		slices.SortFunc(out, func(a, b StreamStatus) int { return strings.Compare(a.Name, b.Name) })
		ev.reply <- out
	case evStats:
		if g.streams[ev.s.name] == ev.s {
			ev.reply <- ev.s.node.Stats(now)
		} else {
			ev.reply <- multicast.Stats{}
		}
	}
}

// reportFlow routes a neighbour's new report flow by the stream info it
// starts with.
func (g *Group) reportFlow(ev event, now time.Time) {
	p := g.neighbors[ev.n]
	if p == nil {
		return
	}
	info, err := multicast.ParseStreamInfo(ev.msg)
	if err != nil {
		return // an end-of-stream or garbage first message: nothing to route
	}
	s := g.streams[info.Name]
	if s == nil {
		return // a stream this member does not play: not relayed
	}
	key, known := s.node.Key()
	switch {
	case known && key != info.Key && s.publisher:
		return // another publisher uses our name: ignore its stream
	case known && key != info.Key:
		// The publisher restarted with a new key: start over, with the
		// new stream's parameters.
		g.resetPlayer(s, info, now)
	case !known && !s.publisher && !s.overrides:
		s.info = info
		s.node.SetConfig(info.Config(), now)
	}
	pf := p.flows[s]
	if pf == nil {
		pf = &peerFlows{}
		p.flows[s] = pf
	}
	pf.theirReport = ev.rf
	g.theirs[ev.rf] = route{p: p, s: s}
	s.node.HandleMessage(p.id, ev.msg, now)
}

// resetPlayer replaces a player's node after its publisher restarted
// (NetStream.MulticastStream.Reset). The player's local overrides are lost
// (Flash: "Reapply the local overrides or the new stream's default
// parameters will be used"): the new node runs with the parameters the new
// stream's info announces.
func (g *Group) resetPlayer(s *stream, info multicast.StreamInfo, now time.Time) {
	s.node.Close(now)
	for _, p := range g.neighbors {
		g.dropFlows(p, s)
	}
	s.overrides, s.info, s.cfg = false, info, info.Config()
	s.node = g.newNode(s, multicast.StreamKey{})
	for _, p := range g.neighbors {
		s.node.AddNeighbor(p.id, now)
	}
	s.resets.Add(1)
	s.notify(StatusReset)
}

// dropFlows closes a neighbour's flows of one stream.
func (g *Group) dropFlows(p *peer, s *stream) {
	pf := p.flows[s]
	if pf == nil {
		return
	}
	if pf.report != nil {
		delete(g.ours, pf.report)
		pf.report.Close()
	}
	if pf.media != nil {
		pf.media.Close()
	}
	if pf.theirReport != nil {
		delete(g.theirs, pf.theirReport)
	}
	delete(p.flows, s)
}

// removeStream ends a local stream. With linger, a publisher's stream stays
// registered until its fragments age out of the buffer (Window +
// RelayMargin): the neighbours got the end of stream, but those behind
// still pull what they miss (librtmfp pulls a fetch period late), and the
// publisher may be the only member holding it. Otherwise, or for a player,
// the stream goes at once.
func (g *Group) removeStream(s *stream, now time.Time, linger bool) {
	s.node.Close(now)
	// Let the end of stream reach the neighbours before the flows close:
	// they are closed when the Group goes or a neighbour leaves.
	s.endOnce.Do(func() {
		close(s.ended)
		if s.onEnd != nil {
			s.onEnd()
		}
	})
	if linger && s.publisher {
		cfg := s.node.Config()
		s.lingerUntil = now.Add(cfg.Window + cfg.RelayMargin)
		return
	}
	s.node.TellEnd(now) // the member leaves: the end of stream cannot wait
	delete(g.streams, s.name)
}

// expireLingering removes the closed publications whose time is up.
func (g *Group) expireLingering(now time.Time) {
	for name, s := range g.streams {
		if !s.lingerUntil.IsZero() && !now.Before(s.lingerUntil) {
			delete(g.streams, name)
		}
	}
}

// addStream registers a stream with the loop.
func (g *Group) addStream(s *stream) error {
	reply := make(chan any, 1)
	r := g.call(event{kind: evAddStream, s: s, reply: reply})
	if r == nil {
		return ErrClosed
	}
	if err, _ := r.(error); err != nil {
		return err
	}
	return nil
}

// StreamStatus describes one stream of the group.
type StreamStatus struct {
	Name      string          `json:"name"`
	Publisher bool            `json:"publisher"`
	Closed    bool            `json:"closed,omitempty"` // a closed publication still serving pulls
	Stats     multicast.Stats `json:"stats"`
}

// Streams returns the statistics of the streams this member publishes or
// plays, by name.
func (g *Group) Streams() []StreamStatus {
	out, _ := g.call(event{kind: evStreams, reply: make(chan any, 1)}).([]StreamStatus)
	return out
}

func (g *Group) stats(s *stream) multicast.Stats {
	st, _ := g.call(event{kind: evStats, s: s, reply: make(chan any, 1)}).(multicast.Stats)
	return st
}

func (g *Group) remove(s *stream) {
	g.call(event{kind: evRemoveStream, s: s, reply: make(chan any, 1)})
}
