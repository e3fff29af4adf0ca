package netgroup

import (
	"context"
	"net/netip"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// maxConnectFailures is how many failed attempts in a row make a peer
// count as gone (kept out of the heard list for PeerTimeout).
const maxConnectFailures = 3

// heardPeer is a member of the heard list: a peer known from the
// rendezvous or from reports, with where it may be reached.
type heardPeer struct {
	id        profile.PeerID
	addr      group.Address
	lastHeard time.Time
	server    wire.Address   // the server it uses (origin 3), if known
	addrs     []wire.Address // its own addresses, newest last
	failures  int
	retryAt   time.Time
}

// addAddresses records addresses from a report: origin 3 is the peer's
// server, the others its own.
func (h *heardPeer) addAddresses(list []wire.Address) {
	for _, a := range list {
		if a.Origin&3 == wire.OriginRelay {
			if usable(a.AddrPort) {
				h.server = a
			}
			continue
		}
		h.addAddress(a)
	}
}

// addAddress records one of the peer's own addresses, keeping the newest
// maxAddresses.
func (h *heardPeer) addAddress(a wire.Address) {
	if !usable(a.AddrPort) {
		return
	}
	for i, x := range h.addrs {
		if x.AddrPort == a.AddrPort {
			copy(h.addrs[i:], h.addrs[i+1:])
			h.addrs[len(h.addrs)-1] = a
			return
		}
	}
	if len(h.addrs) >= maxAddresses {
		copy(h.addrs, h.addrs[1:])
		h.addrs = h.addrs[:len(h.addrs)-1]
	}
	h.addrs = append(h.addrs, a)
}

// reportAddresses lists the peer's addresses for a report entry: its
// server first (origin 3), then its own.
func (h *heardPeer) reportAddresses() []wire.Address {
	out := make([]wire.Address, 0, 1+len(h.addrs))
	if h.server.AddrPort.IsValid() {
		out = append(out, h.server)
	}
	return append(out, h.addrs...)
}

// dialAddresses lists the peer's own addresses, newest first.
func (h *heardPeer) dialAddresses() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(h.addrs))
	for i := len(h.addrs) - 1; i >= 0; i-- {
		out = append(out, h.addrs[i].AddrPort)
	}
	return out
}

// hearLocked returns the heard-list entry of id, adding it (heard of at
// at) if needed; it reports whether it is new. When the list is full the
// entry heard of longest ago that is neither a neighbour nor being
// connected goes; nil is returned when none can.
func (m *Member) hearLocked(id profile.PeerID, at time.Time) (*heardPeer, bool) {
	if h := m.heard[id]; h != nil {
		return h, false
	}
	if id == m.self {
		return nil, false
	}
	if len(m.heard) >= m.cfg.MaxHeard && !m.evictLocked() {
		return nil, false
	}
	h := &heardPeer{id: id, addr: group.AddressOf(id), lastHeard: at}
	m.heard[id] = h
	return h, true
}

func (m *Member) evictLocked() bool {
	var victim *heardPeer
	for id, h := range m.heard {
		if m.neighbors[id] != nil || m.pending[id] {
			continue
		}
		if victim == nil || h.lastHeard.Before(victim.lastHeard) {
			victim = h
		}
	}
	if victim == nil {
		return false
	}
	delete(m.heard, victim.id)
	return true
}

// markDeadLocked keeps id out of the heard list for PeerTimeout.
func (m *Member) markDeadLocked(id profile.PeerID, now time.Time) {
	delete(m.heard, id)
	if len(m.dead) >= m.cfg.MaxHeard {
		for k := range m.dead {
			delete(m.dead, k)
			break
		}
	}
	m.dead[id] = now
}

func (m *Member) heardAddressesLocked() []group.Address {
	out := make([]group.Address, 0, len(m.heard))
	for _, h := range m.heard {
		out = append(out, h.addr)
	}
	return out
}

// candidatesLocked offers the heard list to group.BestList.
func (m *Member) candidatesLocked() []group.Candidate {
	out := make([]group.Candidate, 0, len(m.heard))
	for id, h := range m.heard {
		c := group.Candidate{ID: id, Address: h.addr}
		if n := m.neighbors[id]; n != nil && n.connected {
			c.Connected, c.Latency = true, n.s.Stats().SRTT
		}
		out = append(out, c)
	}
	return out
}

