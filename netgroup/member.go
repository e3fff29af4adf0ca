package netgroup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Member is this endpoint's membership of one NetGroup: it joins through
// the rendezvous, runs the group handshake on P2P sessions, exchanges group
// reports, keeps a heard list of members and a set of neighbours near the
// target count. Its methods are safe for concurrent use.
type Member struct {
	cfg      Config
	ep       *rtmfp.Endpoint
	spec     *group.Spec
	gid      group.GroupID
	txt      string
	self     profile.PeerID
	selfAddr group.Address
	d        *dispatcher
	log      *slog.Logger
	ms       Membership
	ev       *eventQueue
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	kick     chan struct{}

	mu        sync.Mutex
	closed    bool
	rnd       *rand.Rand
	neighbors map[profile.PeerID]*Neighbor // connected and in handshake
	pending   map[profile.PeerID]bool      // sessions being opened
	heard     map[profile.PeerID]*heardPeer
	dead      map[profile.PeerID]time.Time
	myAddrs   []wire.Address // addresses neighbours told us they see
	best      map[profile.PeerID]bool
	stats     Stats
	msgs      messaging // posts and routed messages (its own lock)
}

// Stats is a snapshot of a member's state and counters.
type Stats struct {
	Neighbors        int     // connected neighbours
	Handshaking      int     // sessions in the group handshake
	Pending          int     // sessions being opened
	Heard            int     // heard list size
	BestList         int     // size of the last best list
	EstimatedMembers float64 // group size estimated from the ring
	TargetNeighbors  int     // group.TargetNeighborCount(EstimatedMembers)

	Connects, ConnectFailures         uint64
	InitsRefused                      uint64
	ReportsSent, ReportsReceived      uint64
	AskCloseSent, AskCloseReceived    uint64
	AskCloseAccepted, BadMessages     uint64
	NeighborsAdded, NeighborsRemoved  uint64
	IntroducedByServer, LearnedByPeer uint64
}

// Join joins the group of cfg.Spec through cfg.Rendezvous and starts
// looking for neighbours. The endpoint's P2P sessions must be handed to
// HandleSession (or Serve run on the endpoint).
func Join(ctx context.Context, cfg Config) (*Member, error) {
	if cfg.Endpoint == nil || cfg.Rendezvous == nil {
		return nil, errors.New("netgroup: Config needs an Endpoint and a Rendezvous")
	}
	spec, err := group.ParseSpec(cfg.Spec)
	if err != nil {
		return nil, err
	}
	cfg.populate()
	self := cfg.Endpoint.PeerID()
	m := &Member{
		cfg: cfg, ep: cfg.Endpoint, spec: spec, gid: spec.GroupID(), txt: spec.GroupTxt(),
		self: self, selfAddr: group.AddressOf(self), log: cfg.Logger,
		kick: make(chan struct{}, 1), rnd: cfg.Rand,
		neighbors: map[profile.PeerID]*Neighbor{}, pending: map[profile.PeerID]bool{},
		heard: map[profile.PeerID]*heardPeer{}, dead: map[profile.PeerID]time.Time{},
		best: map[profile.PeerID]bool{},
	}
	m.msgs.init()
	m.log = m.log.With("group", m.gid.String()[:16])
	m.ev = newEventQueue(cfg.Handler, 4*cfg.MaxNeighbors+256)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.d = dispatcherFor(m.ep)
	if err := m.d.register(m); err != nil {
		m.cancel()
		m.d.forget()
		return nil, err
	}
	// Sessions may bring group inits from now on; they wait on m.mu.
	m.mu.Lock()
	ms, err := cfg.Rendezvous.Join(ctx, m.gid)
	if err != nil {
		m.closed = true
		m.mu.Unlock()
		m.cancel()
		m.d.unregister(m)
		return nil, fmt.Errorf("netgroup: join: %w", err)
	}
	m.ms = ms
	m.mu.Unlock()
	go m.ev.run()
	m.wg.Add(2)
	go m.manage()
	go m.readMembers()
	return m, nil
}

// GroupID returns the group's ID.
func (m *Member) GroupID() group.GroupID { return m.gid }

