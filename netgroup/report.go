package netgroup

import (
	"net/netip"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// maxOwnAddresses caps the addresses this member lists for itself in a
// report (server address included).
const maxOwnAddresses = 8

// usable reports whether an address from the network may be kept and
// dialled: a real unicast address and port.
func usable(ap netip.AddrPort) bool {
	a := ap.Addr()
	return ap.IsValid() && ap.Port() != 0 && !a.IsUnspecified() && !a.IsMulticast()
}

// ownAddressesLocked lists this member's addresses for its reports, as
// librtmfp writes them: the server it uses (origin 3), then the addresses
// its neighbours see, then the configured ones (origin 1).
func (m *Member) ownAddressesLocked() []wire.Address {
	out := make([]wire.Address, 0, maxOwnAddresses)
	add := func(a wire.Address) {
		if len(out) >= maxOwnAddresses || !usable(a.AddrPort) {
			return
		}
		for _, x := range out {
			if x.AddrPort == a.AddrPort {
				return
			}
		}
		out = append(out, a)
	}
	if m.cfg.ServerAddress.IsValid() {
		add(wire.Address{AddrPort: m.cfg.ServerAddress, Origin: wire.OriginRelay})
	}
	for _, a := range m.myAddrs {
		add(a)
	}
	for _, ap := range m.cfg.Addresses {
		add(wire.Address{AddrPort: ap, Origin: wire.OriginReported})
	}
	return out
}

// buildReportLocked writes the group report for neighbour n (rtmfp-facts
// §6.7, librtmfp NetGroup::sendGroupReport): how we see n, our addresses,
// then the peers of the best list we compute for n, each with the seconds
// since we last heard of it and its addresses. A connected neighbour is
// reported as heard of 0 s ago (its session is alive); librtmfp counts from
// the last report received from or about it.
func (m *Member) buildReportLocked(n *Neighbor, now time.Time) []byte {
	return m.reportForLocked(n.id, n.s.RemoteAddr(), now)
}

// reportForLocked writes the group report for peer id, seen at seen.
func (m *Member) reportForLocked(id profile.PeerID, seen netip.AddrPort, now time.Time) []byte {
	r := group.Report{
		FarAddress: wire.Address{AddrPort: seen, Origin: wire.OriginObserved},
		Addresses:  group.AddressList{Addresses: m.ownAddressesLocked()},
	}
	size := r.Len()
	limit := uint64(m.cfg.PeerTimeout / time.Second)
	for _, c := range group.BestList(group.AddressOf(id), m.candidatesLocked(), m.rnd) {
		h := m.heard[c.ID]
		if h == nil || c.ID == id || c.ID == m.self {
			continue
		}
		var elapsed uint64
		if x := m.neighbors[c.ID]; x == nil || !x.connected {
			elapsed = uint64(max(0, now.Sub(h.lastHeard)) / time.Second)
		}
		if elapsed >= limit {
			continue
		}
		e := group.NewReportEntry(c.ID, elapsed, h.reportAddresses()...)
		el := 1 + group.RawPeerIDLen + vlu.Len(elapsed) + e.Addresses.Len() + 1
		if size+el > group.MaxReportLen {
			break
		}
		size += el
		r.Peers = append(r.Peers, e)
	}
	return r.Append(nil)
}

// applyReportLocked learns from a neighbour's report (librtmfp
// NetGroup::readGroupReport): the address it sees us at, its own
// addresses, and the peers it lists; entries heard of 300 s ago or more are
// ignored, as are peers known to be gone.
func (m *Member) applyReportLocked(n *Neighbor, r group.Report, now time.Time) {
	m.applyReportFromLocked(n.id, r, now)
}

// applyReportFromLocked learns from the report of peer from.
func (m *Member) applyReportFromLocked(from profile.PeerID, r group.Report, now time.Time) {
	if usable(r.FarAddress.AddrPort) {
		m.learnOwnLocked(r.FarAddress)
	}
	if h := m.heard[from]; h != nil {
		h.lastHeard = now
		h.addAddresses(r.Addresses.Addresses)
	}
	limit := uint64(m.cfg.PeerTimeout / time.Second)
	learned := false
	for _, e := range r.Peers {
		id, ok := e.PeerID()
		if !ok || id == m.self || e.Elapsed >= limit {
			continue
		}
		if _, gone := m.dead[id]; gone {
			continue
		}
		at := now.Add(-time.Duration(e.Elapsed) * time.Second)
		h, isNew := m.hearLocked(id, at)
		if h == nil {
			continue
		}
		if isNew {
			learned = true
			m.stats.LearnedByPeer++
		}
		h.lastHeard = maxTime(h.lastHeard, at)
		h.addAddresses(e.Addresses.Addresses)
	}
	if learned {
		m.kickBestList()
	}
}

// learnOwnLocked records an address a neighbour sees us at.
func (m *Member) learnOwnLocked(a wire.Address) {
	for i, x := range m.myAddrs {
		if x.AddrPort == a.AddrPort {
			m.myAddrs[i].Origin = a.Origin
			return
		}
	}
	if len(m.myAddrs) >= maxAddresses {
		copy(m.myAddrs, m.myAddrs[1:])
		m.myAddrs = m.myAddrs[:len(m.myAddrs)-1]
	}
	m.myAddrs = append(m.myAddrs, a)
}
