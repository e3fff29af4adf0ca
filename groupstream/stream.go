package groupstream

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// Status codes a group stream raises (rtmfp-facts §9.2; Flash raises them
// locally).
const (
	StatusPublishStart     = "NetStream.Publish.Start"
	StatusUnpublishSuccess = "NetStream.Unpublish.Success"
	StatusPlayStart        = "NetStream.Play.Start"
	StatusUnpublishNotify  = "NetStream.Play.UnpublishNotify"
	StatusReset            = "NetStream.MulticastStream.Reset"
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
	keyed   bool         // a video key frame was delivered (loop goroutine)
	onEnd   func()       // releases what the handle holds (receivers, senders)
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
			ev.s.node.Publish(ev.m, now)
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
		ev.reply <- nil
	case evRemoveStream:
		if g.streams[ev.s.name] == ev.s && ev.s.lingerUntil.IsZero() {
			g.removeStream(ev.s, now, true)
		}
		ev.reply <- nil
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
	if key, known := s.node.Key(); known && key != info.Key {
		if s.publisher {
			return // another publisher uses our name: ignore its stream
		}
		// The publisher restarted with a new key: start over.
		g.resetPlayer(s, now)
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
// (NetStream.MulticastStream.Reset).
func (g *Group) resetPlayer(s *stream, now time.Time) {
	s.node.Close(now)
	for _, p := range g.neighbors {
		g.dropFlows(p, s)
	}
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
	if !g.post(event{kind: evAddStream, s: s, reply: reply}) {
		return ErrClosed
	}
	if err, _ := (<-reply).(error); err != nil {
		return err
	}
	return nil
}

func (g *Group) stats(s *stream) multicast.Stats {
	reply := make(chan any, 1)
	if !g.post(event{kind: evStats, s: s, reply: reply}) {
		return multicast.Stats{}
	}
	st, _ := (<-reply).(multicast.Stats)
	return st
}

func (g *Group) remove(s *stream) {
	reply := make(chan any, 1)
	if g.post(event{kind: evRemoveStream, s: s, reply: reply}) {
		<-reply
	}
}

// Publication is a stream this member publishes into the group. The codec
// headers and metadata it was given are sent again before every video key
// frame: members join a multicast stream at its live edge, and need them to
// decode from the next key frame.
type Publication struct {
	s                      *stream
	mu                     sync.Mutex
	meta, video, audioHdrs *media.Message
	ipmc                   atomic.Pointer[ipmcSender]
	started                atomic.Bool // media was published
}

// Publish starts publishing name into the group with the multicast
// parameters cfg (zero: Flash's defaults). It fails with ErrNameInUse when
// this member already has a stream of that name.
func (g *Group) Publish(name string, cfg multicast.Config) (*Publication, error) {
	s := &stream{g: g, name: name, cfg: cfg, publisher: true, status: make(chan string, 16), ended: make(chan struct{})}
	p := &Publication{s: s}
	s.pub, s.onEnd = p, p.closeIPMC
	if err := g.addStream(s); err != nil {
		return nil, err
	}
	s.notify(StatusPublishStart)
	return p, nil
}

// WriteMedia publishes one message (netstream.Sink). It blocks while the
// group's event queue is full.
func (p *Publication) WriteMedia(ctx context.Context, m media.Message) error {
	p.started.Store(true)
	for _, hdr := range p.headersFor(m) {
		if err := p.write(ctx, hdr); err != nil {
			return err
		}
	}
	return p.write(ctx, m)
}

// headersFor records m if it is a header, and returns the headers to send
// before m if m is a video key frame.
func (p *Publication) headersFor(m media.Message) []media.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := m
	switch {
	case m.IsSequenceHeader() && m.IsVideo():
		p.video = &c
	case m.IsSequenceHeader() && m.IsAudio():
		p.audioHdrs = &c
	case m.IsData():
		if vs, err := netstream.DecodeData(m); err == nil && len(vs) > 0 && vs[0] == "onMetaData" {
			p.meta = &c
		}
	case m.IsVideo() && m.IsKeyframe():
		var out []media.Message
		for _, h := range []*media.Message{p.meta, p.video, p.audioHdrs} {
			if h != nil {
				r := *h
				r.Timestamp = m.Timestamp
				out = append(out, r)
			}
		}
		return out
	}
	return nil
}

func (p *Publication) write(ctx context.Context, m media.Message) error {
	select {
	case p.s.g.events <- event{kind: evPublish, s: p.s, m: m}:
		return nil
	case <-p.s.ended:
		return ErrClosed
	case <-p.s.g.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status returns the publication's status events.
func (p *Publication) Status() <-chan string { return p.s.status }

// Stats returns the engine's statistics (NetStreamMulticastInfo-style).
func (p *Publication) Stats() multicast.Stats { return p.s.g.stats(p.s) }

// Close ends the stream: neighbours are told the last fragment. The stream
// still answers their pulls until its fragments leave the window (Window +
// RelayMargin), unless the name is published again first.
func (p *Publication) Close() {
	p.s.g.remove(p.s)
	p.s.notify(StatusUnpublishSuccess)
}

// Playback is a group stream this member plays (and relays).
type Playback struct {
	s                 *stream
	mu                sync.Mutex
	receivers         []*ipmulticast.Receiver
	ingested, foreign atomic.Uint64
}

// Play starts playing name from the group.
func (g *Group) Play(name string, cfg multicast.Config) (*Playback, error) {
	s := &stream{g: g, name: name, cfg: cfg, out: make(chan media.Message, playerQueue),
		status: make(chan string, 16), ended: make(chan struct{})}
	pb := &Playback{s: s}
	s.onEnd = pb.closeReceivers
	if err := g.addStream(s); err != nil {
		return nil, err
	}
	s.notify(StatusPlayStart)
	return pb, nil
}

// ReadMedia returns the next reassembled message, in the publisher's order.
// Video starts at a key frame: the inter frames before the first one this
// player receives (of each stream key) are not delivered.
func (p *Playback) ReadMedia(ctx context.Context) (media.Message, error) {
	select {
	case m := <-p.s.out:
		return m, nil
	case <-p.s.ended:
		return media.Message{}, ErrClosed
	case <-ctx.Done():
		return media.Message{}, ctx.Err()
	}
}

// Status returns status events: Play.Start, MulticastStream.Reset,
// Play.UnpublishNotify.
func (p *Playback) Status() <-chan string { return p.s.status }

// Stats returns the engine's statistics.
func (p *Playback) Stats() multicast.Stats { return p.s.g.stats(p.s) }

// Dropped counts messages dropped because ReadMedia was not called.
func (p *Playback) Dropped() uint64 { return p.s.dropped.Load() }

// Close stops playing.
func (p *Playback) Close() { p.s.g.remove(p.s) }
