package multicast

import (
	"slices"
	"time"
)

// pullRound runs every PullPeriod on a player (librtmfp
// GroupMedia::sendPullRequests): give up on fragments known for longer
// than Window, re-send pulls unanswered for FetchPeriod to another
// neighbour, and pull every missing fragment known for FetchPeriod from a
// neighbour whose map shows it. A player that has received nothing starts
// at its join point (see joinPoint): at the latest the two newest
// fragments known a fetch period ago.
func (n *Node) pullRound(now time.Time) {
	n.evict(now)
	n.checkLate(now)
	n.updateHorizon(now)
	expired := n.hz.at(now.Add(-n.cfg.Window))
	if n.endID != 0 {
		// A closed publisher's maps name the end of stream as their
		// newest fragment: it does not exist, nothing is lost there.
		expired = min(expired, n.endID-1)
	}
	n.expire(expired)
	target := n.hz.at(now.Add(-n.cfg.FetchPeriod))
	if n.endID != 0 && target >= n.endID {
		target = n.endID - 1
	}
	if target == 0 || target <= expired && n.re == nil {
		return
	}
	if n.re == nil {
		n.startAt(n.joinPoint(max(target-1, 1), expired))
		n.drain()
	}
	budget := n.lim.MaxPullsPerRound

	// Pulls already under way: drop the useless, retry the unanswered.
	live := n.pendingOrder[:0]
	for _, id := range n.pendingOrder {
		p := n.pending[id]
		switch {
		case p == nil:
			continue
		case id <= expired || n.buf.has(id) || n.re.Has(id) && id < n.re.Next() || n.endID != 0 && id >= n.endID:
			n.dropPull(id, p)
			continue
		}
		live = append(live, id)
		if p.to != 0 && now.Sub(p.at) < n.pullTimeout(n.neighbors[p.to]) {
			continue
		}
		if p.to != 0 {
			n.st.PullTimeouts++
			if nb := n.neighbors[p.to]; nb != nil {
				nb.pulls--
				nb.timeouts++
				if nb.timeouts >= silentAfter {
					nb.silentUntil = now.Add(silentFor)
				}
			}
			copy(p.tried[1:], p.tried[:])
			p.tried[0] = p.to
			p.to = 0
		}
		if budget > 0 && n.sendPull(id, p, now) {
			budget--
		}
	}
	clear(n.pendingOrder[len(live):])
	n.pendingOrder = live

	// New holes, in ID order.
	n.cursor = max(n.cursor, expired)
	for n.cursor < target && budget > 0 && len(n.pending) < n.lim.MaxPendingPulls {
		n.cursor++
		id := n.cursor
		if n.buf.has(id) || n.re.Has(id) {
			continue
		}
		p := &pull{}
		n.pending[id] = p
		n.pendingOrder = append(n.pendingOrder, id)
		if n.sendPull(id, p, now) {
			budget--
		}
	}
}

// expire gives up on the missing fragments known before the window
// (IDs up to boundary) that block delivery, and delivers what follows. It
// skips each run of missing fragments in one step (to the next buffered
// fragment), so its work is bounded by the buffer, not by the IDs.
func (n *Node) expire(boundary uint64) {
	if n.re == nil {
		return
	}
	for n.re.Next() <= boundary {
		next := n.re.Next()
		missing := uint64(0)
		for id := next; id <= boundary && id-next < maxPieces; id++ {
			if !n.re.Has(id) {
				missing = id
				break
			}
		}
		if missing == 0 {
			return // the next message is held up to the boundary: wait for its end
		}
		resume := boundary + 1
		if missing < boundary {
			if h := n.buf.nextHeld(missing+1, boundary); h != 0 {
				resume = h
			}
		}
		n.re.GiveUp(resume)
		n.drain()
	}
}

// sendPull asks the best neighbour for fragment id: in turn from the last
// one asked, one whose map shows it, preferring neighbours not yet tried
// for it, not silent, and below their pull cap. It reports whether a pull
// was sent.
func (n *Node) sendPull(id uint64, p *pull, now time.Time) bool {
	var best *neighbor
	bestBad := 4
	for range len(n.order) {
		n.pullRR++
		nb := n.neighbors[n.order[n.pullRR%len(n.order)]]
		if !nb.hasMap || !nb.fmap.Has(id) || nb.pulls >= n.lim.MaxPullsPerNeighbor {
			continue
		}
		bad := 0
		switch {
		case nb.silent(now):
			bad = 3
		case slices.Contains(p.tried[:], nb.id):
			bad = 2
		case nb.timeouts > 0:
			bad = 1
		}
		if bad < bestBad {
			best, bestBad = nb, bad
			if bad == 0 {
				break
			}
		}
	}
	if best == nil {
		return false
	}
	p.to, p.at = best.id, now
	best.pulls++
	n.st.PullsSent++
	n.sendReport(best, Pull{ID: id}, now)
	return true
}

// pullTimeout is how long a pull to nb may stay unanswered before it goes
// to another neighbour: three smoothed round trips of nb (or, before nb
// answered any pull, of the neighbours that did), never more than
// FetchPeriod (librtmfp's timeout) and never less than
// Limits.MinPullTimeout.
func (n *Node) pullTimeout(nb *neighbor) time.Duration {
	t := n.cfg.FetchPeriod
	switch {
	case nb != nil && nb.srtt > 0:
		t = min(t, 3*nb.srtt)
	case n.srtt > 0:
		t = min(t, 3*n.srtt)
	}
	return max(t, n.lim.MinPullTimeout)
}

// dropPull forgets a pull (answered or useless).
func (n *Node) dropPull(id uint64, p *pull) {
	if nb := n.neighbors[p.to]; p.to != 0 && nb != nil {
		nb.pulls--
	}
	delete(n.pending, id)
}
