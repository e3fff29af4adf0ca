package multicast

import (
	"math"
	"slices"
	"time"
)

// sendInfo announces the stream to a neighbour (or answers its
// announcement), followed by our fragments map.
func (n *Node) sendInfo(nb *neighbor, now time.Time) {
	if nb.infoSent || !n.known {
		return
	}
	nb.infoSent, nb.infoAt, nb.infoTries = true, now, 1
	n.sendReport(nb, n.StreamInfo(), now)
	n.sendMapTo(nb, now)
	if n.publisher && n.endNoticed && nb.endTries == 0 {
		n.sendEnd(nb, now) // a neighbour that came after the end
	}
}

// Report messages that matter once are repeated, because a transport may
// drop them under back-pressure: the stream info until the neighbour
// answers, the end of stream a few times.
const (
	repeatEvery = time.Second
	infoTries   = 4
	endTries    = 3
)

// repeatReports re-sends unanswered stream infos and the end of stream.
func (n *Node) repeatReports(now time.Time) {
	for _, id := range n.order {
		nb := n.neighbors[id]
		if n.known && nb.infoSent && !nb.subscribed && nb.infoTries < infoTries && now.Sub(nb.infoAt) >= repeatEvery {
			nb.infoAt = now
			nb.infoTries++
			n.sendReport(nb, n.StreamInfo(), now)
		}
		if n.endID != 0 && nb.endTries > 0 && nb.endTries < endTries && now.Sub(nb.endAt) >= repeatEvery {
			n.sendEnd(nb, now)
		}
	}
}

// sendEnd sends the end of stream to a neighbour.
func (n *Node) sendEnd(nb *neighbor, now time.Time) {
	nb.endAt = now
	nb.endTries++
	n.sendReport(nb, StreamEnd{LastFragment: n.endID}, now)
}

// handleInfo processes a neighbour's stream info: it announces or
// subscribes to the stream. A player without a key adopts the key of the
// first announcement of its stream name, then announces the stream to all
// its neighbours.
func (n *Node) handleInfo(nb *neighbor, s StreamInfo, now time.Time) {
	if !n.known {
		if s.Name != n.name {
			n.st.ForeignStream++
			return
		}
		n.key, n.known = s.Key, true
		// Announce what was adopted, not local overrides: librtmfp adopts
		// the window and periods of the first stream info it gets
		// (NetGroup::ReadGroupConfig) and announces those itself. A player
		// tuned to a 2 s window announcing its own made librtmfp members
		// adopt it and drop fragments 4 s after they came, while their
		// maps still showed them to neighbours who pulled them there in
		// vain: in mcsim's 200-member group the worst librtmfp model lost
		// 18% (a 1 MB key frame never completed), 6% with mapRound's
		// publisher maps alone.
		c := s.Config()
		n.relayCfg = &c
		for _, id := range n.order {
			n.sendInfo(n.neighbors[id], now)
		}
	}
	if s.Key != n.key {
		n.st.ForeignStream++
		return
	}
	nb.subscribed = true
	if nb.infoSent {
		n.sendMapTo(nb, now)
	} else {
		n.sendInfo(nb, now)
	}
	if nb.mapSent == 0 {
		n.newcomers = true
	}
}

// handleEnd processes the publisher's end of stream, relayed by a
// neighbour. An end at or below a fragment we hold, or beyond the horizon,
// is bogus and ignored.
func (n *Node) handleEnd(nb *neighbor, e StreamEnd, now time.Time) {
	if n.publisher || n.endID != 0 {
		return
	}
	if e.LastFragment == 0 || (n.buf.count > 0 && e.LastFragment <= n.buf.hi) || e.LastFragment > n.credibleMax() {
		n.st.EndsIgnored++
		return
	}
	n.endID = e.LastFragment
	n.hz.advance(now, n.endID-1) // everything before the end exists
	nb.endTries = endTries       // it knows
	for _, id := range n.order {
		if o := n.neighbors[id]; o.subscribed && o.endTries == 0 {
			n.sendEnd(o, now)
		}
	}
	n.checkEnd()
}

