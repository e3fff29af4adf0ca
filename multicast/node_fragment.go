package multicast

import (
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// Publish cuts a message into fragments, buffers them and pushes each to
// the neighbours that asked for its bit (at most PushNeighborLimit). Empty
// messages are dropped; a message above MaxMessagePayload is refused
// (ErrMessageTooLarge, counted in Stats.MessagesRefused).
func (n *Node) Publish(m media.Message, now time.Time) error {
	if !n.publisher {
		return ErrNotPublisher
	}
	if n.closed {
		return ErrClosed
	}
	var err error
	n.fragsTmp, err = n.frag.Fragment(n.fragsTmp[:0], m)
	if err != nil {
		n.st.MessagesRefused++
		return err
	}
	for _, f := range n.fragsTmp {
		raw := f.Append(make([]byte, 0, f.Len()))
		f.Payload = raw[len(raw)-len(f.Payload):]
		s := slot{id: f.ID, raw: raw, frag: f, at: now}
		n.buf.put(s)
		n.trusted = f.ID
		n.hz.advance(now, f.ID)
		n.mapNewcomers(now)
		n.pushFragment(n.buf.get(f.ID), nil, now)
		if n.published != nil {
			n.published(raw)
		}
	}
	clear(n.fragsTmp)
	n.st.MessagesPublished++
	return nil
}

// endMapDelay separates a closed publisher's last map from its end map:
// more than librtmfp's pull period, so that one of its pull rounds falls
// between them (see Close).
const endMapDelay = 2 * PullPeriod

// endNoticeDelay is how long a closed publisher waits before it tells its
// neighbours the stream ended: two fetch periods and a second (the
// members' last pulls, and one retry of each), at most half of Window +
// RelayMargin (the time its buffer serves them, so that the notice and its
// repetitions go out before it leaves).
func (c Config) endNoticeDelay() time.Duration {
	return min(2*c.FetchPeriod+time.Second, (c.Window+c.RelayMargin)/2)
}

// Close ends a publisher's stream. At once every neighbour gets the map of
// the last fragments; endMapDelay later a map naming the end of stream as
// its newest fragment, as librtmfp's publisher does after it closes:
// librtmfp pulls up to the newest map that is a fetch period old and stops
// pulling when no newer map came for a fetch period, so without a map
// after the last one it never pulls the fragments that map was the first
// to show (the last ~fetch period of the stream), and with the two too
// close together its 100 ms pull round may miss the moment between them.
// (Naming further IDs beyond the end, to keep librtmfp pulling longer, was
// tried and dropped: engine members pull a map's newest ID, and those
// unanswered pulls made them avoid the publisher for the last fragments.)
// The end of stream itself (the ID after the last fragment) goes out
// endNoticeDelay later: a librtmfp member that has it writes its own maps
// with that ID as their newest but its own newest fragment's bitmap
// (GroupMedia::updateFragmentMap), so its neighbours pull from it
// fragments it does not have and never get them ("Peer is asking for an
// unknown Fragment"); by then they have what they need. The buffer keeps
// serving pulls until its fragments age out.
func (n *Node) Close(now time.Time) error {
	if !n.publisher {
		return ErrNotPublisher
	}
	if n.closed {
		return nil
	}
	n.closed = true
	n.endID = n.frag.Last() + 1
	n.endMapAt = now.Add(endMapDelay)
	n.endNoticeAt = now.Add(n.cfg.endNoticeDelay())
	n.startEndPush(now)
	n.sendMapToAll(now)
	if n.timersOn && n.endMapAt.Before(n.nextMap) {
		n.nextMap = n.endMapAt
	}
	return nil
}

// TellEnd tells the neighbours at once that a closed publisher's stream
// ended (Close delays it): the publisher is leaving the group and will
// not be there when the notice is due.
func (n *Node) TellEnd(now time.Time) {
	if !n.closed || n.endNoticed {
		return
	}
	n.endNoticeAt = now
	n.noticeEnd(now)
}

// noticeEnd tells the neighbours a closed publisher's stream ended, once
// endNoticeDelay has passed (map timer).
func (n *Node) noticeEnd(now time.Time) {
	if !n.closed || n.endNoticed || now.Before(n.endNoticeAt) {
		return
	}
	n.endNoticed = true
	for _, id := range n.order {
		if nb := n.neighbors[id]; nb.infoSent && nb.endTries == 0 {
			n.sendEnd(nb, now)
		}
	}
}

// ingest processes a fragment from a neighbour (nb) or a trusted source.
func (n *Node) ingest(nb *neighbor, src Source, raw []byte, now time.Time) error {
	n.meters.recvData.add(now, len(raw))
	n.st.ReceivedDataBytes += uint64(len(raw))
	switch src {
	case SourceServer:
		n.meters.recvServer.add(now, len(raw))
	case SourceIPMulticast:
		n.meters.recvIPMulticast.add(now, len(raw))
	}
	f, err := ParseFragment(raw)
	if err != nil {
		n.st.BadMessages++
		return err
	}
	if n.publisher || f.ID == 0 {
		n.st.FragmentsUnsolicited++
		return nil
	}
	p := n.pending[f.ID]
	if nb != nil {
		nb.timeouts, nb.silentUntil = 0, time.Time{}
		if p == nil {
			n.notePush(nb, f.ID, now)
		}
	}
	if n.buf.has(f.ID) || (n.re != nil && n.re.Has(f.ID) && f.ID >= n.re.Next()) {
		n.st.FragmentsDuplicate++
		return nil
	}
	if nb != nil && (n.hz.last() == 0 || f.ID > n.credibleMax()) {
		n.st.FragmentsBeyondHorizon++
		return nil
	}
	learnt, known := n.hz.learnt(f.ID)
	if (known && now.Sub(learnt) > n.cfg.Window) || !n.buf.fits(f.ID) {
		n.st.FragmentsLate++
		n.noteLate(nb, f.ID)
		return nil
	}
	size := uint64(len(f.Payload))
	switch {
	case src == SourceServer:
		n.st.FragmentsReceivedFromServer++
		n.st.BytesReceivedFromServer += size
	case src == SourceIPMulticast:
		n.st.FragmentsReceivedFromIPMulticast++
		n.st.BytesReceivedFromIPMulticast += size
	case p != nil:
		n.st.FragmentsRequestedFromPeers++
		n.st.BytesRequestedFromPeers += size
	default:
		n.st.FragmentsPushedFromPeers++
		n.st.BytesPushedFromPeers += size
		if nb.pushIn&(1<<(f.ID%8)) == 0 {
			n.st.FragmentsUnsolicited++
		}
	}
	if p != nil {
		if nb != nil && p.to == nb.id {
			rtt := now.Sub(p.at)
			if nb.srtt == 0 {
				nb.srtt = rtt
			} else {
				nb.srtt += (rtt - nb.srtt) / 8
			}
			if n.srtt == 0 {
				n.srtt = rtt
			} else {
				n.srtt += (rtt - n.srtt) / 16
			}
		}
		n.dropPull(f.ID, p)
	}
	at := now
	if known && learnt.Before(at) {
		at = learnt
	}
	n.buf.put(slot{id: f.ID, raw: raw, frag: f, at: at})
	if nb != nil {
		n.claim(nb, f.ID, now)
		nb.dataMax, nb.dataAt = max(nb.dataMax, f.ID), now
	} else if f.ID > n.trusted {
		n.trusted = f.ID
		n.hz.advance(now, f.ID)
	}
	n.pushFragment(n.buf.get(f.ID), nb, now)
	n.reassemble(f, now)
	return nil
}

// pushFragment sends a new fragment to the neighbours that asked for its
// bit, oldest request first, at most PushNeighborLimit of them, never back
// to the neighbour it came from. A publisher also pushes it to the
// neighbours in their join push (see joinPush).
func (n *Node) pushFragment(s *slot, from *neighbor, now time.Time) {
	if s == nil {
		return
	}
	sent := 0
	for _, id := range n.pushQueue[s.id%8] {
		if sent >= n.cfg.PushNeighborLimit {
			break
		}
		nb := n.neighbors[id]
		if nb == from {
			continue
		}
		sent++
		nb.pushed = s.id
		n.st.FragmentsPushedToPeers++
		n.st.BytesPushedToPeers += uint64(len(s.frag.Payload))
		n.sendMedia(nb, s, now)
	}
	if n.publisher {
		n.joinPush(s, now)
	}
}

// joinPush sends a publisher's new fragment to the subscribed neighbours
// that are in the first joinPushSpan of their subscription (counted from
// the first fragment published after it) and did not get it above: every
// fragment, whatever their push mask. librtmfp starts playing at the first
// fragment in its buffer once its first pull (a fetch period after its
// first map, for the newest map's fragment) is answered, pulls nothing
// below that pull, and stalls at the first hole until the window evicts it
// (GroupBuffer processFragment, GroupMedia sendPullRequests): the
// fragments between its join and its first pull must come by push, and in
// its first seconds it asks one neighbour for one bit of the IDs. The
// publisher has them all; this costs each new member one joinPushSpan of
// the stream, once.
func (n *Node) joinPush(s *slot, now time.Time) {
	for _, id := range n.order {
		nb := n.neighbors[id]
		if !nb.subscribed || nb.pushed == s.id {
			continue
		}
		if nb.joinPushUntil.IsZero() {
			nb.joinPushUntil = now.Add(n.cfg.joinPushSpan())
		}
		if now.Before(nb.joinPushUntil) {
			nb.pushed = s.id
			n.st.FragmentsPushedToPeers++
			n.st.BytesPushedToPeers += uint64(len(s.frag.Payload))
			n.sendMedia(nb, s, now)
		}
	}
}

// joinPushSpan is the length of a new neighbour's join push. Its first map
// (from us, at once, naming the first fragment after it came) makes
// librtmfp's first pull, a fetch period later, ask for the newest fragment
// of the maps it got in the next ~100 ms (its pull round): the push must
// cover what was published until then, with a margin for maps from other
// neighbours that came at the same time. At most the window.
func (c Config) joinPushSpan() time.Duration {
	return min(joinPushTime, c.Window)
}

// joinPushTime is joinPushSpan's length: ten pull rounds.
const joinPushTime = 10 * PullPeriod

// startAt fixes the first fragment a player delivers, and hands the
// reassembler what the buffer already holds from there on.
func (n *Node) startAt(id uint64) {
	n.re = NewReassembler(ReassemblerConfig{
		First:        id,
		MaxFragments: uint64(len(n.buf.slots)),
		MaxBytes:     n.lim.MaxBufferedBytes,
		OnLoss:       n.onLoss,
	})
	n.cursor = id - 1
	for k := max(id, n.buf.lo); n.buf.count > 0 && k <= n.buf.hi; k++ {
		if s := n.buf.get(k); s != nil {
			n.re.Add(s.frag)
		}
	}
}

// joinPoint is where a player starts: the first fragment it learnt of (the
// newest its first map showed, or the first it was sent), so that it
// delivers everything published since it joined, like librtmfp, which
// starts at its first map's newest fragment; at most limit, and never
// below expired (fragments the window already gave up on).
func (n *Node) joinPoint(limit, expired uint64) uint64 {
	start := limit
	if f := n.hz.first; f != 0 && f < start {
		start = f
	}
	return max(start, expired+1, 1)
}

func (n *Node) onLoss(first, last uint64) {
	if n.delivered {
		n.st.FragmentsLost += last - first + 1
	} else {
		n.st.FragmentsSkippedAtJoin += last - first + 1
	}
}

// reassemble hands a new fragment (already buffered) to the reassembler
// and delivers what is complete. The first one fixes the start.
func (n *Node) reassemble(f Fragment, now time.Time) {
	if n.re == nil {
		n.startAt(n.joinPoint(f.ID, n.hz.at(now.Add(-n.cfg.Window))))
		n.drain()
		return
	}
	if n.re.Add(f) {
		n.drain()
	}
}

func (n *Node) drain() {
	for {
		id, m, ok := n.re.Pop()
		if !ok {
			break
		}
		n.delivered = true
		n.st.MessagesDelivered++
		if n.deliver != nil {
			n.deliver(id, m)
		}
	}
	n.checkEnd()
}

// checkEnd reports the end of stream once everything before it is
// delivered or given up.
func (n *Node) checkEnd() {
	if n.ended || n.endID == 0 || n.re == nil || n.re.Next() < n.endID {
		return
	}
	n.ended = true
	if n.onEnd != nil {
		n.onEnd()
	}
}
