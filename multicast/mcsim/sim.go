package mcsim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// Config describes one simulated group. Zero fields take the defaults.
type Config struct {
	Peers           int           // players (the publisher is extra)
	Degree          int           // neighbours per peer; default min(Peers-1, 2·log2(Peers)+13)
	PublisherDegree int           // neighbours of the publisher; default 5
	MinDelay        time.Duration // one-way link delay, uniform per link in [MinDelay, MaxDelay]; default 10 ms
	MaxDelay        time.Duration // default 150 ms
	Loss            float64       // probability that a message is lost, per message and direction
	PeerUpload      int           // bits per second a peer can send; 0: unlimited
	PublisherUpload int           // bits per second the publisher can send; 0: unlimited
	MaxBacklog      time.Duration // an upload queue longer than this drops the message; default 1 s
	// Retransmit models RTMFP's reliable, ordered flows: a lost message is
	// sent again after an RTO of max(250 ms, 1.5 RTT) until it gets
	// through, and messages of one flow arrive in order (a retransmission
	// holds back the ones behind it). Without it a lost message is gone
	// (an unreliable flow, or a transport dropping under back-pressure),
	// and only the engine's pulls repair it.
	Retransmit bool

	Multicast multicast.Config // every node's parameters; zero: multicast.DefaultConfig()
	Limits    multicast.Limits
	Stream    Stream

	Start    time.Duration // when the publisher starts publishing (neighbours connect at 0); default 1 s
	Duration time.Duration // how long it publishes; default 30 s
	Drain    time.Duration // run time after the last message; default Window + RelayMargin
	Warmup   time.Duration // messages published in the first Warmup are left out of the results

	Silent   []int         // peers (1…Peers) that stop sending media (pull answers and pushes) at SilentAt
	SilentAt time.Duration // default 0
	Forgers  []int         // peers (1…Peers) that also inject forged maps, old fragments, bad pulls and garbage every 100 ms
	ForgeAt  time.Duration // when forgers start; default Start
	// ForgeFutureAt, if set, is when forgers also start injecting
	// fragments a million IDs ahead of the publisher (forged content; see
	// the package doc for what the engine can and cannot refuse).
	ForgeFutureAt time.Duration
	Late          []int // peers (1…Peers) that connect to their neighbours only at LateAt
	LateAt        time.Duration
	Seed          uint64

	// Librtmfp lists peers (1…Peers) that are models of librtmfp members
	// (see libPlayer) instead of engine nodes, with push limit
	// LibrtmfpPushLimit (default 4); they take the window and periods the
	// publisher announces.
	Librtmfp          []int
	LibrtmfpPushLimit int
	// LibrtmfpPullLoss is the probability that a librtmfp model's pull
	// sent from LibrtmfpPullLossAt on, or its answer, is lost (librtmfp
	// does not retry the pulls of its last fetch period before it pauses:
	// see libPlayer).
	LibrtmfpPullLoss   float64
	LibrtmfpPullLossAt time.Duration
	// PeerConfig, if set, gives engine peer i (1…Peers) its own
	// parameters instead of Multicast (members tuned unlike the
	// publisher).
	PeerConfig func(i int) multicast.Config
}

func (c Config) withDefaults() Config {
	if c.Degree <= 0 {
		c.Degree = int(2*math.Log2(float64(max(c.Peers, 2)))) + 13
	}
	c.Degree = min(c.Degree, c.Peers-1)
	if c.PublisherDegree <= 0 {
		c.PublisherDegree = 5
	}
	c.PublisherDegree = min(c.PublisherDegree, c.Peers)
	if c.MinDelay <= 0 {
		c.MinDelay = 10 * time.Millisecond
	}
	if c.MaxDelay < c.MinDelay {
		c.MaxDelay = max(c.MinDelay, 150*time.Millisecond)
	}
	if c.MaxBacklog <= 0 {
		c.MaxBacklog = time.Second
	}
	if c.Multicast == (multicast.Config{}) {
		c.Multicast = multicast.DefaultConfig()
	}
	c.Multicast = c.Multicast.Clamp()
	if c.Start <= 0 {
		c.Start = time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = c.Multicast.Window + c.Multicast.RelayMargin
	}
	return c
}