// handleMap records a neighbour's availability. Maps not newer than the
// previous one from the same neighbour are stale; maps claiming fragments
// far beyond the group's horizon are forged. Both are ignored.
func (n *Node) handleMap(nb *neighbor, m FragmentsMap, now time.Time) {
	n.st.MapsReceived++
	if n.publisher {
		n.keepEndMap(nb, m, now) // the source needs nobody's fragments
		return
	}
	if m.Last == 0 || (nb.hasMap && m.Last <= nb.fmap.Last) {
		n.st.MapsStale++
		return
	}
	if m.Last > n.credibleMax() {
		n.st.MapsForged++
		return
	}
	bits := m.Bitmap
	if len(bits) > MaxFragmentsMapBytes {
		bits = bits[:MaxFragmentsMapBytes]
		n.st.MapsTruncated++
	}
	nb.fmap.Last = m.Last
	nb.fmap.Bitmap = append(nb.fmap.Bitmap[:0], bits...)
	nb.hasMap = true
	n.claim(nb, m.Last, now)
	if n.hz.last() == 0 {
		n.updateHorizon(now)
	}
	if !n.pushStarted && n.hz.last() > 0 {
		n.pushStarted = true
		n.nextPush = now.Add(PushPeriod)
		n.pushRound(now)
	}
}

// handlePush records which fragments a neighbour wants pushed.
func (n *Node) handlePush(nb *neighbor, p Push) {
	n.st.PushRequestsReceived++
	n.setPushOut(nb, p.Mask)
}

// setPushOut changes the bits a neighbour wants pushed. Each bit keeps its
// requesters in the order they asked: a request keeps its place while it
// stands, so the first PushNeighborLimit requesters of a bit are served
// steadily and later ones only when earlier ones withdraw.
func (n *Node) setPushOut(nb *neighbor, mask uint8) {
	for b := range 8 {
		had, wants := nb.pushOut&(1<<b) != 0, mask&(1<<b) != 0
		switch {
		case wants && !had:
			n.pushQueue[b] = append(n.pushQueue[b], nb.id)
		case had && !wants:
			n.pushQueue[b] = slices.DeleteFunc(n.pushQueue[b], func(x NeighborID) bool { return x == nb.id })
		}
	}
	nb.pushOut = mask
}

// handlePull answers a pull with the fragment, if held.
func (n *Node) handlePull(nb *neighbor, p Pull, now time.Time) {
	s := n.buf.get(p.ID)
	if s == nil {
		n.st.PullsUnknown++
		return
	}
	n.st.FragmentsRequestedByPeers++
	n.st.BytesRequestedByPeers += uint64(len(s.frag.Payload))
	n.sendMedia(nb, s, now)
}

// mapTop is the Last of this node's maps: its newest fragment, or, once a
// closed publisher has announced it (see Close), the end of stream.
func (n *Node) mapTop() uint64 {
	if n.endMapped {
		return max(n.endID, n.buf.hi)
	}
	return n.buf.hi
}

// buildMap prepares the fragments map of the buffer.
func (n *Node) buildMap() uint64 {
	n.mapMsg, n.mapLast = n.buf.appendMap(n.mapMsg[:0], n.mapTop())
	return n.mapLast
}

// sendMapTo sends the current fragments map to one neighbour, unless it
// already has a map with the same newest fragment. A neighbour's first map
// names the first fragment that came after the neighbour did (see
// neighbor.firstID), not the newest: librtmfp never pulls below the newest
// fragment of the first map it got (GroupMedia sendPullRequests), so
// members that were there when a stream started, but subscribed a round
// trip after its first messages, would otherwise lose them (the first key
// frame, typically).
func (n *Node) sendMapTo(nb *neighbor, now time.Time) {
	if !nb.subscribed || n.buf.count == 0 {
		return
	}
	var msg []byte
	var last uint64
	if nb.mapSent == 0 && nb.firstID < n.buf.hi && nb.firstID >= n.buf.lo && !n.endMapped {
		n.scratch, last = n.buf.appendMap(n.scratch[:0], nb.firstID)
		msg = n.scratch
	} else {
		if n.mapLast != n.mapTop() || n.mapMsg == nil {
			n.buildMap()
		}
		msg, last = n.mapMsg, n.mapLast
		if nb.mapSent == last {
			return
		}
	}
	nb.mapSent, nb.mapAt = last, now
	n.meters.sendControl.add(now, len(msg))
	n.st.SentControlBytes += uint64(len(msg))
	n.st.MapsSent++
	n.tr.Send(nb.id, FlowReport, msg)
}

// sendMapToAll sends the current map to every subscribed neighbour that
// does not have it.
func (n *Node) sendMapToAll(now time.Time) {
	for _, id := range n.order {
		n.sendMapTo(n.neighbors[id], now)
	}
}

