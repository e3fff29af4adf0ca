package multicast

import "time"

// The end push. librtmfp stops pulling a fetch period after the last map
// that grew (GroupMedia sendPullRequests pauses), and retries an
// unanswered pull only while it still pulls: the pulls of its last fetch
// period (the stream's last seconds, after the end map of Close) are never
// retried, and a member whose answer was lost stalls at that hole until
// the window evicts it, which at the end of a stream means it never
// delivers what follows. A closed publisher therefore pushes each
// subscribed neighbour, once, endPushWait after Close, the fragments of
// the stream's last endPushSpan that the latest map it got from it lacks,
// whatever its push mask (as the join push does at its start). That map is
// stale: librtmfp sends a neighbour a new map only when its own newest
// fragment grows, so its last map is the one it sent when the stream's
// last fragment reached it, before it pulled the fragments of its last
// fetch period, and those are pushed again to every member that got them
// from no push. In mcsim that is about one second of the stream per member
// (BENCHMARKS.md); at most endPushSpan. Fragments older than what the map
// describes are not pushed. (Pushing only what the map shows missing for a
// fetch period, or naming IDs beyond the end to keep librtmfp retrying,
// left members stalled at holes in mcsim: TestLibrtmfpMembersLastPullsLost.)

// endPushSpan is how much of the end of the stream the end push covers:
// the fragments a librtmfp member pulls in its last fetch period, which it
// does not retry, and a second of margin (the maps that showed them reach
// it up to a pull round late; a fetch period alone left holes in mcsim).
func (c Config) endPushSpan() time.Duration { return c.FetchPeriod + time.Second }

// endPushWait is how long after Close the end push waits: the end map
// (endMapDelay), librtmfp's last pulls a fetch period later, and half a
// second for their answers, so that a neighbour whose map came after them
// is pushed only what it really lacks.
func (c Config) endPushWait() time.Duration {
	return endMapDelay + c.FetchPeriod + 500*time.Millisecond
}

// startEndPush fixes, at Close, when the end push starts and the first
// fragment it covers.
func (n *Node) startEndPush(now time.Time) {
	n.endPushAt = now.Add(n.cfg.endPushWait())
	cutoff := now.Add(-n.cfg.endPushSpan())
	n.endPushFrom = n.endID
	for id := n.endID - 1; id > 0; id-- {
		s := n.buf.get(id)
		if s == nil || s.at.Before(cutoff) {
			break
		}
		n.endPushFrom = id
	}
}

// keepEndMap records a publisher's neighbour's map, for its end push (at
// most MaxFragmentsMapBytes per neighbour, as a player keeps), and pushes
// at once if the end push has started. Only maps that can say what
// the neighbour lacks are kept: not stale, and not beyond our newest
// fragment (so not naming the end of stream: librtmfp's maps name the end
// once it knows it, with the bitmap of its own newest fragment,
// GroupMedia::updateFragmentMap).
func (n *Node) keepEndMap(nb *neighbor, m FragmentsMap, now time.Time) {
	if nb.endPushed || m.Last == 0 || m.Last > n.frag.Last() || nb.hasMap && m.Last <= nb.fmap.Last {
		return
	}
	bits := m.Bitmap
	if len(bits) > MaxFragmentsMapBytes {
		bits = bits[:MaxFragmentsMapBytes]
	}
	nb.fmap.Last = m.Last
	nb.fmap.Bitmap = append(nb.fmap.Bitmap[:0], bits...)
	nb.hasMap = true
	if n.endPushing {
		n.endPush(nb, now)
	}
}

// endPushAll starts the end push at endPushAt: every subscribed neighbour
// with a map is pushed what it lacks; the others on their next map.
func (n *Node) endPushAll(now time.Time) {
	if !n.closed || n.endPushing || now.Before(n.endPushAt) {
		return
	}
	n.endPushing = true
	for _, id := range n.order {
		n.endPush(n.neighbors[id], now)
	}
}

// endPush pushes a neighbour the last fragments its latest map lacks (see
// above), once.
func (n *Node) endPush(nb *neighbor, now time.Time) {
	if nb.endPushed || !nb.subscribed || !nb.hasMap {
		return
	}
	nb.endPushed = true
	for id := max(n.endPushFrom, n.buf.lo, nb.fmap.Oldest()); id < n.endID; id++ {
		s := n.buf.get(id)
		if s == nil || nb.fmap.Has(id) {
			continue
		}
		n.st.FragmentsPushedToPeers++
		n.st.FragmentsEndPushed++
		n.st.BytesPushedToPeers += uint64(len(s.frag.Payload))
		n.sendMedia(nb, s, now)
	}
}
