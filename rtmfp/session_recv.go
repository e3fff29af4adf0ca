package rtmfp

import (
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/internal/recvbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/sendbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// handlePacket processes one datagram addressed to this session.
func (s *Session) handlePacket(p *packet, now time.Time) {
	d := p.data()
	if s.state < stateOpen {
		s.handleStartupForSession(p, now)
		return
	}
	if s.state == stateClosed {
		return
	}
	body, err := s.crypto.Recv.Open(d[4:])
	if err != nil {
		s.stats.badPackets.Add(1)
		s.ep.stats.badPackets.Add(1)
		return
	}
	hdr, n, err := wire.ParseHeader(body)
	if err != nil {
		s.stats.badPackets.Add(1)
		return
	}
	want := wire.ModeResponder
	if !s.initiator {
		want = wire.ModeInitiator
	}
	if hdr.Mode() != want {
		// A session packet must come from the opposite role
		// (RFC 7016 §2.2.4); anything else is a reflection or noise.
		s.stats.badPackets.Add(1)
		return
	}
	s.stats.packetsIn.Add(1)
	s.stats.bytesIn.Add(uint64(len(d)))
	s.lastRecv = now
	s.keepaliveAt = now.Add(s.ep.cfg.KeepalivePeriod)
	if p.from != s.RemoteAddr() {
		// Address mobility (RFC 7016 §3.5.4): follow the far end to the
		// address of its latest authentic packet, as Flash peers do.
		from := p.from
		s.addr.Store(&from)
		s.stats.addressChanges.Add(1)
	}
	if hdr.HasTimestamp() {
		s.farTS, s.farTSAt, s.echoDue = hdr.Timestamp, now, true
	}
	if hdr.HasEcho() {
		ticks := timestamp16(s.ep.epoch, now) - hdr.Echo
		if ticks < 32768 {
			s.rtt.Sample(time.Duration(ticks) * timestampPeriod)
			s.srttNanos.Store(int64(s.rtt.SRTT()))
		}
	}
	if hdr.TimeCritical() {
		s.tcRecvAt = now
	}
	s.handleChunks(body[n:], now)
}

// handleChunks runs the chunk loop of a session packet (RFC 7016 §2.3).
func (s *Session) handleChunks(b []byte, now time.Time) {
	var prev wire.UserData
	havePrev, data := false, false
	r := wire.NewChunkReader(b)
	for r.Next() {
		v := r.Value()
		switch r.Type() {
		case wire.TypeUserData:
			ud, err := wire.ParseUserData(v)
			if err != nil {
				havePrev = false
				continue
			}
			prev, havePrev, data = ud, true, true
			s.handleUserData(ud, now)
		case wire.TypeNextUserData:
			nd, err := wire.ParseNextUserData(v)
			if err != nil || !havePrev {
				havePrev = false
				continue
			}
			ud := nd.Expand(prev)
			prev, data = ud, true
			s.handleUserData(ud, now)
		case wire.TypeAckBitmap, wire.TypeAckRanges:
			if err := wire.ParseAckInto(r.Type(), v, &s.w.ack.ack); err == nil {
				s.handleAck(&s.w.ack.ack, now)
			}
		case wire.TypePing:
			if len(s.pingReplies) < maxPendingPingReplys && len(v) <= maxPingData {
				s.pingReplies = append(s.pingReplies, append([]byte(nil), v...))
			}
		case wire.TypePingReply:
			// Any authentic packet already refreshed the session.
		case wire.TypeBufferProbe:
			if c, err := wire.ParseBufferProbe(v); err == nil {
				if f := s.recvFlows[c.FlowID]; f != nil {
					f.ackNeeded, f.ackNow = true, true
				}
			}
		case wire.TypeFlowException:
			if c, err := wire.ParseFlowException(v); err == nil {
				s.handleFlowException(c)
			}
		case wire.TypeCloseRequest:
			s.handleCloseRequest(now)
		case wire.TypeCloseAck:
			s.handleCloseAck()
			if s.state == stateClosed {
				return
			}
		case wire.TypeFIHello:
			if c, err := wire.ParseFIHello(v); err == nil {
				s.ep.handleFIHello(c, now)
			}
		}
	}
	if data {
		s.dataPkts++
		if s.delackAt.IsZero() {
			s.delackAt = now.Add(delayedAck)
		}
	}
}

// handleUserData processes one User Data fragment (RFC 7016 §3.6.3).
func (s *Session) handleUserData(ud wire.UserData, now time.Time) {
	fsn, ok := ud.FSN()
	if !ok || ud.Seq == 0 {
		return
	}
	f := s.recvFlows[ud.FlowID]
	if f == nil {
		if f = s.newRecvFlow(ud, now); f == nil {
			return
		}
	}
	f.ackNeeded = true
	if f.rejected || f.complete || s.state != stateOpen {
		f.ackNow = true
		return
	}
	// Flow control: data beyond the advertised window is not taken (and
	// so not acknowledged); the sender retransmits it later. A fragment
	// filling the gap in front of out-of-order data is taken beyond the
	// session's budget (within the flow's window): it lets what is held
	// be delivered.
	if ud.Seq > f.buf.Cumulative()+1 || len(ud.Data) > 0 {
		gapFill := ud.Seq == f.buf.Cumulative()+1 && f.buf.HeldAhead()
		if ud.Seq > f.buf.Cumulative() && (f.flowWindow() < len(ud.Data) || (!gapFill && s.recvFree() < len(ud.Data))) {
			f.ackNow = true
			s.stats.windowDrops.Add(1)
			if s.budgetFullAt.IsZero() && f.flowWindow() >= len(ud.Data) {
				s.budgetFullAt = now // the session's budget refused it
			}
			return
		}
	}
	before := f.buf.Cumulative()
	fresh, err := f.buf.Insert(ud.Seq, fsn, ud.Flags, ud.Data)
	if err != nil {
		s.rejectFlow(f, 0)
		return
	}
	if !fresh || f.buf.Cumulative() != ud.Seq || before+1 != ud.Seq {
		// Duplicates, gaps and gap fills are acknowledged at once so the
		// sender learns of losses quickly (RFC 7016 §3.6.3.4).
		f.ackNow = true
	}
	if f.buf.Complete() {
		f.complete = true
		f.ackNow = true
		f.lingerEnd = now.Add(recvFlowLinger)
		f.buf.Release()
		f.end(nil)
	}
	s.chargeRecv(f)
	if s.recvHeld > s.ep.cfg.SessionRecvBudget+s.ep.cfg.SessionRecvBudget/4 && s.unread.Load() == 0 {
		// Far over the budget with nothing to read: gap fills that only
		// grow unfinished messages, or zero-length fragments far ahead
		// that grow the reordering rings.
		s.recvBudgetExhausted(now)
	}
}

// recvBudgetGrace is how long a session's receive budget may stay full
// without a message being delivered before the session is closed: an
// honest sender's burst resolves within round trips, as its gaps fill and
// its messages complete.
const recvBudgetGrace = 5 * time.Second

// checkRecvBudget closes a session whose receive budget refused data and
// has since delivered no message while nothing waited to be read: the far
// end holds the budget with data that cannot be delivered.
func (s *Session) checkRecvBudget(now time.Time) {
	if s.budgetFullAt.IsZero() {
		return
	}
	if s.unread.Load() > 0 || s.recvFree() > s.ep.cfg.SessionRecvBudget/4 {
		s.budgetFullAt = time.Time{} // the application's to read, or room again
		return
	}
	if now.Sub(s.budgetFullAt) >= recvBudgetGrace {
		s.recvBudgetExhausted(now)
	}
}

// recvFlowOverhead is what a receive flow costs besides its buffer.
const recvFlowOverhead = 512

// chargeRecv brings the session's count of receive memory (and its
// account) up to date with f's buffer.
func (s *Session) chargeRecv(f *RecvFlow) {
	fp := recvFlowOverhead + f.buf.Footprint()
	if d := fp - f.charged; d != 0 {
		f.charged = fp
		s.recvHeld += d
		s.acct.Add(d)
	}
}

// uncharge releases what a receive flow the session forgets holds.
func (s *Session) uncharge(f *RecvFlow) {
	s.recvHeld -= f.charged
	s.acct.Add(-f.charged)
	f.charged = 0
}

// read counts n bytes of received messages read (n < 0: delivered, to be
// read).
func (s *Session) read(n int) {
	s.unread.Add(int64(-n))
	s.acct.Add(-n)
}

// recvFree is what is left of the session's receive budget.
func (s *Session) recvFree() int {
	return s.ep.cfg.SessionRecvBudget - s.recvHeld - int(s.unread.Load())
}

// recvBudgetExhausted closes a session whose receive budget is full of
// data it cannot deliver.
func (s *Session) recvBudgetExhausted(now time.Time) {
	if s.state != stateOpen {
		return
	}
	s.ep.stats.closedRecvBudget.Add(1)
	s.logger().Debug("closing: receive budget exhausted", "held", s.recvHeld, "budget", s.ep.cfg.SessionRecvBudget, "flows", len(s.recvFlows))
	s.beginClose(now, ErrRecvBudget)
}

// newRecvFlow creates the receiving side of a flow the far end opened. The
// first fragment seen must carry the options (a sender repeats them until
// acknowledged, RFC 7016 §3.6.2.3), else it is ignored.
func (s *Session) newRecvFlow(ud wire.UserData, now time.Time) *RecvFlow {
	if ud.Flags&wire.FlagOptions == 0 {
		return nil
	}
	opts, err := wire.ParseUserDataOptions(ud.Options)
	if err != nil {
		return nil
	}
	if len(s.recvFlows) >= s.ep.cfg.MaxRecvFlows {
		s.evictLingeringFlow()
	}
	f := &RecvFlow{
		s:        s,
		id:       ud.FlowID,
		metadata: append([]byte(nil), opts.Metadata...),
		ready:    make(chan struct{}, 1),
	}
	f.buf = recvbuf.New(s.ep.cfg.MaxMessageSize, s.ep.cfg.RecvWindow, f.deliver)
	s.chargeRecv(f)
	if opts.HasReturnAssociation {
		f.assoc = s.sendFlows[opts.ReturnAssociation]
	}
	s.recvFlows[f.id] = f
	s.stats.flowsIn.Add(1)
	switch {
	case len(s.recvFlows) > s.ep.cfg.MaxRecvFlows, opts.UnknownMandatory:
		// Too many flows, or an option we must understand and do not
		// (RFC 7016 §2.3.11.1): refuse the flow.
		s.rejectFlow(f, 0)
	case s.ordered != nil:
		// Announced by its first message in ReadInOrder.
	default:
		select {
		case s.acceptCh <- f:
		default:
			s.rejectFlow(f, 0)
		}
	}
	return f
}

// evictLingeringFlow forgets the completed flow that finished first.
func (s *Session) evictLingeringFlow() {
	var oldest *RecvFlow
	for _, f := range s.recvFlows {
		if (f.complete || f.rejected) && (oldest == nil || f.lingerEnd.Before(oldest.lingerEnd)) {
			oldest = f
		}
	}
	if oldest != nil {
		delete(s.recvFlows, oldest.id)
		s.uncharge(oldest)
	}
}

// rejectFlow sends a Flow Exception Report for f.
func (s *Session) rejectFlow(f *RecvFlow, code uint64) {
	if !f.rejected {
		f.rejected = true
		f.mu.Lock()
		f.rejectCode = code
		f.mu.Unlock()
		f.lingerEnd = time.Now().Add(recvFlowLinger)
		f.buf.Release()
		s.chargeRecv(f)
		f.end(ErrFlowClosed)
		s.stats.flowsRejected.Add(1)
	}
	f.ackNeeded, f.ackNow = true, true
}

// recvFlowChanged reacts to the application reading or rejecting a flow.
func (s *Session) recvFlowChanged(f *RecvFlow) {
	if s.recvFlows[f.id] != f {
		return
	}
	f.mu.Lock()
	rej, code := f.rejectReq, f.rejectCode
	f.mu.Unlock()
	if rej && !f.rejected {
		s.rejectFlow(f, code)
		return
	}
	if f.lowWindow {
		f.ackNeeded, f.ackNow = true, true
	}
}

// handleAck applies an acknowledgement to the send flow it names.
func (s *Session) handleAck(a *wire.Ack, now time.Time) {
	f := s.sendFlows[a.FlowID]
	if f == nil || f.q == nil {
		return
	}
	ranges := s.w.ack.ranges[:0]
	pos := a.CumulativeAck
	for _, r := range a.Ranges {
		start := pos + r.Holes + 1
		end := start + r.Received - 1
		if start <= pos || end < start { // overflow: a lying ack
			break
		}
		ranges = append(ranges, sendbuf.Range{Start: start, End: end})
		pos = end
	}
	s.w.ack.ranges = ranges
	before := s.inFlight
	res := f.q.OnAck(a.CumulativeAck, ranges, now, s.lossDelay())
	s.inFlight -= res.Acked + res.Lost
	f.acked = true
	if w := a.BufferBlocksAvailable; w > 1<<20 {
		f.rwnd = 1 << 30
	} else {
		f.rwnd = int(w) * 1024
	}
	if f.rwnd > 0 {
		f.persist = time.Time{}
	}
	if res.Acked > 0 || res.Progress {
		s.rtoBase = now
		s.rtt.Progress()
	}
	if res.Acked > 0 {
		// Data delivered (not merely abandoned): the far end is taking
		// what is sent.
		s.stalledSince = time.Time{}
	}
	if res.Lost > 0 {
		s.stats.retransmits.Add(uint64(res.Lost / max(f.fragSize, 1)))
	}
	if res.Spurious > 0 {
		// Reordering, not loss: widen the reordering window and take
		// back the window reduction (RFC 8985 §6.2, RFC 4015).
		s.reorderMult = min(s.reorderMult+1, maxReorderMult)
		s.cc.Undo()
		s.stats.spuriousLosses.Add(uint64(res.Spurious))
	}
	s.cc.OnAck(res.Acked, res.Lost, before)
	s.finishSendFlow(f)
}

// finishSendFlow retires a send flow whose queue is done.
func (s *Session) finishSendFlow(f *SendFlow) {
	f.publish()
	if f.q.Done() {
		s.removeSendFlow(f)
		f.finish()
	}
}

func (s *Session) removeSendFlow(f *SendFlow) {
	if s.sendFlows[f.id] != f {
		return
	}
	delete(s.sendFlows, f.id)
	for i, g := range s.order {
		if g == f {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.inFlight -= f.q.InFlight()
	s.mu.Lock()
	s.nSend--
	s.mu.Unlock()
}

// handleFlowException fails the send flow the far end rejected.
func (s *Session) handleFlowException(c wire.FlowException) {
	f := s.sendFlows[c.FlowID]
	if f == nil {
		return
	}
	s.removeSendFlow(f)
	f.fail(&FlowException{FlowID: c.FlowID, Code: c.Code})
}

// handleCloseRequest answers a Session Close Request (RFC 7016 §3.5.5.2).
func (s *Session) handleCloseRequest(now time.Time) {
	s.closeAckDue = true
	switch s.state {
	case stateOpen:
		s.state = stateFarClose
		s.lingerUntil = now.Add(farCloseLinger)
		s.setErr(ErrFarClose)
		for _, f := range s.sendFlows {
			f.fail(ErrFarClose)
		}
		for _, f := range s.recvFlows {
			f.end(ErrFarClose)
		}
		s.markDone()
	case stateNearClose:
		// Both ends closing: acknowledge and finish.
		s.finishClose(s.closeErr())
	}
}

// handleCloseAck ends the session on a Session Close Acknowledgement. In
// S_NEARCLOSE it completes our close; in S_OPEN and S_FARCLOSE_LINGER it is
// the far end's abrupt close (RFC 7016 §3.5.5.2): it has already moved to
// S_CLOSED, so nothing more is sent. librtmfp ends every session this way.
func (s *Session) handleCloseAck() {
	switch s.state {
	case stateNearClose:
		s.finishClose(s.closeErr())
	case stateOpen, stateFarClose:
		s.finishClose(ErrFarClose)
	}
}

func (s *Session) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *Session) closeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abortErr != nil {
		return s.abortErr
	}
	return ErrSessionClosed
}

// lossDelay is how long a fragment that a later acknowledgement passed over
// may stay unacknowledged before it is declared lost: a smoothed round trip
// plus a reordering window of a quarter round trip, widened each time a loss
// proves spurious (0 before any measurement: NAK counting only).
func (s *Session) lossDelay() time.Duration {
	srtt := s.rtt.SRTT()
	if !s.rtt.HasSample() {
		return 0
	}
	return srtt + max(srtt/4*time.Duration(1+s.reorderMult), time.Millisecond)
}
