// Package groupstream runs NetStreams over a NetGroup: it publishes a
// stream into P2P multicast and plays one from it, as Flash's
// NetStream(connection, groupspec) and FMS 4's server-side group NetStreams
// do. It joins the two halves built elsewhere: netgroup (the member and its
// neighbours, with one "GR 11" report flow and one "GR 12" media flow per
// stream and neighbour) and the multicast engine (multicast.Node: fragments,
// availability maps, push and pull, window).
//
// One goroutine owns every engine node of a Group; the neighbours' flows are
// read by their own goroutines, which hand messages over through a bounded
// queue, and the engine's messages are written without blocking (a flow
// whose buffer is full drops the message; the engine repairs media by
// pulling and repeats its reports).
//
// Routing follows the recorded librtmfp traffic: a report flow is opened per
// stream and neighbour, associated with the neighbour's GR 1C flow; its
// first message is the stream info (0x21) naming the stream and its key; the
// media flow answering it is associated with it.
package groupstream

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// Errors of stream operations.
var (
	// ErrNameInUse is returned by Publish for a name this member already
	// publishes or plays (NetStream.Publish.BadName).
	ErrNameInUse = errors.New("groupstream: stream name already in use on this member")
	// ErrClosed is returned after the Group was closed.
	ErrClosed = errors.New("groupstream: closed")
)

// Flow options of the multicast flows: reports are reliable, fragments
// abandoned after the relay margin (the engine pulls what is lost).
const (
	reportPriority = 2
	mediaLifetime  = 3 * time.Second
	eventQueue     = 4096
)

// Group is the multicast side of one netgroup.Member. Give it to the member
// as its Handler (netgroup.Config.Handler) before joining.
type Group struct {
	log    *slog.Logger
	events chan event
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the loop goroutine.
	streams   map[string]*stream // by name
	neighbors map[*netgroup.Neighbor]*peer
	byID      map[multicast.NeighborID]*peer
	theirs    map[*rtmfp.RecvFlow]route // neighbours' report flows
	ours      map[*rtmfp.SendFlow]route // our report flows
	nextID    multicast.NeighborID
	seed      uint64
}

// route names the stream and neighbour of a flow.
type route struct {
	p *peer
	s *stream
}

// peer is one neighbour as the multicast layer sees it.
type peer struct {
	n  *netgroup.Neighbor
	id multicast.NeighborID
	// Per stream: our report flow, the neighbour's report flow, our media
	// flow.
	flows map[*stream]*peerFlows
}

type peerFlows struct {
	report      *rtmfp.SendFlow
	theirReport *rtmfp.RecvFlow
	media       *rtmfp.SendFlow
}

// New returns a Group; logger may be nil.
func New(logger *slog.Logger) *Group {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var seed [8]byte
	rand.Read(seed[:])
	g := &Group{
		log:       logger,
		events:    make(chan event, eventQueue),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		streams:   map[string]*stream{},
		neighbors: map[*netgroup.Neighbor]*peer{},
		byID:      map[multicast.NeighborID]*peer{},
		theirs:    map[*rtmfp.RecvFlow]route{},
		ours:      map[*rtmfp.SendFlow]route{},
		seed:      uint64(seed[0]) | uint64(seed[1])<<8 | uint64(seed[2])<<16 | uint64(seed[3])<<24,
	}
	go g.loop()
	return g
}

// Close stops every stream of the group.
func (g *Group) Close() {
	g.cancel()
	<-g.done
}

// eventKind tells the loop what happened.
type eventKind uint8

const (
	evNeighborUp eventKind = iota
	evNeighborDown
	evReportFlow    // a neighbour's GR 11 flow arrived (first message in msg)
	evReportMessage // a later message on a neighbour's GR 11 flow
	evFragment      // a message on a neighbour's GR 12 flow
	evPublish       // a media message of a local publisher
	evAddStream     // a local stream starts (publish or play)
	evRemoveStream  // a local stream ends
	evStats         // a statistics request
	evIngest        // a fragment from outside the mesh (IP multicast)
	evConfig        // a player's multicast parameters set (or asked for, query)
	evStreams       // statistics of every stream
)

