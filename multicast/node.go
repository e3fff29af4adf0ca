package multicast

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// Engine timing constants (librtmfp NETGROUP_PULL_DELAY, NETGROUP_PUSH_DELAY).
const (
	// PullPeriod is how often a player looks for fragments to pull and
	// for fragments to give up on.
	PullPeriod = 100 * time.Millisecond
	// PushPeriod is how often a player asks one more neighbour to push
	// one more bit of the fragment IDs.
	PushPeriod = 2 * time.Second
	// pushStale: a push request that brought nothing for this long is
	// withdrawn, and a bit whose pusher has been quiet this long counts as
	// unserved.
	pushStale = 2 * PushPeriod
	// pushShun: a neighbour whose push of a bit was withdrawn is not
	// asked for that bit again for this long.
	pushShun = 30 * time.Second
	// silentAfter consecutive unanswered pulls make a neighbour silent for
	// silentFor: it is asked only when nobody else can answer.
	silentAfter = 4
	silentFor   = 10 * time.Second
)

// Limits bound a Node's memory and per-call work. Zero fields take the
// defaults listed.
type Limits struct {
	MaxNeighbors         int           // 256
	MaxBufferedFragments int           // 32768 (rounded up to a power of two): the ID span of the buffer
	MaxBufferedBytes     int           // 64 MiB of encoded fragments
	MaxPendingPulls      int           // 4096 fragments being (or waiting to be) pulled
	MaxPullsPerNeighbor  int           // 256 outstanding pulls towards one neighbour
	MaxPullsPerRound     int           // 1024 pull requests sent per PullPeriod
	MinClaimLead         uint64        // 2048: how far beyond the group's horizon a claim may go
	MinPullTimeout       time.Duration // 500 ms: floor of the pull timeout (see pullTimeout)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxNeighbors, 256)
	def(&l.MaxBufferedFragments, MaxFragmentsMapBytes*8)
	def(&l.MaxBufferedBytes, 64<<20)
	def(&l.MaxPendingPulls, 4096)
	def(&l.MaxPullsPerNeighbor, 256)
	def(&l.MaxPullsPerRound, 1024)
	l.MaxBufferedFragments = min(l.MaxBufferedFragments, 1<<20)
	if l.MinClaimLead == 0 {
		l.MinClaimLead = 2048
	}
	if l.MinPullTimeout <= 0 {
		l.MinPullTimeout = 500 * time.Millisecond
	}
	return l
}

// NodeConfig configures a Node.
type NodeConfig struct {
	// Config holds the multicast parameters; NewNode clamps them. The
	// zero Config means DefaultConfig().
	Config Config
	// Name is the stream name (NetStream.publish / play).
	Name string
	// Key is the stream key. A player may leave it zero: it then takes
	// the key of the first stream info announcing Name.
	Key StreamKey
	// Publisher makes the node the source of the stream (Publish, Close).
	Publisher bool
	// Transport sends the node's messages. Required.
	Transport Transport
	// Deliver receives the reassembled messages of a player, in order,
	// with the ID of their first fragment. It must not call into the Node.
	Deliver func(id uint64, m media.Message)
	// OnEnd is called once when a player has delivered (or given up on)
	// everything up to the publisher's end of stream.
	OnEnd func()
	// OnPublished is given every fragment a publisher makes (its encoded
	// GR 12 message, immutable), for a second way out such as native IP
	// multicast. It must not call into the Node.
	OnPublished func(raw []byte)
	// Seed makes the node's random choices reproducible.
	Seed uint64
	// MaxFragmentPayload is the publisher's fragment payload size; 0
	// means DefaultMaxFragmentPayload.
	MaxFragmentPayload int
	// Limits bound memory and work.
	Limits Limits
}