// link is one direction of a connection.
type link struct {
	delay      time.Duration
	lastArrive [2]time.Time // per flow, for ordered delivery (Retransmit)
}

// engine is what the simulation needs of a member: multicast.Node, or a
// model of another implementation's member (libPlayer).
type engine interface {
	AddNeighbor(id multicast.NeighborID, now time.Time) error
	HandleMessage(from multicast.NeighborID, msg []byte, now time.Time) error
	HandleFragment(from multicast.NeighborID, frag []byte, now time.Time) error
	Tick(now time.Time)
	NextDeadline() (time.Time, bool)
}

// node is one simulated group member.
type node struct {
	e         engine
	n         *multicast.Node // the engine node, nil for a model
	links     map[int32]*link
	upload    int // bits per second; 0 unlimited
	busyUntil time.Time
	timerAt   time.Time // scheduled wake-up, zero if none
	silent    bool
	forger    bool
	late      bool
	joinedAt  time.Time

	sentData, sentControl uint64 // bytes handed to the network
	queueDrops            uint64
	delivered             []time.Duration // per published message: latency, 0 if not delivered
	firstDelivered        int             // index of the first message delivered, -1 before
	firstKey              int             // index of the first key frame published after it joined, -1 before
	corrupt               int
	ended                 bool
}

// record is one published message.
type record struct {
	at      time.Time
	firstID uint64
	frags   int
	msg     media.Message
}

// Sim is a deterministic discrete-event simulation of a publisher and
// Peers players on a mesh with per-link delay and loss and optional upload
// limits, in virtual time.
type Sim struct {
	cfg    Config
	epoch  time.Time
	now    time.Time
	seq    uint64
	events agenda
	rng    *rand.Rand
	nodes  []*node // 0 is the publisher
	src    *source
	recs   []record
	byID   map[uint64]int
	lastID uint64

	publishUntil time.Time
}

// New builds the group: the publisher (node 0) and the peers with their
// links, all neighbours connected at time 0.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	s := &Sim{
		cfg:   cfg,
		epoch: time.Unix(1_700_000_000, 0),
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x6d6373696d)),
		byID:  map[uint64]int{},
	}
	s.now = s.epoch
	s.src = newSource(Stream{Seed: cfg.Seed, Bitrate: cfg.Stream.Bitrate, AudioRate: cfg.Stream.AudioRate, FPS: cfg.Stream.FPS, KeyInterval: cfg.Stream.KeyInterval, KeyBytes: cfg.Stream.KeyBytes})
	for i := range cfg.Peers + 1 {
		nd := &node{links: map[int32]*link{}, firstDelivered: -1, firstKey: -1}
		idx := int32(i)
		nc := multicast.NodeConfig{
			Config:    cfg.Multicast,
			Name:      "sim",
			Transport: transport{s, idx},
			Seed:      cfg.Seed*1_000_003 + uint64(i),
			Limits:    cfg.Limits,
		}
		if i == 0 {
			nc.Publisher = true
			nc.Key = multicast.StreamKey{0x21, 0x42}
			nd.upload = cfg.PublisherUpload
		} else {
			nd.upload = cfg.PeerUpload
			nc.Deliver = func(id uint64, m media.Message) { s.onDeliver(idx, id, m) }
			nc.OnEnd = func() { s.nodes[idx].ended = true }
			if cfg.PeerConfig != nil {
				nc.Config = cfg.PeerConfig(i)
			}
		}
		if i > 0 && slices.Contains(cfg.Librtmfp, i) {
			limit := cfg.LibrtmfpPushLimit
			if limit <= 0 {
				limit = 4
			}
			nd.e = newLibPlayer(s, idx, limit, nc.Seed)
		} else {
			nd.n = multicast.NewNode(nc)
			nd.e = nd.n
		}
		s.nodes = append(s.nodes, nd)
	}
	for _, p := range cfg.Silent {
		if p >= 1 && p <= cfg.Peers {
			s.at(cfg.SilentAt, func() { s.nodes[p].silent = true })
		}
	}
	for _, p := range cfg.Forgers {
		if p >= 1 && p <= cfg.Peers {
			s.nodes[p].forger = true
		}
	}
	s.buildTopology()
	for _, p := range cfg.Late {
		if p >= 1 && p <= cfg.Peers {
			s.nodes[p].late = true
			s.at(cfg.LateAt, func() { s.join(int32(p)) })
		}
	}
	for i, nd := range s.nodes {
		if nd.late {
			continue
		}
		for _, j := range sortedLinks(nd.links) {
			if !s.nodes[j].late {
				_ = nd.e.AddNeighbor(neighborID(j), s.now)
			}
		}
		s.reschedule(int32(i))
	}
	s.publishUntil = s.epoch.Add(cfg.Start + cfg.Duration)
	s.schedule(event{at: s.epoch.Add(cfg.Start), kind: evPublish})
	if len(cfg.Forgers) > 0 {
		s.at(max(cfg.ForgeAt, cfg.Start), s.forge)
	}
	return s
}