// Spec returns the parsed groupspec.
func (m *Member) Spec() *group.Spec { return m.spec }

// HandleSession gives a P2P session (Session.PeerMode) of the member's
// endpoint to the endpoint's NetGroup members; see the package function.
func (m *Member) HandleSession(s *rtmfp.Session) { HandleSession(s) }

// Close leaves the group: every neighbour's GR flows are closed (and the
// P2P sessions no other group uses), the membership with the rendezvous
// ends, and Close returns once the member's goroutines have stopped and
// the Handler has received the last events. It must not be called from a
// Handler method.
func (m *Member) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, n := range m.neighbors {
		m.removeNeighborLocked(n, ErrClosed)
	}
	m.mu.Unlock()
	m.cancel()
	err := m.ms.Leave()
	m.wg.Wait()
	m.d.unregister(m)
	m.ev.stop()
	<-m.ev.done
	return err
}

// Neighbors returns the connected neighbours.
func (m *Member) Neighbors() []*Neighbor {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Neighbor, 0, len(m.neighbors))
	for _, n := range m.neighbors {
		if n.connected {
			out = append(out, n)
		}
	}
	return out
}

// Stats returns the member's state and counters.
func (m *Member) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stats
	st.Neighbors, st.Handshaking = 0, 0
	for _, n := range m.neighbors {
		if n.connected {
			st.Neighbors++
		} else {
			st.Handshaking++
		}
	}
	st.Pending, st.Heard, st.BestList = len(m.pending), len(m.heard), len(m.best)
	st.EstimatedMembers = group.EstimatedMemberCount(m.selfAddr, m.heardAddressesLocked())
	st.TargetNeighbors = group.TargetNeighborCount(st.EstimatedMembers)
	return st
}

// readMembers connects to the members the rendezvous introduces, as
// librtmfp does on a 0B message (rtmfp-facts §6.3).
func (m *Member) readMembers() {
	defer m.wg.Done()
	ch := m.ms.Members()
	for {
		select {
		case <-m.ctx.Done():
			return
		case id, ok := <-ch:
			if !ok {
				return
			}
			if id == m.self {
				continue
			}
			m.mu.Lock()
			delete(m.dead, id)
			if h, isNew := m.hearLocked(id, time.Now()); h != nil {
				if isNew {
					m.stats.IntroducedByServer++
				}
				if !h.server.AddrPort.IsValid() && m.cfg.ServerAddress.IsValid() {
					h.server = wire.Address{AddrPort: m.cfg.ServerAddress, Origin: wire.OriginRelay}
				}
				h.retryAt = time.Time{}
				m.connectLocked(id)
			}
			m.mu.Unlock()
			m.kickBestList()
		}
	}
}

// kickBestList asks the manager for an early best-list update.
func (m *Member) kickBestList() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// manage runs the member's timers: reports, best list, heard list cleanup.
func (m *Member) manage() {
	defer m.wg.Done()
	reportT := time.NewTicker(m.cfg.ReportInterval)
	defer reportT.Stop()
	bestT := time.NewTicker(m.cfg.BestListInterval)
	defer bestT.Stop()
	gap := min(2*time.Second, m.cfg.BestListInterval/5)
	var last time.Time
	var deferred <-chan time.Time
	update := func() {
		deferred = nil
		last = time.Now()
		m.updateBestList()
	}
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-reportT.C:
			m.periodicReport()
		case <-bestT.C:
			m.cleanup()
			update()
		case <-m.kick:
			if since := time.Since(last); since >= gap {
				update()
			} else if deferred == nil {
				deferred = time.After(gap - since)
			}
		case <-deferred:
			update()
		}
	}
}

