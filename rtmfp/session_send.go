package rtmfp

import (
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/internal/cookie"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/recvbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/sendbuf"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

func newQueue(fragSize int) *sendbuf.Queue { return sendbuf.New(fragSize) }

// builder assembles one packet body in s.body, in place: in the slot of the
// worker's batch where the sealed packet goes.
type builder struct {
	hdrLen   int
	chunks   bool
	tc       bool
	echo     bool
	prevFlow *SendFlow
	prevSeq  uint64
}

// begin starts a packet: flags, timestamp and, when due, the echo.
func (s *Session) begin(now time.Time) builder {
	mode := wire.ModeResponder
	if s.initiator {
		mode = wire.ModeInitiator
	}
	h := wire.Header{Flags: mode | wire.HeaderTimestamp, Timestamp: timestamp16(s.ep.epoch, now)}
	b := builder{}
	if s.echoDue && now.Sub(s.farTSAt) < maxEchoAge {
		h.Flags |= wire.HeaderTimestampEcho
		h.Echo = s.farTS + uint16(now.Sub(s.farTSAt)/timestampPeriod)
		b.echo = true
	}
	if !s.tcRecvAt.IsZero() && now.Sub(s.tcRecvAt) < timeCriticalTimeout {
		h.Flags |= wire.HeaderTimeCriticalReverse
	}
	off := 4 + s.prefix
	s.body = h.Append(s.w.out.slot()[off:off])
	b.hdrLen = len(s.body)
	return b
}

func (s *Session) room() int { return s.maxBody - len(s.body) }

// emit seals and sends the packet being built, if it holds any chunk.
func (s *Session) emit(now time.Time, b *builder) {
	if !b.chunks {
		return
	}
	if b.tc {
		s.body[0] |= wire.HeaderTimeCritical
	}
	out := s.crypto.Send.Seal(s.w.out.slot()[:4], s.body)
	scramble(out, s.farID)
	s.w.out.add(out, s.RemoteAddr())
	s.stats.packetsOut.Add(1)
	s.stats.bytesOut.Add(uint64(len(out)))
	if b.echo {
		s.echoDue = false
	}
	*b = s.begin(now)
}

// add appends a chunk, emitting the current packet first when it is full.
func (s *Session) add(now time.Time, b *builder, chunk []byte) {
	if len(chunk) > s.room() {
		s.emit(now, b)
	}
	s.body = append(s.body, chunk...)
	b.chunks = true
	b.prevFlow = nil
}

// sendControl sends pre-encoded chunks promptly.
func (s *Session) sendControl(now time.Time, chunks ...[]byte) {
	b := s.begin(now)
	for _, c := range chunks {
		if len(c) <= s.maxBody-b.hdrLen {
			s.add(now, &b, c)
		}
	}
	s.emit(now, &b)
}

// flush sends what is due: close chunks, ping replies, acknowledgements and
// data within the congestion and receive windows.
func (s *Session) flush(now time.Time) {
	b := s.begin(now)
	var scratch [64]byte
	if s.closeAckDue {
		s.add(now, &b, wire.CloseAck{}.Append(scratch[:0]))
		s.closeAckDue = false
	}
	if s.state == stateNearClose {
		if s.closeSentAt.IsZero() || now.Sub(s.closeSentAt) >= max(s.rtt.ERTO(), time.Second) {
			s.add(now, &b, wire.CloseRequest{}.Append(scratch[:0]))
			s.closeSentAt = now
		}
		s.emit(now, &b)
		return
	}
	for _, d := range s.pingReplies {
		s.add(now, &b, wire.PingReply{Data: d}.Append(nil))
	}
	s.pingReplies = s.pingReplies[:0]
	if s.pingDue {
		s.add(now, &b, wire.Ping{}.Append(scratch[:0]))
		s.pingDue = false
	}
	if s.state == stateOpen {
		dataWaiting := s.sendData(now, &b)
		s.sendAcks(now, &b, dataWaiting || b.chunks)
	} else {
		s.sendAcks(now, &b, true)
	}
	s.emit(now, &b)
}

// sendAcks appends the acknowledgements that are due: all of them when
// force is set, after two data packets, or when the delayed-ack timer ran out
// (RFC 7016 §3.6.3.4: at most two packets and 200 ms before acknowledging),
// otherwise only the urgent ones.
func (s *Session) sendAcks(now time.Time, b *builder, force bool) {
	if s.ep.cfg.noAcks {
		for _, f := range s.recvFlows {
			f.ackNeeded, f.ackNow = false, false
		}
		s.dataPkts, s.delackAt = 0, time.Time{}
		return
	}
	all := force || s.dataPkts >= 2 || (!s.delackAt.IsZero() && !now.Before(s.delackAt))
	pending := false
	for _, f := range s.recvFlows {
		if !f.ackNeeded {
			continue
		}
		if !all && !f.ackNow {
			pending = true
			continue
		}
		s.appendAck(now, b, f)
	}
	if !pending {
		s.dataPkts = 0
		s.delackAt = time.Time{}
	}
}

// appendAck appends the Range Ack (and, for a refused flow, the Flow
// Exception Report) of one receive flow.
func (s *Session) appendAck(now time.Time, b *builder, f *RecvFlow) {
	var ranges [recvbuf.MaxRanges]recvbuf.Range
	rs := f.buf.AppendRanges(ranges[:0])
	win := f.window()
	a := wire.Ack{FlowID: f.id, CumulativeAck: f.buf.Cumulative(), BufferBlocksAvailable: uint64(win / 1024)}
	if a.BufferBlocksAvailable == 0 && win > 0 {
		// librtmfp and Cumulus treat a zero window as fatal: advertise
		// at least one block while there is any room (rtmfp-facts §2.2).
		a.BufferBlocksAvailable = 1
	}
	f.lowWindow = win < s.ep.cfg.RecvWindow/4
	pos := a.CumulativeAck
	var wr [recvbuf.MaxRanges]wire.AckRange
	a.Ranges = wr[:0]
	for _, r := range rs {
		a.Ranges = append(a.Ranges, wire.AckRange{Holes: r.Start - pos - 1, Received: r.End - r.Start + 1})
		pos = r.End
	}
	var buf [512]byte
	chunk := a.AppendRanges(buf[:0])
	for len(chunk) > s.maxBody-b.hdrLen && len(a.Ranges) > 0 {
		a.Ranges = a.Ranges[:len(a.Ranges)/2]
		chunk = a.AppendRanges(buf[:0])
	}
	s.add(now, b, chunk)
	if f.rejected {
		f.mu.Lock()
		code := f.rejectCode
		f.mu.Unlock()
		s.add(now, b, wire.FlowException{FlowID: f.id, Code: code}.Append(buf[:0]))
	}
	f.ackNeeded, f.ackNow = false, false
}

// sendData appends data chunks while the windows allow. It reports whether
// data is still waiting.
func (s *Session) sendData(now time.Time, b *builder) bool {
	s.pacedUntil = time.Time{}
	var buf [64]byte
	blocked := map[*SendFlow]bool(nil)
	for {
		f := s.pickFlow(blocked)
		if f == nil {
			return false
		}
		if seq, ok := f.q.AbandonNotice(); ok {
			ud := wire.UserData{Flags: sendbuf.FlagAbn, FlowID: f.id, Seq: seq}
			s.add(now, b, ud.Append(buf[:0]))
			f.q.NoticeSent()
			if s.rtoBase.IsZero() {
				s.rtoBase = now
			}
			continue
		}
		frag := f.q.Next()
		if frag == nil {
			if blocked == nil {
				blocked = make(map[*SendFlow]bool)
			}
			blocked[f] = true
			continue
		}
		size := len(frag.Data) + dataOverhead + len(f.options)
		if s.inFlight >= s.cc.Window() {
			// Congestion window full; a packet may overshoot it by
			// less than one packet, as in TCP.
			return true
		}
		if s.pacer.Allow(now, s.cc.Window(), s.mss(), s.rtt.SRTT()) < size {
			s.pacedUntil = s.pacer.Next(now, size, s.cc.Window(), s.rtt.SRTT())
			return true
		}
		if fi := f.q.InFlight(); fi > 0 && fi+size > f.rwnd {
			if blocked == nil {
				blocked = make(map[*SendFlow]bool)
			}
			blocked[f] = true
			continue
		}
		if f.rwnd == 0 {
			s.probe(now, b, f)
			if blocked == nil {
				blocked = make(map[*SendFlow]bool)
			}
			blocked[f] = true
			continue
		}
		// The chunk is encoded in place; if it overflows the packet it
		// goes in the next one.
		mark := len(s.body)
		s.body = s.dataChunk(s.body, b, f, frag)
		if len(s.body) > s.maxBody && b.chunks {
			s.body = s.body[:mark]
			s.emit(now, b)
			mark = len(s.body)
			s.body = s.dataChunk(s.body, b, f, frag)
		}
		chunk := s.body[mark:]
		b.chunks = true
		b.prevFlow, b.prevSeq = f, frag.Seq
		if f.opts.TimeCritical {
			b.tc = true
		}
		if frag.Sent() {
			s.stats.retransmits.Add(1)
		}
		f.q.MarkSent(frag, now, len(chunk))
		if s.inFlight == 0 {
			s.rtoBase = now
		}
		s.inFlight += len(chunk)
		s.pacer.Spend(len(chunk))
		s.stats.fragmentsOut.Add(1)
	}
}

// dataChunk encodes a fragment as User Data, or as Next User Data when it
// directly follows the previous fragment of the same flow in this packet.
func (s *Session) dataChunk(dst []byte, b *builder, f *SendFlow, frag *sendbuf.Fragment) []byte {
	if b.prevFlow == f && b.prevSeq+1 == frag.Seq && f.acked {
		return wire.NextUserData{Flags: frag.Flags, Data: frag.Data}.Append(dst)
	}
	ud := wire.UserData{Flags: frag.Flags, FlowID: f.id, Seq: frag.Seq, FSNOffset: frag.Seq - f.q.FSN(), Data: frag.Data}
	if !f.acked {
		// Options are repeated until the far end acknowledges the
		// flow (RFC 7016 §3.6.2.3).
		ud.Flags |= wire.FlagOptions
		ud.Options = f.options
	}
	return ud.Append(dst)
}

// probe sends a Buffer Probe for a flow whose receive window is closed,
// backing off from 1 s to 60 s (RFC 7016 §3.6.2.6).
func (s *Session) probe(now time.Time, b *builder, f *SendFlow) {
	if !f.persist.IsZero() && now.Before(f.persist) {
		return
	}
	f.persistBackoff = min(max(f.persistBackoff*1414/1000, persistInitial), persistMax)
	f.persist = now.Add(f.persistBackoff)
	var buf [16]byte
	s.add(now, b, wire.BufferProbe{FlowID: f.id}.Append(buf[:0]))
}

// pickFlow chooses the next send flow with something to send: highest
// priority first, round robin among equals.
func (s *Session) pickFlow(blocked map[*SendFlow]bool) *SendFlow {
	best := -1
	var pick *SendFlow
	n := len(s.order)
	for i := range n {
		f := s.order[(s.rr+i)%n]
		if blocked[f] || !f.q.HasWork() {
			continue
		}
		if pick == nil || f.opts.Priority > best {
			pick, best = f, f.opts.Priority
		}
	}
	if pick != nil {
		s.rr = (s.rr + 1) % max(n, 1)
	}
	return pick
}

// onTimers runs what is due at now: retransmission timeout, abandonment,
// keepalive, idle and close deadlines.
func (s *Session) onTimers(now time.Time) {
	switch s.state {
	case stateOpening, stateKeying:
		s.handshakeTimer(now)
		return
	case stateFarClose:
		if !now.Before(s.lingerUntil) {
			s.finishClose(ErrFarClose)
		}
		return
	}
	if s.unansweredAtShutdown(now) {
		s.logger().Debug("no answer since the shutdown began; session abandoned")
		s.mu.Lock()
		s.err = ErrAbandoned // whatever the close was for
		s.mu.Unlock()
		s.finishClose(ErrAbandoned)
		return
	}
	if s.state == stateNearClose {
		if !now.Before(s.closeUntil) {
			s.finishClose(s.closeErr())
		}
		return
	}
	if now.Sub(s.lastRecv) >= s.ep.cfg.IdleTimeout {
		s.logger().Debug("session idle, closing", "idle", now.Sub(s.lastRecv))
		s.beginClose(now, ErrTimeout)
		return
	}
	if !now.Before(s.keepaliveAt) {
		s.pingDue = true
		s.keepaliveAt = now.Add(s.ep.cfg.KeepalivePeriod)
	}
	if s.rikeying != nil && now.Sub(s.openedAt) >= cookie.Lifetime {
		s.ep.forgetRIKeying(s)
	}
	if !s.nextExpire.IsZero() && !now.Before(s.nextExpire) {
		// Messages whose lifetime ended (nextExpire is the earliest
		// deadline, as of the last run).
		s.nextExpire = time.Time{}
		for i := len(s.order) - 1; i >= 0; i-- { // finishSendFlow may remove s.order[i]
			if f := s.order[i]; f.q.Timed() {
				s.inFlight -= f.q.Expire(now)
				s.finishSendFlow(f)
			}
		}
	}
	if ld := s.lossDelay(); ld > 0 {
		lost := 0
		for _, f := range s.order {
			if d, ok := f.q.LossDeadline(ld); ok && !now.Before(d) {
				lost += f.q.DetectLoss(now, ld)
			}
		}
		if lost > 0 {
			before := s.inFlight
			s.inFlight -= lost
			s.cc.OnAck(0, lost, before)
		}
	}
	s.checkRecvBudget(now)
	if s.state != stateOpen {
		return
	}
	out := s.outstanding()
	if s.waiting(out) {
		// Data waits to be sent or acknowledged: the far end must
		// acknowledge some within RetransmitLimit, whatever else it
		// answers (pings, probes of a closed window).
		if s.stalledSince.IsZero() {
			s.stalledSince = now
		} else if d := now.Sub(s.stalledSince); d >= s.ep.cfg.RetransmitLimit {
			s.ep.stats.closedStalled.Add(1)
			s.logger().Debug("closing: no acknowledged progress", "for", d.Round(time.Millisecond))
			s.beginClose(now, ErrStalled)
			return
		}
	} else {
		s.stalledSince = time.Time{}
	}
	if s.rtoBase.IsZero() && out {
		s.rtoBase = now
	}
	if out && !s.rtoBase.IsZero() && now.Sub(s.rtoBase) >= s.rtt.ERTO() {
		for _, f := range s.order {
			s.inFlight -= f.q.OnTimeout()
		}
		s.cc.OnTimeout(true)
		s.rtt.Backoff()
		s.rtoBase = now
		s.stats.timeouts.Add(1)
	}
	if s.closing && (s.allSendFlowsDone() || !now.Before(s.closeUntil)) {
		s.beginClose(now, ErrSessionClosed)
	}
}

// waiting reports whether data waits to be sent or acknowledged
// (outstanding: whether some awaits an acknowledgement).
func (s *Session) waiting(outstanding bool) bool {
	if outstanding {
		return true
	}
	for _, f := range s.order {
		if f.q.HasWork() {
			return true
		}
	}
	return false
}

// unansweredAtShutdown reports whether the endpoint is shutting down and
// the far end has sent nothing since, for longer than it takes to answer:
// a peer that vanished (killed, unplugged) would otherwise hold the
// shutdown for the whole flow drain and close exchange. A far end that
// answers anything is given the full close.
func (s *Session) unansweredAtShutdown(now time.Time) bool {
	return !s.shutdownAt.IsZero() && !s.lastRecv.After(s.shutdownAt) && !now.Before(s.abandonAt())
}

// abandonAt is when a session silent since the shutdown began is dropped.
func (s *Session) abandonAt() time.Time {
	return s.shutdownAt.Add(max(shutdownPatience, 4*s.rtt.SRTT()))
}

// outstanding reports whether any flow awaits an acknowledgement.
func (s *Session) outstanding() bool {
	for _, f := range s.order {
		if f.q.Outstanding() {
			return true
		}
	}
	return false
}

func (s *Session) allSendFlowsDone() bool {
	for _, f := range s.order {
		if !f.q.Done() {
			return false
		}
	}
	return true
}

// nextDeadline is the earliest time the session goroutine must wake up.
func (s *Session) nextDeadline(now time.Time) time.Time {
	next := now.Add(time.Hour)
	at := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	switch s.state {
	case stateOpening, stateKeying:
		at(s.hs.next)
		at(s.hs.deadline)
		return next
	case stateFarClose:
		at(s.lingerUntil)
		return next
	}
	if !s.shutdownAt.IsZero() && !s.lastRecv.After(s.shutdownAt) {
		at(s.abandonAt())
	}
	if s.state == stateNearClose {
		at(s.closeUntil)
		at(s.closeSentAt.Add(max(s.rtt.ERTO(), time.Second)))
		return next
	}
	at(s.lastRecv.Add(s.ep.cfg.IdleTimeout))
	at(s.keepaliveAt)
	if s.dataPkts > 0 || !s.delackAt.IsZero() {
		at(s.delackAt)
	}
	if !s.rtoBase.IsZero() && s.outstanding() {
		at(s.rtoBase.Add(s.rtt.ERTO()))
	}
	ld := s.lossDelay()
	s.nextExpire = time.Time{}
	for _, f := range s.order {
		if d, ok := f.q.LossDeadline(ld); ok {
			at(d.Add(time.Microsecond))
		}
		if !f.persist.IsZero() && f.rwnd == 0 && f.q.HasWork() {
			at(f.persist)
		}
		if d, ok := f.q.NextDeadline(); ok && (s.nextExpire.IsZero() || d.Before(s.nextExpire)) {
			s.nextExpire = d
		}
	}
	at(s.nextExpire)
	if s.pacedUntil.After(now) {
		at(s.pacedUntil)
	}
	if !s.stalledSince.IsZero() {
		at(s.stalledSince.Add(s.ep.cfg.RetransmitLimit))
	}
	if !s.budgetFullAt.IsZero() {
		at(s.budgetFullAt.Add(recvBudgetGrace))
	}
	if s.closing {
		at(s.closeUntil)
	}
	return next
}

// closeGracefully closes every send flow and waits (up to CloseTimeout) for
// their data before the close exchange.
func (s *Session) closeGracefully(now time.Time) {
	if s.closing {
		return
	}
	s.closing = true
	s.closeUntil = now.Add(s.ep.cfg.CloseTimeout)
	for _, f := range s.order {
		f.mu.Lock()
		f.closeReq = true
		f.mu.Unlock()
		f.takePending()
	}
}

// beginClose starts the close exchange (RFC 7016 §3.5.5.1).
func (s *Session) beginClose(now time.Time, err error) {
	if s.state >= stateNearClose {
		return
	}
	s.setErr(err)
	s.state = stateNearClose
	s.closeUntil = now.Add(s.ep.cfg.CloseTimeout)
	s.closeSentAt = time.Time{}
	s.mu.Lock()
	err = s.err
	s.mu.Unlock()
	for _, f := range s.sendFlows {
		f.fail(err)
	}
	for _, f := range s.recvFlows {
		f.end(err)
	}
}