// join connects a late peer to its neighbours (both ways).
func (s *Sim) join(p int32) {
	nd := s.nodes[p]
	nd.late, nd.joinedAt = false, s.now
	for _, j := range sortedLinks(nd.links) {
		_ = nd.e.AddNeighbor(neighborID(j), s.now)
		_ = s.nodes[j].e.AddNeighbor(neighborID(p), s.now)
		s.reschedule(j)
	}
	s.reschedule(p)
}

func neighborID(i int32) multicast.NeighborID { return multicast.NeighborID(i + 1) }

// Node returns node i (0: the publisher), nil for a model of another
// implementation.
func (s *Sim) Node(i int) *multicast.Node { return s.nodes[i].n }

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.now }

// Elapsed returns the virtual time since the start.
func (s *Sim) Elapsed() time.Duration { return s.now.Sub(s.epoch) }

func (s *Sim) schedule(e event) {
	s.seq++
	e.seq = s.seq
	s.events.push(e)
}

// at runs fn at offset d from the start.
func (s *Sim) at(d time.Duration, fn func()) {
	s.schedule(event{at: s.epoch.Add(d), kind: evFunc, fn: fn})
}

// Run processes events until the publishing and the drain are over, and
// returns the result.
func (s *Sim) Run() Result {
	s.RunUntil(s.publishUntil.Add(s.cfg.Drain).Sub(s.epoch))
	return s.result()
}

// Result returns the figures so far.
func (s *Sim) Result() Result { return s.result() }

// RunUntil processes the events up to offset d from the start.
func (s *Sim) RunUntil(d time.Duration) {
	end := s.epoch.Add(d)
	for len(s.events) > 0 && !s.events[0].at.After(end) {
		e := s.events.pop()
		s.now = e.at
		switch e.kind {
		case evMessage:
			nd := s.nodes[e.node]
			if e.flow == multicast.FlowMedia {
				_ = nd.e.HandleFragment(neighborID(e.from), e.msg, s.now)
			} else {
				_ = nd.e.HandleMessage(neighborID(e.from), e.msg, s.now)
			}
			s.reschedule(e.node)
		case evTimer:
			nd := s.nodes[e.node]
			if !e.at.Equal(nd.timerAt) {
				continue
			}
			nd.timerAt = time.Time{}
			nd.e.Tick(s.now)
			s.reschedule(e.node)
		case evPublish:
			s.publish()
		case evFunc:
			e.fn()
		}
	}
	if s.now.Before(end) {
		s.now = end
	}
}

// reschedule makes sure node i wakes up at its next deadline.
func (s *Sim) reschedule(i int32) {
	nd := s.nodes[i]
	t, ok := nd.e.NextDeadline()
	if !ok || (!nd.timerAt.IsZero() && !t.Before(nd.timerAt)) {
		return
	}
	if t.Before(s.now) {
		t = s.now
	}
	nd.timerAt = t
	s.schedule(event{at: t, kind: evTimer, node: i})
}

// publish publishes every source message due now and schedules the next.
func (s *Sim) publish() {
	pub := s.nodes[0].n
	for {
		off, m := s.src.next()
		at := s.epoch.Add(s.cfg.Start + off)
		if at.After(s.publishUntil) {
			_ = pub.Close(s.now)
			return
		}
		if at.After(s.now) {
			// Too early: put it back by rebuilding it at its time.
			s.schedule(event{at: at, kind: evFunc, fn: func() { s.publishMessage(m); s.publish() }})
			return
		}
		s.publishMessage(m)
	}
}