// mapNewcomers sends a first map, at once, to the subscribed neighbours
// that have none yet (they subscribed while the buffer was empty: a
// publisher's players that were there before its first message). Their
// first map then names the first fragment, not whatever the buffer holds
// when the round robin reaches them: librtmfp starts pulling at the newest
// fragment its first maps showed, and never pulls below it (GroupMedia
// sendPullRequests), so a late first map loses it the beginning.
func (n *Node) mapNewcomers(now time.Time) {
	if !n.newcomers {
		return
	}
	n.newcomers = false
	for _, id := range n.order {
		if nb := n.neighbors[id]; nb.subscribed && nb.mapSent == 0 {
			n.sendMapTo(nb, now)
		}
	}
}

// mapRound sends the fragments map to every subscribed neighbour
// (SendToAll) or to the next one in turn, from a random start
// (librtmfp GroupMedia::manage). It also ages the buffer. A closed
// publisher sends its end map to everyone once (see Close). A publisher
// also maps every subscribed neighbour whose last map is a fetch period
// old (a second at least): in turn alone, a neighbour of a publisher with N neighbours gets a
// map every N update periods (20 s with 200), and librtmfp pulls a
// fragment only from a neighbour whose latest map shows it, a fetch period
// after it learnt of it. Without this, in mcsim's 200-member group, the
// publisher, which holds everything, was rarely asked: the librtmfp
// models pulled pieces of 1 MB key frames from neighbours that had
// dropped them, and the worst lost 6%; engine members tuned to a 2 s
// window lost up to 2.8%.
func (n *Node) mapRound(now time.Time) {
	n.evict(now)
	n.repeatReports(now)
	if n.closed && !n.endMapped && !now.Before(n.endMapAt) {
		// Done even with nothing to map: a deadline left in the past
		// would spin the caller's timer.
		n.endMapped = true
		if n.buf.count > 0 && len(n.order) > 0 {
			n.buildMap()
			n.sendMapToAll(now)
		}
		return
	}
	if n.buf.count == 0 || len(n.order) == 0 {
		return
	}
	n.buildMap()
	if n.cfg.SendToAll {
		n.sendMapToAll(now)
		return
	}
	if n.publisher {
		// Every neighbour at least once a fetch period (above).
		every := max(n.cfg.FetchPeriod, minPublisherMapEvery)
		for _, id := range n.order {
			if nb := n.neighbors[id]; nb.subscribed && now.Sub(nb.mapAt) >= every {
				n.sendMapTo(nb, now)
			}
		}
	}
	if n.mapRR == 0 {
		n.mapRR = 1 + n.rng.IntN(len(n.order))
	}
	for range len(n.order) {
		nb := n.neighbors[n.order[n.mapRR%len(n.order)]]
		n.mapRR++
		if nb.subscribed && nb.mapSent != n.mapLast {
			n.sendMapTo(nb, now)
			return
		}
	}
}

// minPublisherMapEvery bounds how often mapRound maps every neighbour of a
// publisher: a fetch period of 0 would otherwise send every neighbour a
// map each update period (10 ms at the finest).
const minPublisherMapEvery = time.Second

// evict drops fragments older than Window + RelayMargin and forgets
// horizon entries no query can reach.
func (n *Node) evict(now time.Time) {
	keep := n.cfg.Window + n.cfg.RelayMargin
	n.buf.expire(now.Add(-keep))
	n.hz.prune(now.Add(-max(keep, n.cfg.FetchPeriod) - time.Second))
}

// claim records that a neighbour showed (or sent) fragments up to id. The
// horizon follows in the next pull round (updateHorizon).
func (n *Node) claim(nb *neighbor, id uint64, now time.Time) {
	nb.claimAt = now
	nb.claim = max(nb.claim, id)
}

// updateHorizon advances the horizon to what the group credibly has: the
// highest fragment from a trusted source, or the claim that an eighth of
// the neighbours with fresh claims reach (the second highest of two to
// fifteen, the highest of one), so that a few lying neighbours cannot
// drag it forward. A horizon far above that, or far above the fragments
// two neighbours actually sent, was set by liars before the others spoke:
// the node starts over from there (resync). Claims beyond reach of the
// horizon are forgotten.
func (n *Node) updateHorizon(now time.Time) {
	n.dropIncredible()
	ref := n.consensus(now)
	lead := n.claimLead()
	if data := n.dataConsensus(now); data != 0 && n.hz.last() > max(data, n.trusted)+lead {
		n.resync(max(data, n.trusted) + lead)
		n.hz.advance(now, max(data, n.trusted))
		n.dropIncredible()
		ref = n.consensus(now)
	} else if ref != 0 && n.hz.last() > max(ref, n.trusted)+lead {
		n.resync(max(ref, n.trusted) + lead)
	}
	n.hz.advance(now, max(ref, n.trusted))
	n.dropIncredible()
}