// neighbor is the per-neighbour state of a Node.
type neighbor struct {
	id         NeighborID
	infoSent   bool // our stream info went to them
	subscribed bool // their stream info came to us
	infoAt     time.Time
	infoTries  int // stream infos sent (repeated until they answer, see repeatReports)
	endAt      time.Time
	endTries   int  // end-of-stream messages sent
	maskStale  bool // they push bits we did not ask for: our push mask got lost

	// Their availability: last credible map, and their claim (highest
	// fragment ID they showed in a map or sent us).
	fmap    FragmentsMap
	hasMap  bool
	claim   uint64
	claimAt time.Time
	dataMax uint64 // highest fragment they sent us (accepted)
	dataAt  time.Time
	mapSent uint64 // Last of the last map we sent them
	mapAt   time.Time
	firstID uint64 // the first fragment that came after them (what their first map names)
	pushed  uint64 // the last fragment pushed to them (publisher)

	joinPushUntil time.Time // publisher: the end of their join push (see joinPush)
	endPushed     bool      // publisher: their end push is done (see endPush)

	pushOut   uint8 // bits they asked us to push
	pushIn    uint8 // bits we asked them to push
	pushAsked [8]time.Time
	pushGot   [8]time.Time
	pushLate  [8]time.Duration // moving average of how late their pushes of each bit come
	pushFail  [8]time.Time     // when a request for the bit was withdrawn for bringing nothing or late

	pulls       int           // our pulls waiting on them
	srtt        time.Duration // smoothed pull round trip, 0 before the first answer
	timeouts    int           // consecutive unanswered pulls
	silentUntil time.Time
}

func (nb *neighbor) silent(now time.Time) bool { return now.Before(nb.silentUntil) }

// lateRun counts the fragments refused as too old since `since`.
type lateRun struct {
	since time.Time
	count int
	max   uint64
	from  [2]NeighborID
}

// pull is a fragment a player is fetching.
type pull struct {
	to    NeighborID // 0: not assigned (nobody had it, or the last one failed)
	at    time.Time
	tried [4]NeighborID
}

// pushRecord is the current pusher of one bit of the IDs.
type pushRecord struct {
	from NeighborID
	last uint64
	at   time.Time
}

// Node runs one multicast stream on one group member: the publisher (a
// node with a source) or a player that relays. It owns the fragment
// buffer, the per-neighbour state and the statistics, and does no I/O: the
// caller feeds it messages and time, and it sends through its Transport.
// It starts no goroutine, reads no clock, and is not safe for concurrent
// use.
type Node struct {
	cfg       Config
	lim       Limits
	name      string
	key       StreamKey
	known     bool
	relayCfg  *Config // a player's announced parameters: those of the stream info it adopted
	publisher bool
	closed    bool
	tr        Transport
	deliver   func(uint64, media.Message)
	onEnd     func()
	published func(raw []byte)
	rng       *rand.Rand

	neighbors map[NeighborID]*neighbor
	order     []NeighborID    // sorted: deterministic iteration
	pushQueue [8][]NeighborID // per bit, the neighbours asking for it, oldest request first

	buf     *fragBuffer
	hz      horizon
	trusted uint64 // highest fragment from ourselves, a server or IP multicast

	claimsTmp []uint64
	late      lateRun

	frag      Fragmenter
	fragsTmp  []Fragment
	re        *Reassembler
	delivered bool   // a message was delivered (joining is over)
	endID     uint64 // the publisher's end-of-stream ID, 0 if none
	ended     bool

	pending      map[uint64]*pull
	pendingOrder []uint64 // ascending
	cursor       uint64   // highest ID the pull scan has considered
	pullRR       int
	srtt         time.Duration // smoothed pull round trip over all neighbours

	pusher  [8]pushRecord
	pushBit int // last bit asked for; -1 before the first request
	mapRR   int

	timersOn                    bool
	nextMap, nextPull, nextPush time.Time
	pushStarted                 bool

	scratch     []byte
	mapMsg      []byte
	mapLast     uint64
	newcomers   bool      // a subscribed neighbour may have no map yet
	endMapAt    time.Time // closed publisher: when its maps start naming the end
	endMapped   bool      // they do
	endNoticeAt time.Time // closed publisher: when it tells the neighbours the stream ended
	endNoticed  bool      // it did
	endPushAt   time.Time // closed publisher: when the end push starts (see node_end.go)
	endPushFrom uint64    // the first fragment it covers
	endPushing  bool      // it started

	st     Stats
	meters meters
}

// NewNode returns a node for one stream. It panics if cfg.Transport is
// nil (a programming error).
func NewNode(cfg NodeConfig) *Node {
	if cfg.Transport == nil {
		panic("multicast: NewNode without a Transport")
	}
	lim := cfg.Limits.withDefaults()
	if cfg.Config == (Config{}) {
		cfg.Config = DefaultConfig()
	}
	n := &Node{
		cfg:       cfg.Config.Clamp(),
		lim:       lim,
		name:      cfg.Name,
		key:       cfg.Key,
		known:     cfg.Publisher || cfg.Key != StreamKey{},
		publisher: cfg.Publisher,
		tr:        cfg.Transport,
		deliver:   cfg.Deliver,
		onEnd:     cfg.OnEnd,
		published: cfg.OnPublished,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6d756c7469636173)),
		neighbors: map[NeighborID]*neighbor{},
		buf:       newFragBuffer(lim.MaxBufferedFragments, lim.MaxBufferedBytes),
		frag:      Fragmenter{MaxPayload: cfg.MaxFragmentPayload},
		pending:   map[uint64]*pull{},
		pushBit:   -1,
	}
	return n
}