func (s *Sim) publishMessage(m media.Message) {
	pub := s.nodes[0].n
	before := pub.Stats(s.now).LastFragment
	if err := pub.Publish(m, s.now); err != nil {
		return
	}
	last := pub.Stats(s.now).LastFragment
	if last == before {
		return
	}
	s.byID[before+1] = len(s.recs)
	if m.IsVideo() && m.IsKeyframe() && !m.IsSequenceHeader() {
		for _, nd := range s.nodes[1:] {
			if nd.firstKey < 0 && !nd.late {
				nd.firstKey = len(s.recs)
			}
		}
	}
	s.recs = append(s.recs, record{at: s.now, firstID: before + 1, frags: int(last - before), msg: m})
	s.lastID = last
	s.reschedule(0)
}

func (s *Sim) onDeliver(i int32, id uint64, m media.Message) {
	nd := s.nodes[i]
	k, ok := s.byID[id]
	if !ok {
		nd.corrupt++
		return
	}
	r := &s.recs[k]
	if m.Type != r.msg.Type || m.Timestamp != r.msg.Timestamp || string(m.Payload) != string(r.msg.Payload) {
		nd.corrupt++
		return
	}
	for len(nd.delivered) <= k {
		nd.delivered = append(nd.delivered, 0)
	}
	nd.delivered[k] = max(s.now.Sub(r.at), time.Nanosecond)
	if nd.firstDelivered < 0 {
		nd.firstDelivered = k
	}
}

// transport is the multicast.Transport of node `from`.
type transport struct {
	s    *Sim
	from int32
}

func (t transport) Send(to multicast.NeighborID, flow multicast.Flow, msg []byte) {
	s := t.s
	nd := s.nodes[t.from]
	dst := int32(to) - 1
	l, ok := nd.links[dst]
	if !ok {
		return
	}
	if nd.late || s.nodes[dst].late {
		return // not connected yet
	}
	if flow == multicast.FlowMedia {
		if nd.silent {
			return
		}
		nd.sentData += uint64(len(msg))
	} else {
		nd.sentControl += uint64(len(msg))
		if s.pullLost(nd, msg) {
			return
		}
		msg = append([]byte(nil), msg...) // report messages are only valid during Send
	}
	depart := s.now
	if nd.upload > 0 {
		start := s.now
		if nd.busyUntil.After(start) {
			start = nd.busyUntil
		}
		if start.Sub(s.now) > s.cfg.MaxBacklog {
			nd.queueDrops++
			return
		}
		bits := (len(msg) + udpOverhead) * 8
		nd.busyUntil = start.Add(time.Duration(int64(bits) * int64(time.Second) / int64(nd.upload)))
		depart = nd.busyUntil
	}
	arrive := depart.Add(l.delay)
	if s.cfg.Retransmit {
		rto := max(250*time.Millisecond, 3*l.delay)
		for s.cfg.Loss > 0 && s.rng.Float64() < s.cfg.Loss {
			arrive = arrive.Add(rto)
		}
		if last := l.lastArrive[flow]; arrive.Before(last) {
			arrive = last
		}
		l.lastArrive[flow] = arrive
	} else if s.cfg.Loss > 0 && s.rng.Float64() < s.cfg.Loss {
		return
	}
	s.schedule(event{at: arrive, kind: evMessage, flow: flow, node: dst, from: t.from, msg: msg})
}

// pullLost reports whether a librtmfp model's pull is lost
// (Config.LibrtmfpPullLoss).
func (s *Sim) pullLost(from *node, msg []byte) bool {
	if s.cfg.LibrtmfpPullLoss == 0 || from.n != nil || s.now.Before(s.epoch.Add(s.cfg.LibrtmfpPullLossAt)) {
		return false
	}
	if m, err := multicast.DecodeReport(msg); err != nil || m.Type() != multicast.TypePull {
		return false
	}
	return s.rng.Float64() < s.cfg.LibrtmfpPullLoss
}

// udpOverhead approximates the per-message cost on the wire (IP, UDP,
// RTMFP packet and chunk headers).
const udpOverhead = 48