// updateBestList recomputes the best list and moves the neighbours towards
// it (librtmfp NetGroup::updateBestList, manageBestConnections): neighbours
// beyond the best list's size that are not in it are asked to disconnect
// (0C, each at most once per AskCloseInterval), and best-list peers not yet
// neighbours are connected until the count is reached. librtmfp asks only
// the peers that left its previous best list; any neighbour outside the
// best list is asked here, so that neighbours that connected to us count
// too.
//
// A hub (Config.KeepNeighbors) keeps up to that many neighbours whatever
// the best list, and connects to other heard members up to that count.
//
// The best list's size is group.TargetNeighborCount of the estimated group
// size, floor(log2(N)) + 13: librtmfp's current value. librtmfp first used
// 2·log2(N) + 13 and reduced it in 2017 ("The number of peers in the Best
// List has been reduced (log2(N) + 13)", commit a567744); what Flash uses
// is not documented, and librtmfp, which interoperates with it, is the only
// source.
func (m *Member) updateBestList() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	now := time.Now()
	best := group.BestList(m.selfAddr, m.candidatesLocked(), m.rnd)
	clear(m.best)
	for _, c := range best {
		m.best[c.ID] = true
	}
	var connected []*Neighbor
	for _, n := range m.neighbors {
		if n.connected {
			connected = append(connected, n)
		}
	}
	size := max(len(best), min(m.cfg.KeepNeighbors, m.cfg.MaxNeighbors))
	if excess := len(connected) - size; excess > 0 {
		m.rnd.Shuffle(len(connected), func(i, j int) { connected[i], connected[j] = connected[j], connected[i] })
		for _, n := range connected {
			if excess == 0 {
				break
			}
			if !m.best[n.id] && m.askCloseLocked(n, now) {
				excess--
			}
		}
	}
	missing := size - len(m.neighbors) - len(m.pending)
	for _, c := range best {
		if missing <= 0 {
			break
		}
		if m.connectLocked(c.ID) {
			missing--
		}
	}
	// A hub also connects to the other heard members, up to its size.
	for id := range m.heard {
		if missing <= 0 {
			break
		}
		if !m.best[id] && m.connectLocked(id) {
			missing--
		}
	}
}

// periodicReport sends a report to one random connected neighbour we are
// not already waiting for an answer from (librtmfp NetGroup::manage).
func (m *Member) periodicReport() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var pick *Neighbor
	k := 0
	for _, n := range m.neighbors {
		if n.connected && !n.reportInitiator {
			k++
			if m.rnd.IntN(k) == 0 {
				pick = n
			}
		}
	}
	if pick != nil {
		m.sendReportLocked(pick, true)
	}
}

// cleanup forgets peers not heard of for PeerTimeout (librtmfp
// NetGroup::cleanHeardList) and gives up group handshakes that take too
// long. Unlike librtmfp, which also closes a connected peer that no report
// mentioned for PeerTimeout, a neighbour stays while its session and GR
// 1C flows live.
func (m *Member) cleanup() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for id, h := range m.heard {
		if m.neighbors[id] == nil && !m.pending[id] && now.Sub(h.lastHeard) > m.cfg.PeerTimeout {
			delete(m.heard, id)
		}
	}
	for id, t := range m.dead {
		if now.Sub(t) > m.cfg.PeerTimeout {
			delete(m.dead, id)
		}
	}
	for _, n := range m.neighbors {
		if !n.connected && now.Sub(n.created) > m.cfg.HandshakeTimeout {
			m.removeNeighborLocked(n, ErrHandshakeTimeout)
		}
	}
}

// connectLocked starts opening a P2P session to id if the limits allow;
// it reports whether it did.
func (m *Member) connectLocked(id profile.PeerID) bool {
	if m.closed || id == m.self || m.neighbors[id] != nil || m.pending[id] {
		return false
	}
	if len(m.pending) >= m.cfg.MaxPendingConnects || len(m.neighbors)+len(m.pending) >= m.cfg.MaxNeighbors {
		return false
	}
	var addrs []netip.AddrPort
	if h := m.heard[id]; h != nil {
		if time.Now().Before(h.retryAt) {
			return false
		}
		addrs = h.dialAddresses()
	}
	m.pending[id] = true
	m.stats.Connects++
	m.wg.Add(1)
	go m.connect(id, addrs)
	return true
}

// connect opens a session to id: an open P2P session with it if there is
// one, else a handshake straight to its known addresses, else an
// introduction by the rendezvous (librtmfp also tries the addresses from
// reports before the server, RTMFPHandshaker's 5 s "rendezvous delayed").
func (m *Member) connect(id profile.PeerID, addrs []netip.AddrPort) {
	defer m.wg.Done()
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.ConnectTimeout)
	defer cancel()
	s, err := m.openSession(ctx, id, addrs)
	if err != nil || s.FarPeerID() != id || !s.PeerMode() {
		m.mu.Lock()
		delete(m.pending, id)
		if m.ctx.Err() == nil {
			m.connectFailedLocked(id, time.Now())
		}
		m.mu.Unlock()
		if err == nil {
			HandleSession(s) // not ours to use: let the idle timer close it
		}
		return
	}
	m.attachOutgoing(s)
}

func (m *Member) openSession(ctx context.Context, id profile.PeerID, addrs []netip.AddrPort) (*rtmfp.Session, error) {
	if s, ok := m.ep.Session(id); ok && s.PeerMode() && s.Err() == nil {
		return s, nil
	}
	if len(addrs) > 0 {
		dctx, dcancel := context.WithTimeout(ctx, m.cfg.DirectTimeout)
		s, err := m.ep.Connect(dctx, flash.PeerEPD(id), addrs...)
		dcancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return m.cfg.Rendezvous.Connect(ctx, id)
}

// connectFailedLocked backs off from a peer that could not be reached and
// gives it up after maxConnectFailures attempts (librtmfp marks a peer dead
// only on MonaServer2's "dead peer" redirect; it is kept out of reports'
// reach for PeerTimeout both ways).
func (m *Member) connectFailedLocked(id profile.PeerID, now time.Time) {
	m.stats.ConnectFailures++
	h := m.heard[id]
	if h == nil {
		return
	}
	h.failures++
	if h.failures >= maxConnectFailures {
		m.markDeadLocked(id, now)
		return
	}
	h.retryAt = now.Add(m.cfg.BestListInterval << h.failures)
}
