package netgroup

import (
	"errors"
	"io"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
)

// readLoop reads the neighbour's GR 1C flow after its group init.
func (m *Member) readLoop(n *Neighbor) {
	defer m.wg.Done()
	for {
		b, err := n.in.ReadMessage(n.ctx)
		if err != nil {
			switch {
			case n.ctx.Err() != nil:
			case errors.Is(err, io.EOF):
				m.removeNeighbor(n, ErrLeft)
			default:
				m.removeNeighbor(n, err)
			}
			return
		}
		if !m.handleMessage(n, b) {
			return
		}
	}
}

// handleMessage acts on one message of a neighbour's GR 1C flow
// (rtmfp-facts §6.4, §6.7; librtmfp GroupStream::process and the NetGroup
// callbacks). It reports false when the flow must not be read any more.
func (m *Member) handleMessage(n *Neighbor, b []byte) bool {
	msg, err := group.DecodeGR(b)
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.removed {
		return false
	}
	if err != nil {
		// librtmfp answers an unknown type with a flow exception, which
		// ends the session; being lenient keeps sessions with peers that
		// know more message types than we do.
		m.stats.BadMessages++
		return true
	}
	switch v := msg.(type) {
	case group.Begin:
		// The first begin from a peer we have not reported to yet starts
		// the report exchange (librtmfp: if the peer is in the heard
		// list). In c_netgroup one side of each session reported first
		// and the other answered, the initiator on one session and the
		// responder on the two others; here both sides usually report on
		// the begin, and then neither answers.
		if !n.firstReportSent {
			m.sendReportLocked(n, true)
		}
	case group.Report:
		m.stats.ReportsReceived++
		m.applyReportLocked(n, v, time.Now())
		if !n.reportInitiator {
			m.sendReportLocked(n, false)
		} else {
			n.reportInitiator = false
		}
	case group.AskClose:
		m.stats.AskCloseReceived++
		if m.acceptAskCloseLocked(n) {
			// As librtmfp: refuse the asker's GR 1C flow; the asker sees
			// the exception on its flow and closes the session.
			m.stats.AskCloseAccepted++
			n.in.Reject(RejectAskClose)
			m.removeNeighborLocked(n, ErrAskedToClose)
			return false
		}
	}
	// 01 (a repeated init) and 02 carry nothing to act on.
	return true
}

// acceptAskCloseLocked is librtmfp's rule for a 0C (NetGroup
// _onGroupAskClose): agree only once a best list exists, when this member
// has more neighbours than its best list (a hub: than KeepNeighbors) and the
// asker is not in it.
func (m *Member) acceptAskCloseLocked(n *Neighbor) bool {
	connected := 0
	for _, x := range m.neighbors {
		if x.connected {
			connected++
		}
	}
	return len(m.best) > 0 && connected > max(len(m.best), m.cfg.KeepNeighbors) && !m.best[n.id]
}

// sendReportLocked writes a group report for n on our GR 1C flow.
func (m *Member) sendReportLocked(n *Neighbor, initiator bool) {
	if n.out == nil || n.removed {
		return
	}
	b := m.buildReportLocked(n, time.Now())
	n.reportInitiator = initiator
	n.firstReportSent = true
	if err := n.out.Write(b); err == nil {
		m.stats.ReportsSent++
	}
}

// askCloseLocked sends 0C to n, at most once per AskCloseInterval.
func (m *Member) askCloseLocked(n *Neighbor, now time.Time) bool {
	if n.out == nil || !n.lastAskClose.IsZero() && now.Sub(n.lastAskClose) < m.cfg.AskCloseInterval {
		return false
	}
	if err := n.out.Write(group.AskClose{}.Append(nil)); err != nil {
		return false
	}
	n.lastAskClose = now
	m.stats.AskCloseSent++
	return true
}
