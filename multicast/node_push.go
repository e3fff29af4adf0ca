package multicast

import "time"

// pushRound runs every PushPeriod on a player once it has seen a map
// (librtmfp GroupMedia::sendPushRequests): withdraw push requests that
// brought nothing for a while (and send the mask again to neighbours that
// push bits we did not ask for: a mask got lost), then ask one more neighbour to push one
// more bit: the next bit in turn (random first) that has no good pusher,
// or simply the next one when all have, so that a second pusher competes
// with the first (notePush keeps the faster). Unlike librtmfp, every other
// bit without a good pusher (none, silent, or one whose pushes come late,
// e.g. because it has to pull them itself) and without a request under way
// gets a new pusher in the same round, so a failing pusher is replaced
// within one PushPeriod and the replacement overlaps it until it proves
// faster.
func (n *Node) pushRound(now time.Time) {
	for _, id := range n.order {
		nb := n.neighbors[id]
		mask := nb.pushIn
		for b := range 8 {
			if mask&(1<<b) != 0 && now.Sub(nb.pushAsked[b]) > pushStale && now.Sub(nb.pushGot[b]) > pushStale {
				mask &^= 1 << b
				nb.pushFail[b] = now
			}
		}
		if nb.maskStale {
			nb.maskStale = false
			nb.pushIn = ^mask // force the resend
		}
		n.sendPush(nb, mask, now)
	}
	first := n.nextPushBit(now)
	n.askPush(first, now)
	for b := range 8 {
		if b != first && !n.goodPusher(n.pusherOf(b), b, now) && !n.pushUnderWay(b, now) {
			n.askPush(b, now)
		}
	}
}

// askPush asks a new neighbour to push bit b.
func (n *Node) askPush(b int, now time.Time) {
	if nb := n.choosePusher(b, now); nb != nil {
		nb.pushAsked[b] = now
		n.sendPush(nb, nb.pushIn|1<<b, now)
	}
}

// pusherOf returns the neighbour pushing bit b, or nil.
func (n *Node) pusherOf(b int) *neighbor {
	if r := n.pusher[b]; r.from != 0 {
		return n.neighbors[r.from]
	}
	return nil
}

// pushUnderWay reports whether a request for bit b was sent recently and
// has not brought anything yet.
func (n *Node) pushUnderWay(b int, now time.Time) bool {
	for _, id := range n.order {
		nb := n.neighbors[id]
		if nb.pushIn&(1<<b) != 0 && now.Sub(nb.pushAsked[b]) <= pushStale && nb.pushGot[b].Before(nb.pushAsked[b]) {
			return true
		}
	}
	return false
}

func (n *Node) nextPushBit(now time.Time) int {
	if n.pushBit < 0 {
		n.pushBit = n.rng.IntN(8)
		return n.pushBit
	}
	for i := 1; i <= 8; i++ {
		b := (n.pushBit + i) % 8
		if !n.goodPusher(n.pusherOf(b), b, now) {
			n.pushBit = b
			return b
		}
	}
	n.pushBit = (n.pushBit + 1) % 8
	return n.pushBit
}

// choosePusher picks a neighbour to push bit b: subscribed, holding the
// stream, not silent, not already pushing b; random among the three with
// the best lead.
func (n *Node) choosePusher(b int, now time.Time) *neighbor {
	type cand struct {
		nb   *neighbor
		lead int64
	}
	var top [3]cand
	count := 0
	for _, id := range n.order {
		nb := n.neighbors[id]
		if !nb.subscribed || !nb.hasMap || nb.silent(now) || (nb.pushIn|nb.pushOut)&(1<<b) != 0 ||
			(!nb.pushFail[b].IsZero() && now.Sub(nb.pushFail[b]) < pushShun) {
			continue
		}
		c := cand{nb, int64(nb.claim) - int64(n.hz.at(nb.claimAt))}
		i := 0
		for i < count && top[i].lead >= c.lead {
			i++
		}
		if i == len(top) {
			continue
		}
		copy(top[i+1:], top[i:])
		top[i] = c
		count = min(count+1, len(top))
	}
	if count == 0 {
		return nil
	}
	return top[n.rng.IntN(count)].nb
}

// sendPush sends a new push mask to a neighbour, if it changed.
func (n *Node) sendPush(nb *neighbor, mask uint8, now time.Time) {
	if mask == nb.pushIn {
		return
	}
	nb.pushIn = mask
	n.st.PushRequestsSent++
	n.sendReport(nb, Push{Mask: mask}, now)
}

// notePush records a fragment a neighbour pushed: when two neighbours push
// the same bit, the one that delivers an ID the other has not reached yet
// is faster and keeps the bit; the other is asked to stop (librtmfp
// GroupMedia _onFragment).
func (n *Node) notePush(nb *neighbor, id uint64, now time.Time) {
	b := id % 8
	if nb.pushIn&(1<<b) == 0 {
		nb.maskStale = true
		return
	}
	nb.pushGot[b] = now
	var late time.Duration
	if at, ok := n.hz.learnt(id); ok {
		late = max(now.Sub(at), 0)
	}
	nb.pushLate[b] += (late - nb.pushLate[b]) / 4
	r := &n.pusher[b]
	switch {
	case r.from == 0 || n.neighbors[r.from] == nil:
		*r = pushRecord{from: nb.id, last: id, at: now}
	case r.from == nb.id:
		r.last, r.at = max(r.last, id), now
	case r.last < id:
		if old := n.neighbors[r.from]; old != nil {
			n.sendPush(old, old.pushIn&^(1<<b), now)
		}
		*r = pushRecord{from: nb.id, last: id, at: now}
	default:
		n.sendPush(nb, nb.pushIn&^(1<<b), now)
	}
}

// goodPusher reports whether a neighbour pushed bit b recently and in time
// (on average less than half the fetch period, at least 500 ms, after the
// fragments became known).
func (n *Node) goodPusher(nb *neighbor, b int, now time.Time) bool {
	return nb != nil && now.Sub(nb.pushGot[b]) <= pushStale &&
		nb.pushLate[b] <= max(n.cfg.FetchPeriod/2, 500*time.Millisecond)
}

// pushers returns the neighbours pushing each bit (0 for none), for tests
// and diagnostics.
func (n *Node) pushers() [8]NeighborID {
	var out [8]NeighborID
	for b, r := range n.pusher {
		out[b] = r.from
	}
	return out
}