// onInit handles the first message of a GR 1C flow the far end opened: the
// group init. A valid one makes the peer a neighbour: this end answers with
// its own GR 1C flow if it has not opened one yet (rtmfp-facts §6.4).
func (m *Member) onInit(s *rtmfp.Session, f *rtmfp.RecvFlow, b []byte) {
	far := s.FarPeerID()
	sc := s.Crypto()
	var err error
	if sc == nil {
		err = fmt.Errorf("%w: session without keys", ErrBadInit)
	} else {
		_, expect := group.SessionKeys(m.txt, sc)
		_, err = checkInit(b, m.gid, m.self, expect)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.stats.InitsRefused++
		m.log.Info("group init refused", "peerID", far.String(), "reason", err.Error())
		f.Reject(RejectHandshake)
		if n := m.neighbors[far]; n != nil && n.s == s && !n.connected {
			m.removeNeighborLocked(n, err)
		}
		return
	}
	if m.closed {
		f.Reject(RejectHandshake)
		return
	}
	n := m.neighbors[far]
	if n != nil && n.s != s {
		if !preferSession(m.self, n.s, s) {
			f.Reject(RejectDuplicate)
			return
		}
		m.removeNeighborLocked(n, ErrReplaced)
		n = nil
	}
	if n != nil && n.in != nil {
		f.Reject(RejectDuplicate)
		return
	}
	if n == nil {
		if len(m.neighbors) >= m.cfg.MaxNeighbors {
			f.Reject(RejectFull)
			return
		}
		if n = m.newNeighborLocked(s); n == nil {
			f.Reject(RejectHandshake)
			return
		}
	}
	n.in = f
	if n.out == nil {
		if err := m.openOutLocked(n); err != nil {
			m.removeNeighborLocked(n, err)
			return
		}
	}
	m.connectedLocked(n)
}

// preferSession decides, when a peer runs the group handshake on a second
// session, whether next replaces cur. Both ends must pick the same session:
// the one opened by the peer with the larger peer ID wins (librtmfp keeps
// the larger ID's handshake on glare, P2PSession::onHandshake38); between
// two sessions the same peer opened, the newest wins.
func preferSession(self profile.PeerID, cur, next *rtmfp.Session) bool {
	if cur.Err() != nil {
		return true
	}
	ci, ni := initiatorOf(self, cur), initiatorOf(self, next)
	if c := compareIDs(ni, ci); c != 0 {
		return c > 0
	}
	return true
}

func initiatorOf(self profile.PeerID, s *rtmfp.Session) profile.PeerID {
	if s.Initiator() {
		return self
	}
	return s.FarPeerID()
}