// Config returns the clamped parameters in use.
func (n *Node) Config() Config { return n.cfg }

// SetConfig changes the parameters (clamped; the zero Config means
// DefaultConfig()), as setting Flash's NetStream properties on a running
// stream does: they apply from the next timer on. A publisher's neighbours
// learn the new window and periods only from stream infos sent afterwards.
func (n *Node) SetConfig(c Config, now time.Time) {
	if c == (Config{}) {
		c = DefaultConfig()
	}
	n.cfg = c.Clamp()
	if n.timersOn {
		if next := now.Add(n.cfg.mapPeriod()); next.Before(n.nextMap) {
			n.nextMap = next
		}
	}
}

// Name returns the stream name.
func (n *Node) Name() string { return n.name }

// Key returns the stream key and whether it is known yet.
func (n *Node) Key() (StreamKey, bool) { return n.key, n.known }

// IsPublisher reports whether the node is the stream's source.
func (n *Node) IsPublisher() bool { return n.publisher }

// StreamInfo returns the stream info this node sends (the first message of
// its report flows). A player that learnt the stream from a neighbour
// announces the parameters that stream info carried, not its own (see
// handleInfo).
func (n *Node) StreamInfo() StreamInfo {
	if n.relayCfg != nil {
		return NewStreamInfo(n.name, n.key, *n.relayCfg)
	}
	return NewStreamInfo(n.name, n.key, n.cfg)
}

// AddNeighbor adds a neighbour. When the stream is known the node
// announces it (stream info and fragments map). Adding a present
// neighbour does nothing.
func (n *Node) AddNeighbor(id NeighborID, now time.Time) error {
	if id == 0 {
		return ErrNeighborID
	}
	if _, ok := n.neighbors[id]; ok {
		return nil
	}
	if len(n.neighbors) >= n.lim.MaxNeighbors {
		n.st.NeighborsRefused++
		return ErrTooManyNeighbors
	}
	nb := &neighbor{id: id, firstID: n.buf.hi + 1}
	if n.publisher {
		nb.firstID = n.frag.Last() + 1
	}
	n.neighbors[id] = nb
	i, _ := slices.BinarySearch(n.order, id)
	n.order = slices.Insert(n.order, i, id)
	n.startTimers(now)
	if n.known {
		n.sendInfo(nb, now)
	}
	return nil
}

// RemoveNeighbor forgets a neighbour: its push requests, its pushes to us
// and the pulls waiting on it (they go to other neighbours).
func (n *Node) RemoveNeighbor(id NeighborID, now time.Time) {
	nb, ok := n.neighbors[id]
	if !ok {
		return
	}
	delete(n.neighbors, id)
	if i, ok := slices.BinarySearch(n.order, id); ok {
		n.order = slices.Delete(n.order, i, i+1)
	}
	n.setPushOut(nb, 0)
	for b := range n.pusher {
		if n.pusher[b].from == id {
			n.pusher[b] = pushRecord{}
		}
	}
	for _, p := range n.pending {
		if p.to == id {
			p.to = 0
		}
	}
	n.updateHorizon(now)
}

// Neighbors returns the number of neighbours.
func (n *Node) Neighbors() int { return len(n.neighbors) }

// HandleMessage processes a message of the neighbour's report flow (GR 11):
// stream info or end, fragments map, push or pull request. Messages for
// another stream, stale or forged maps and requests for fragments the node
// does not hold are ignored and counted; only undecodable messages and
// unknown neighbours return an error (the caller may log them; the node
// stays usable).
func (n *Node) HandleMessage(from NeighborID, msg []byte, now time.Time) error {
	nb, ok := n.neighbors[from]
	if !ok {
		n.st.UnknownNeighbor++
		return ErrUnknownNeighbor
	}
	n.meters.recvControl.add(now, len(msg))
	n.st.ReceivedControlBytes += uint64(len(msg))
	m, err := DecodeReport(msg)
	if err != nil {
		n.st.BadMessages++
		return err
	}
	switch m := m.(type) {
	case StreamInfo:
		n.handleInfo(nb, m, now)
	case StreamEnd:
		n.handleEnd(nb, m, now)
	case FragmentsMap:
		n.handleMap(nb, m, now)
	case Push:
		n.handlePush(nb, m)
	case Pull:
		n.handlePull(nb, m, now)
	}
	return nil
}

