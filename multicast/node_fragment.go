package multicast

import (
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// Publish cuts a message into fragments, buffers them and pushes each to
// the neighbours that asked for its bit (at most PushNeighborLimit). Empty
// messages are dropped.
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
		return err
	}
	for _, f := range n.fragsTmp {
		raw := f.Append(make([]byte, 0, f.Len()))
		f.Payload = raw[len(raw)-len(f.Payload):]
		s := slot{id: f.ID, raw: raw, frag: f, at: now}
		n.buf.put(s)
		n.trusted = f.ID
		n.hz.advance(now, f.ID)
		n.pushFragment(n.buf.get(f.ID), nil, now)
		if n.published != nil {
			n.published(raw)
		}
	}
	clear(n.fragsTmp)
	n.st.MessagesPublished++
	return nil
}

// Close ends a publisher's stream: every neighbour gets the end of stream
// (the ID after the last fragment). The buffer keeps serving pulls until
// its fragments age out.
func (n *Node) Close(now time.Time) error {
	if !n.publisher {
		return ErrNotPublisher
	}
	if n.closed {
		return nil
	}
	n.closed = true
	n.endID = n.frag.Last() + 1
	for _, id := range n.order {
		if nb := n.neighbors[id]; nb.infoSent && nb.endTries == 0 {
			n.sendEnd(nb, now)
		}
	}
	return nil
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
	n.reassemble(f)
	return nil
}

// pushFragment sends a new fragment to the neighbours that asked for its
// bit, oldest request first, at most PushNeighborLimit of them, never back
// to the neighbour it came from.
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
		n.st.FragmentsPushedToPeers++
		n.st.BytesPushedToPeers += uint64(len(s.frag.Payload))
		n.sendMedia(nb, s, now)
	}
}

// startAt fixes the first fragment a player delivers.
func (n *Node) startAt(id uint64) {
	n.re = NewReassembler(ReassemblerConfig{
		First:        id,
		MaxFragments: uint64(len(n.buf.slots)),
		MaxBytes:     n.lim.MaxBufferedBytes,
		OnLoss:       n.onLoss,
	})
	n.cursor = id - 1
}

func (n *Node) onLoss(first, last uint64) {
	if n.delivered {
		n.st.FragmentsLost += last - first + 1
	} else {
		n.st.FragmentsSkippedAtJoin += last - first + 1
	}
}

// reassemble hands a new fragment to the reassembler and delivers what is
// complete.
func (n *Node) reassemble(f Fragment) {
	if n.re == nil {
		n.startAt(f.ID)
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