// dataConsensus returns the second highest fragment ID that neighbours
// recently sent us (each neighbour counted once), or 0 with fewer than two
// such neighbours.
func (n *Node) dataConsensus(now time.Time) uint64 {
	fresh := now.Add(-(n.cfg.Window + n.cfg.RelayMargin))
	var first, second uint64
	for _, id := range n.order {
		nb := n.neighbors[id]
		if nb.dataMax == 0 || nb.dataAt.Before(fresh) {
			continue
		}
		switch {
		case nb.dataMax > first:
			first, second = nb.dataMax, first
		case nb.dataMax > second:
			second = nb.dataMax
		}
	}
	return second
}

// dropIncredible forgets the claims (and maps) beyond credibleMax.
func (n *Node) dropIncredible() {
	limit := n.credibleMax()
	for _, id := range n.order {
		if nb := n.neighbors[id]; nb.claim > limit {
			nb.claim, nb.hasMap, nb.fmap.Last = 0, false, 0
			n.st.MapsForged++
		}
	}
}

// noteLate records a fragment refused as too old. A flood of them, from
// several neighbours and far below the horizon, means the horizon is far
// ahead of the stream the group actually carries: it was set from forged
// claims (and forged fragments relayed by others before them), or the
// node fell behind by more than the window. checkLate then starts over
// from the stream the neighbours carry.
func (n *Node) noteLate(nb *neighbor, id uint64) {
	l := &n.late
	l.count++
	l.max = max(l.max, id)
	if nb != nil && l.from[0] != nb.id && l.from[1] != nb.id {
		l.from[1], l.from[0] = l.from[0], nb.id
	}
}

// Flood detection: lateFloodCount fragments refused as late within
// lateFloodSpan, from at least two neighbours.
const (
	lateFloodCount = 64
	lateFloodSpan  = time.Second
)

func (n *Node) checkLate(now time.Time) {
	l := &n.late
	if now.Sub(l.since) < lateFloodSpan {
		return
	}
	if lead := n.claimLead(); l.count >= lateFloodCount && l.from[1] != 0 && l.max+lead < n.hz.last() {
		n.resync(l.max + lead)
		n.hz.advance(now, l.max)
		n.dropIncredible()
	}
	*l = lateRun{since: now}
}

// consensus returns the k-th highest fresh claim, k = 1 + claimants/8
// (at least 2 when two or more neighbours claim).
func (n *Node) consensus(now time.Time) uint64 {
	fresh := now.Add(-(n.cfg.Window + n.cfg.RelayMargin))
	c := n.claimsTmp[:0]
	for _, id := range n.order {
		if nb := n.neighbors[id]; nb.claim != 0 && !nb.claimAt.Before(fresh) {
			c = append(c, nb.claim)
		}
	}
	n.claimsTmp = c
	if len(c) == 0 {
		return 0
	}
	slices.Sort(c)
	k := max(1+len(c)/8, min(2, len(c)))
	return c[len(c)-k]
}

// resync forgets what the node derived from a horizon that turned out to
// be forged: the horizon, and whatever lies beyond limit (the buffer and
// the reassembly if they reach there, pulls there).
func (n *Node) resync(limit uint64) {
	n.st.Resyncs++
	n.hz = horizon{}
	if n.buf.hi > limit {
		n.buf.reset()
	}
	if n.re != nil && n.re.Next() > limit {
		n.re, n.cursor = nil, 0
	}
	n.cursor = min(n.cursor, limit)
	for id, p := range n.pending {
		if id > limit {
			n.dropPull(id, p)
		}
	}
}

// claimLead is how far beyond the horizon a claim may go: twice the IDs
// seen over the remembered span, at least Limits.MinClaimLead.
func (n *Node) claimLead() uint64 {
	return min(max(n.lim.MinClaimLead, 2*n.hz.span()), 1<<24)
}

// credibleMax returns the highest fragment ID a neighbour may claim: the
// horizon plus a lead of twice the IDs seen over the remembered span
// (at least Limits.MinClaimLead). Before anything is known every claim is
// credible.
func (n *Node) credibleMax() uint64 {
	last := n.hz.last()
	if last == 0 {
		return math.MaxUint64
	}
	lead := n.claimLead()
	if last > math.MaxUint64-lead {
		return math.MaxUint64
	}
	return last + lead
}