func compareIDs(a, b profile.PeerID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// newNeighborLocked binds a new neighbour to s.
func (m *Member) newNeighborLocked(s *rtmfp.Session) *Neighbor {
	m.d.addSession(s)
	if !m.d.acquire(s) {
		return nil
	}
	id := s.FarPeerID()
	n := &Neighbor{m: m, id: id, addr: group.AddressOf(id), s: s, created: time.Now(), done: make(chan struct{})}
	n.ctx, n.cancel = context.WithCancel(m.ctx)
	m.neighbors[id] = n
	delete(m.dead, id)
	if h, _ := m.hearLocked(id, time.Now()); h != nil {
		h.addAddress(wire.Address{AddrPort: s.RemoteAddr(), Origin: wire.OriginObserved})
	}
	return n
}

// openOutLocked opens our GR 1C flow to n and writes the group init, 02
// and begin, then watches the flow and the session.
func (m *Member) openOutLocked(n *Neighbor) error {
	sc := n.s.Crypto()
	if sc == nil {
		return fmt.Errorf("%w: session without keys", ErrBadInit)
	}
	out, err := n.s.OpenFlow(group.MetadataGRReport, rtmfp.FlowOptions{})
	if err != nil {
		return err
	}
	for _, b := range initMessages(m.txt, m.gid, sc, n.id) {
		if err := out.Write(b); err != nil {
			out.Close()
			return err
		}
	}
	n.out = out
	m.d.own(out, flowOwner{n: n})
	m.wg.Add(1)
	go m.watch(n, out)
	return nil
}

// connectedLocked completes the group handshake with n.
func (m *Member) connectedLocked(n *Neighbor) {
	n.connected = true
	m.stats.NeighborsAdded++
	if h := m.heard[n.id]; h != nil {
		h.failures, h.retryAt = 0, time.Time{}
	}
	m.ev.push(event{kind: evConnected, n: n})
	for _, ev := range n.held {
		m.ev.push(ev)
	}
	n.held = nil
	m.log.Debug("neighbour connected", "peerID", n.id.String(), "initiator", n.s.Initiator())
	m.openMessagesLocked(n)
	m.wg.Add(1)
	go m.readLoop(n)
}

// watch ends the neighbour when its session ends or its GR 1C flow is
// refused (the peer refused our init, or accepted our 0C).
func (m *Member) watch(n *Neighbor, out *rtmfp.SendFlow) {
	defer m.wg.Done()
	select {
	case <-n.done:
	case <-m.ctx.Done():
	case <-n.s.Done():
		m.removeNeighbor(n, fmt.Errorf("%w: %w", ErrLeft, n.s.Err()))
	case <-out.Done():
		var fe *rtmfp.FlowException
		switch err := out.Err(); {
		case errors.As(err, &fe):
			m.removeNeighbor(n, ErrRefused)
		case err != nil:
			m.removeNeighbor(n, fmt.Errorf("%w: %w", ErrLeft, err))
		default:
			m.removeNeighbor(n, ErrLeft)
		}
	}
}

// removeNeighbor ends a neighbour.
func (m *Member) removeNeighbor(n *Neighbor, err error) {
	m.mu.Lock()
	m.removeNeighborLocked(n, err)
	m.mu.Unlock()
}

// removeNeighborLocked ends a neighbour: its flows are closed, the
// session released (closed when no group uses it any more) and the
// Handler told.
func (m *Member) removeNeighborLocked(n *Neighbor, err error) {
	if n.removed {
		return
	}
	n.removed, n.err = true, err
	if m.neighbors[n.id] == n {
		delete(m.neighbors, n.id)
	}
	flows := append([]*rtmfp.SendFlow{n.out}, n.reportFlows...)
	if n.out == nil {
		flows = flows[1:]
	}
	m.d.disown(flows...)
	for _, f := range flows {
		f.Close()
	}
	for _, ev := range n.held {
		ev.flow.Reject(RejectUnsupported)
	}
	n.held = nil
	now := time.Now()
	if h := m.heard[n.id]; h != nil {
		h.lastHeard = maxTime(h.lastHeard, now)
		if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrReplaced) {
			// Do not come back at once to a peer that left or pushed us away.
			h.retryAt = now.Add(m.cfg.AskCloseInterval)
		}
	}
	m.dropMessages(n)
	if n.connected {
		m.stats.NeighborsRemoved++
		m.ev.push(event{kind: evDisconnected, n: n, err: err})
		m.log.Debug("neighbour disconnected", "peerID", n.id.String(), "err", err)
	}
	close(n.done)
	n.cancel()
	m.d.release(n.s)
	m.kickBestList()
}

// incomingFlow hands a GR 11 or GR 12 flow of a neighbour to the Handler,
// holding it while the group handshake completes.
func (m *Member) incomingFlow(n *Neighbor, assoc *rtmfp.SendFlow, f *rtmfp.RecvFlow) {
	ev := event{kind: evReportFlow, n: n, flow: f}
	if assoc != n.out {
		ev.kind, ev.assoc = evMediaFlow, assoc
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case n.removed:
		f.Reject(RejectUnsupported)
	case !n.connected:
		if len(n.held) >= maxHeldFlows {
			f.Reject(RejectUnsupported)
			return
		}
		n.held = append(n.held, ev)
	default:
		m.ev.push(ev)
	}
}

// attachOutgoing starts the group handshake on a session this member
// opened (or found open) to a peer.
func (m *Member) attachOutgoing(s *rtmfp.Session) {
	m.d.addSession(s)
	far := s.FarPeerID()
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, far)
	if m.closed || far == m.self {
		return
	}
	if n := m.neighbors[far]; n != nil {
		if n.s == s || n.s.Err() == nil {
			return
		}
		m.removeNeighborLocked(n, ErrReplaced)
	}
	if len(m.neighbors) >= m.cfg.MaxNeighbors {
		return
	}
	n := m.newNeighborLocked(s)
	if n == nil {
		return
	}
	if err := m.openOutLocked(n); err != nil {
		m.removeNeighborLocked(n, err)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