type event struct {
	kind   eventKind
	n      *netgroup.Neighbor
	s      *stream
	rf     *rtmfp.RecvFlow
	ours   *rtmfp.SendFlow
	msg    []byte
	m      media.Message
	reply  chan any
	source multicast.Source
	key    multicast.StreamKey
	cfg    multicast.Config
	query  bool
}

// post queues an event for the loop; it blocks while the queue is full (a
// neighbour's reader then stops reading, which applies RTMFP flow control).
func (g *Group) post(ev event) bool {
	if g.ctx.Err() != nil {
		return false
	}
	select {
	case g.events <- ev:
		return true
	case <-g.ctx.Done():
		return false
	}
}

// call posts an event with a reply channel and returns the loop's answer,
// or nil when the Group is closed (before or while the event waited).
func (g *Group) call(ev event) any {
	if !g.post(ev) {
		return nil
	}
	select {
	case r := <-ev.reply:
		return r
	case <-g.done:
		return nil
	}
}

// NeighborConnected implements netgroup.Handler.
func (g *Group) NeighborConnected(n *netgroup.Neighbor) { g.post(event{kind: evNeighborUp, n: n}) }

// NeighborDisconnected implements netgroup.Handler.
func (g *Group) NeighborDisconnected(n *netgroup.Neighbor, err error) {
	g.post(event{kind: evNeighborDown, n: n})
}

// ReportFlow implements netgroup.Handler: a neighbour's GR 11 flow.
func (g *Group) ReportFlow(n *netgroup.Neighbor, f *rtmfp.RecvFlow) {
	go func() {
		first := true
		for {
			b, err := f.ReadMessage(g.ctx)
			if err != nil {
				return
			}
			kind := evReportMessage
			if first {
				kind, first = evReportFlow, false
			}
			if !g.post(event{kind: kind, n: n, rf: f, msg: b}) {
				return
			}
		}
	}()
}

// MediaFlow implements netgroup.Handler: a neighbour's GR 12 flow answering
// our report flow ours.
func (g *Group) MediaFlow(n *netgroup.Neighbor, ours *rtmfp.SendFlow, f *rtmfp.RecvFlow) {
	go func() {
		for {
			b, err := f.ReadMessage(g.ctx)
			if err != nil {
				return
			}
			if !g.post(event{kind: evFragment, n: n, ours: ours, msg: b}) {
				return
			}
		}
	}()
}

var _ netgroup.Handler = (*Group)(nil)

// loop owns the engine nodes.
func (g *Group) loop() {
	defer close(g.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		next := now.Add(time.Hour)
		for _, s := range g.streams {
			if d, ok := s.node.NextDeadline(); ok && d.Before(next) {
				next = d
			}
			if !s.lingerUntil.IsZero() && s.lingerUntil.Before(next) {
				next = s.lingerUntil
			}
		}
		timer.Reset(max(next.Sub(now), 0))
		select {
		case ev := <-g.events:
			g.handle(ev, time.Now())
			// Drain what else is queued before ticking.
			for i := 0; i < 256; i++ {
				select {
				case ev := <-g.events:
					g.handle(ev, time.Now())
					continue
				default:
				}
				break
			}
		case <-timer.C:
		case <-g.ctx.Done():
			g.shutdown()
			return
		}
		now = time.Now()
		for _, s := range g.streams {
			if d, ok := s.node.NextDeadline(); ok && !now.Before(d) {
				s.node.Tick(now)
			}
		}
		g.expireLingering(now)
	}
}

// shutdown ends every stream.
func (g *Group) shutdown() {
	now := time.Now()
	for _, s := range g.streams {
		g.removeStream(s, now, false)
	}
}