// HandleFragment processes a message of the neighbour's media flow (GR 12).
// The node keeps frag (it is buffered and relayed as is): the caller must
// not modify it afterwards. Duplicates, fragments outside the window and
// fragments beyond the group's horizon are ignored and counted.
func (n *Node) HandleFragment(from NeighborID, frag []byte, now time.Time) error {
	nb, ok := n.neighbors[from]
	if !ok {
		n.st.UnknownNeighbor++
		return ErrUnknownNeighbor
	}
	return n.ingest(nb, 0, frag, now)
}

// SetKey gives a player the stream key when it learns it other than from a
// neighbour's stream info (from native IP multicast). It reports whether
// the key is the node's: false when the node already has another key.
func (n *Node) SetKey(key StreamKey) bool {
	if n.known {
		return n.key == key
	}
	n.key, n.known = key, true
	return true
}

// IngestFragment processes a fragment that came from a server or from IP
// multicast rather than a neighbour; those sources are trusted (their IDs
// move the horizon directly) and counted separately. The node keeps frag.
func (n *Node) IngestFragment(src Source, frag []byte, now time.Time) error {
	if src != SourceServer && src != SourceIPMulticast {
		return ErrUnexpected
	}
	return n.ingest(nil, src, frag, now)
}

// Tick runs the timers that are due: fragments maps, pulls, push requests,
// window expiry.
func (n *Node) Tick(now time.Time) {
	if !n.timersOn {
		return
	}
	n.noticeEnd(now)
	n.endPushAll(now)
	if !now.Before(n.nextMap) || n.closed && !n.endMapped && !now.Before(n.endMapAt) {
		n.nextMap = nextTick(n.nextMap, n.cfg.mapPeriod(), now)
		n.mapRound(now)
	}
	if n.publisher {
		return
	}
	if !now.Before(n.nextPull) {
		n.nextPull = nextTick(n.nextPull, PullPeriod, now)
		n.pullRound(now)
	}
	if n.pushStarted && !now.Before(n.nextPush) {
		n.nextPush = nextTick(n.nextPush, PushPeriod, now)
		n.pushRound(now)
	}
}

// NextDeadline returns when Tick should next be called; ok is false when
// no timer runs (no neighbour yet).
func (n *Node) NextDeadline() (t time.Time, ok bool) {
	if !n.timersOn {
		return time.Time{}, false
	}
	t = n.nextMap
	if n.closed && !n.endNoticed && n.endNoticeAt.Before(t) {
		t = n.endNoticeAt
	}
	if n.closed && !n.endMapped && n.endMapAt.Before(t) {
		t = n.endMapAt
	}
	if n.closed && !n.endPushing && n.endPushAt.Before(t) {
		t = n.endPushAt
	}
	if !n.publisher {
		if n.nextPull.Before(t) {
			t = n.nextPull
		}
		if n.pushStarted && n.nextPush.Before(t) {
			t = n.nextPush
		}
	}
	return t, true
}

func (n *Node) startTimers(now time.Time) {
	if n.timersOn {
		return
	}
	n.timersOn = true
	n.nextMap = now.Add(n.cfg.mapPeriod())
	n.nextPull = now.Add(PullPeriod)
}

// nextTick advances a periodic deadline past now without drifting.
func nextTick(prev time.Time, period time.Duration, now time.Time) time.Time {
	next := prev.Add(period)
	if !next.After(now) {
		next = now.Add(period)
	}
	return next
}

// send sends a report message built in the scratch buffer.
func (n *Node) sendReport(nb *neighbor, m Message, now time.Time) {
	n.scratch = m.Append(n.scratch[:0])
	n.meters.sendControl.add(now, len(n.scratch))
	n.st.SentControlBytes += uint64(len(n.scratch))
	n.tr.Send(nb.id, FlowReport, n.scratch)
}

// sendMedia sends a buffered fragment.
func (n *Node) sendMedia(nb *neighbor, s *slot, now time.Time) {
	n.meters.sendData.add(now, len(s.raw))
	n.st.SentDataBytes += uint64(len(s.raw))
	n.tr.Send(nb.id, FlowMedia, s.raw)
}
