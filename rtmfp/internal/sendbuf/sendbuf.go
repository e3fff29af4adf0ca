// Package sendbuf is the sending side of one RTMFP flow (RFC 7016 §3.6.2):
// the queue of fragments with their sequence numbers, what has been sent,
// acknowledged, declared lost or abandoned, and the forward sequence number.
//
// A message written to a flow is cut into fragments of at most the queue's
// fragment size, each with its own sequence number and the fragment control
// bits of §2.3.11. Acknowledgements (§3.6.2.4) mark fragments delivered; a
// fragment that three acknowledgements pass over while it is in flight is
// declared lost and queued for retransmission (§3.6.2.5, NAKS_FOR_LOSS = 3).
// A message may carry a deadline: when it passes, its fragments that are not
// yet acknowledged are abandoned (partial reliability, §3.6.2.3.1) and the
// forward sequence number (FSN) moves past them so the receiver stops waiting.
//
// The queue is owned by the session goroutine; nothing here locks.
package sendbuf

import "time"

// Fragment control and flag bits as they appear on the wire (RFC 7016
// §2.3.11).
const (
	FragWhole  byte = 0x00
	FragFirst  byte = 0x10
	FragLast   byte = 0x20
	FragMiddle byte = 0x30
	FlagAbn    byte = 0x02
	FlagFin    byte = 0x01
)

// NAKsForLoss is the number of acknowledgements that must skip an in-flight
// fragment before it is declared lost.
const NAKsForLoss = 3

// Fragment is one sequence number of the flow.
type Fragment struct {
	Seq      uint64
	Data     []byte
	Flags    byte // fragment control | FIN
	Deadline time.Time
	SentAt   time.Time
	size     int // bytes counted in flight when sent
	naks     uint8
	sent     bool
	inFlight bool
	acked    bool
	abandon  bool
	lost     bool
}

// Sent reports whether the fragment was ever transmitted.
func (f *Fragment) Sent() bool { return f.sent }

// Range is an inclusive range of acknowledged sequence numbers.
type Range struct{ Start, End uint64 }

// Queue is one flow's send queue.
type Queue struct {
	frags     []Fragment // frags[i].Seq == base+i
	head      int        // index of the first fragment not yet acked or abandoned
	base      uint64     // sequence number of frags[0]
	nextSeq   uint64     // next sequence number to assign
	fragSize  int
	unsent    int // index of the first never-sent fragment
	lost      int // fragments awaiting retransmission
	inFlight  int // bytes
	buffered  int // data bytes held
	closed    bool
	peerCum   uint64 // highest cumulative ack received
	abnNotice bool   // an abandon notice must be sent for FSN
	timed     int    // fragments with a deadline, not yet acknowledged or abandoned
	// lastDeadline is the latest deadline pushed while timed fragments
	// remain; unordered is set when one was pushed earlier than it. While
	// it is not, the deadlines of the timed fragments never decrease from
	// head on (a flow's messages share one lifetime), and NextDeadline and
	// Expire stop at the first one instead of walking the whole queue.
	lastDeadline time.Time
	unordered    bool
	// nakked counts the in-flight fragments an acknowledgement passed
	// over (naks > 0): with none, DetectLoss and LossDeadline have nothing
	// to look for.
	nakked int
}

// New returns an empty queue whose fragments carry at most fragSize bytes.
func New(fragSize int) *Queue {
	return &Queue{fragSize: max(fragSize, 1), nextSeq: 1, base: 1}
}

// Push queues a message. data is owned by the queue from now on. A zero
// deadline makes the message fully reliable.
func (q *Queue) Push(data []byte, deadline time.Time) {
	if q.closed {
		return
	}
	n := (len(data) + q.fragSize - 1) / q.fragSize
	if n == 0 {
		n = 1
	}
	for i := range n {
		var ctl byte
		switch {
		case n == 1:
			ctl = FragWhole
		case i == 0:
			ctl = FragFirst
		case i == n-1:
			ctl = FragLast
		default:
			ctl = FragMiddle
		}
		lo := i * q.fragSize
		hi := min(lo+q.fragSize, len(data))
		q.append(Fragment{Data: data[lo:hi:hi], Flags: ctl, Deadline: deadline})
	}
	if !deadline.IsZero() {
		if q.timed == 0 {
			q.lastDeadline, q.unordered = time.Time{}, false
		}
		if deadline.Before(q.lastDeadline) {
			q.unordered = true
		} else {
			q.lastDeadline = deadline
		}
		q.timed += n
	}
	q.buffered += len(data)
}

// Close ends the flow: a final empty fragment carrying ABN|FIN follows the
// data (Flash clients expect FIN together with ABN, rtmfp-facts §4.5).
func (q *Queue) Close() {
	if q.closed {
		return
	}
	q.closed = true
	q.append(Fragment{Flags: FlagAbn | FlagFin})
}

func (q *Queue) append(f Fragment) {
	if q.head > 0 && q.head >= len(q.frags)/2 && len(q.frags) == cap(q.frags) {
		q.compact()
	}
	f.Seq = q.nextSeq
	q.nextSeq++
	q.frags = append(q.frags, f)
}

func (q *Queue) compact() {
	n := copy(q.frags, q.frags[q.head:])
	clear(q.frags[n:])
	q.frags = q.frags[:n]
	q.base += uint64(q.head)
	q.unsent -= q.head
	q.head = 0
}

// Closed reports whether Close was called.
func (q *Queue) Closed() bool { return q.closed }

// Done reports whether the flow was closed and every fragment is
// acknowledged or abandoned.
func (q *Queue) Done() bool { return q.closed && q.head == len(q.frags) && !q.abnNotice }

// Empty reports whether nothing remains to send or to be acknowledged.
func (q *Queue) Empty() bool { return q.head == len(q.frags) && !q.abnNotice }

// Outstanding reports whether the far end still owes an acknowledgement:
// bytes in flight, or a forward sequence number it has not yet acknowledged.
// The session's retransmission timer runs while any flow is outstanding.
func (q *Queue) Outstanding() bool { return q.inFlight > 0 || q.FSN() > q.peerCum }

// InFlight is the number of bytes sent and not yet acknowledged, lost or
// abandoned.
func (q *Queue) InFlight() int { return q.inFlight }

// Buffered is the number of data bytes held, sent or not.
func (q *Queue) Buffered() int { return q.buffered }

// NextSeq is the sequence number the next pushed fragment gets.
func (q *Queue) NextSeq() uint64 { return q.nextSeq }

// FSN is the forward sequence number: every sequence number up to it is
// acknowledged or abandoned.
func (q *Queue) FSN() uint64 {
	if q.head < len(q.frags) {
		return q.frags[q.head].Seq - 1
	}
	return q.nextSeq - 1
}

// PeerCumulative is the highest cumulative acknowledgement received.
func (q *Queue) PeerCumulative() uint64 { return q.peerCum }

// HasWork reports whether there is something to transmit: a lost fragment,
// an unsent one, or an abandon notice.
func (q *Queue) HasWork() bool {
	return q.lost > 0 || q.unsent < len(q.frags) || q.abnNotice
}

// HasNewData reports whether a never-sent fragment is waiting.
func (q *Queue) HasNewData() bool { return q.unsent < len(q.frags) }

// Next returns the next fragment to transmit: the oldest lost fragment, else
// the oldest never-sent one. It returns nil when there is none. The caller
// transmits it and calls MarkSent.
func (q *Queue) Next() *Fragment {
	if q.lost > 0 {
		for i := q.head; i < q.unsent; i++ {
			if f := &q.frags[i]; f.lost {
				return f
			}
		}
		q.lost = 0 // unreachable unless the count drifted
	}
	for q.unsent < len(q.frags) {
		f := &q.frags[q.unsent]
		if f.abandon {
			// Abandoned before it was ever sent: skip it; the FSN
			// tells the receiver.
			f.sent = true
			q.unsent++
			continue
		}
		return f
	}
	return nil
}

// AbandonNotice reports whether the receiver must be told explicitly that
// everything up to FSN is abandoned because no later data will carry the
// news. The notice is a User Data chunk for FSN with the ABN flag and a
// forward sequence number offset of 0.
func (q *Queue) AbandonNotice() (seq uint64, ok bool) {
	if !q.abnNotice || q.HasNewData() {
		return 0, false
	}
	return q.FSN(), true
}

// NoticeSent records that the abandon notice went out.
func (q *Queue) NoticeSent() { q.abnNotice = false }

// MarkSent records the transmission of f at now with size bytes counted in
// flight (its data length plus chunk overhead).
func (q *Queue) MarkSent(f *Fragment, now time.Time, size int) {
	if f.lost {
		f.lost = false
		q.lost--
	}
	if !f.sent {
		f.sent = true
		if idx := int(f.Seq - q.base); idx == q.unsent {
			q.unsent++
		}
	}
	if f.inFlight {
		q.inFlight -= f.size
		if f.naks > 0 {
			q.nakked--
		}
	}
	f.inFlight = true
	f.size = size
	f.naks = 0
	f.SentAt = now
	q.inFlight += size
}

// Expire abandons the fragments whose deadline passed and that are not
// acknowledged. It returns the bytes taken out of flight.
func (q *Queue) Expire(now time.Time) (outOfFlight int) {
	for i := q.head; i < len(q.frags) && q.timed > 0; i++ {
		f := &q.frags[i]
		if f.abandon || f.acked || f.Deadline.IsZero() {
			continue
		}
		if now.Before(f.Deadline) {
			if !q.unordered {
				break // the later ones expire later still
			}
			continue
		}
		outOfFlight += q.abandonFrag(f)
	}
	q.advanceHead()
	return outOfFlight
}

func (q *Queue) abandonFrag(f *Fragment) (outOfFlight int) {
	f.abandon = true
	q.timed--
	if f.inFlight {
		q.leaveFlight(f)
		q.inFlight -= f.size
		outOfFlight = f.size
	}
	if f.lost {
		f.lost = false
		q.lost--
	}
	if f.sent && f.Seq > q.peerCum {
		q.abnNotice = true
	}
	return outOfFlight
}

// advanceHead pops acknowledged and abandoned fragments from the front.
func (q *Queue) advanceHead() {
	for q.head < len(q.frags) {
		f := &q.frags[q.head]
		if !f.acked && !f.abandon {
			break
		}
		q.buffered -= len(f.Data)
		f.Data = nil
		q.head++
		if q.unsent < q.head {
			q.unsent = q.head
		}
	}
	if q.head == len(q.frags) && q.head > 0 {
		q.base += uint64(len(q.frags))
		q.frags = q.frags[:0]
		q.head, q.unsent = 0, 0
	}
	if q.abnNotice && q.peerCum >= q.FSN() {
		q.abnNotice = false
	}
}

// AckResult summarises what one acknowledgement changed.
type AckResult struct {
	Acked    int  // bytes newly acknowledged
	Lost     int  // bytes newly declared lost
	Progress bool // the cumulative acknowledgement moved
	// Spurious counts fragments acknowledged while declared lost and not
	// yet retransmitted: the loss was reordering.
	Spurious int
}

// OnAck applies an acknowledgement at now: everything up to cum, plus the
// inclusive ranges above it (ascending), was received. Sequence numbers never
// sent are ignored.
//
// A fragment the acknowledgement passes over is declared lost once it has
// been in flight longer than lossDelay (a round trip plus a reordering
// allowance), the time-based rule of RFC 8985: it tolerates reordering, and
// unlike counting three negative acknowledgements it works with small
// windows where three later acknowledgements may never come. With no round
// trip measured yet (lossDelay 0) NAKsForLoss acknowledgements are needed.
// DetectLoss applies the same rule when no acknowledgement arrives.
func (q *Queue) OnAck(cum uint64, ranges []Range, now time.Time, lossDelay time.Duration) AckResult {
	var r AckResult
	top := q.nextSeq - 1
	cum = min(cum, top)
	if cum > q.peerCum {
		q.peerCum = cum
		r.Progress = true
	}
	highest := cum
	for i := q.head; i < len(q.frags); i++ {
		f := &q.frags[i]
		if f.Seq > cum {
			break
		}
		if f.lost {
			r.Spurious++
		}
		r.Acked += q.ack(f)
	}
	for _, rg := range ranges {
		if rg.Start > top || rg.End < rg.Start {
			continue
		}
		end := min(rg.End, top)
		highest = max(highest, end)
		start := max(rg.Start, q.base+uint64(q.head))
		for s := start; s <= end; s++ {
			f := &q.frags[s-q.base]
			if !f.acked {
				if f.lost {
					r.Spurious++
				}
				r.Acked += q.ack(f)
			}
		}
	}
	// Negative acknowledgement: in-flight fragments below the highest
	// acknowledged sequence number that this ack did not cover.
	for i := q.head; i < len(q.frags); i++ {
		f := &q.frags[i]
		if f.Seq >= highest {
			break
		}
		if !f.inFlight || f.acked {
			continue
		}
		if f.naks == 0 {
			q.nakked++
		}
		if f.naks < 255 {
			f.naks++
		}
		if q.lostByRule(f, now, lossDelay) {
			r.Lost += q.markLost(f)
		}
	}
	q.advanceHead()
	return r
}

func (q *Queue) lostByRule(f *Fragment, now time.Time, lossDelay time.Duration) bool {
	if lossDelay <= 0 {
		return f.naks >= NAKsForLoss
	}
	return now.Sub(f.SentAt) > lossDelay
}

// DetectLoss declares lost the in-flight fragments that an acknowledgement
// passed over and that have now been in flight longer than lossDelay. It
// returns the bytes taken out of flight.
func (q *Queue) DetectLoss(now time.Time, lossDelay time.Duration) int {
	n := 0
	for i := q.head; i < q.unsent && q.nakked > 0; i++ {
		f := &q.frags[i]
		if f.inFlight && f.naks > 0 && q.lostByRule(f, now, lossDelay) {
			n += q.markLost(f)
		}
	}
	return n
}

// LossDeadline returns when the oldest in-flight fragment that an
// acknowledgement passed over will count as lost.
func (q *Queue) LossDeadline(lossDelay time.Duration) (time.Time, bool) {
	if lossDelay <= 0 || q.nakked == 0 {
		return time.Time{}, false
	}
	for i := q.head; i < q.unsent; i++ {
		if f := &q.frags[i]; f.inFlight && f.naks > 0 {
			return f.SentAt.Add(lossDelay), true
		}
	}
	return time.Time{}, false
}

func (q *Queue) ack(f *Fragment) (bytes int) {
	if f.acked {
		return 0
	}
	f.acked = true
	if !f.Deadline.IsZero() && !f.abandon {
		q.timed--
	}
	if f.lost {
		f.lost = false
		q.lost--
	}
	if f.inFlight {
		q.leaveFlight(f)
		q.inFlight -= f.size
		bytes = f.size
	}
	return bytes
}

func (q *Queue) markLost(f *Fragment) int {
	if !f.inFlight {
		return 0
	}
	q.leaveFlight(f)
	q.inFlight -= f.size
	if !f.abandon {
		f.lost = true
		q.lost++
	}
	return f.size
}

// leaveFlight takes f out of flight (its bytes are the caller's to count).
func (q *Queue) leaveFlight(f *Fragment) {
	f.inFlight = false
	if f.naks > 0 {
		q.nakked--
	}
}

// OnTimeout declares every in-flight fragment lost (the retransmission timer
// fired). It returns the bytes taken out of flight.
func (q *Queue) OnTimeout() int {
	n := 0
	for i := q.head; i < len(q.frags); i++ {
		if f := &q.frags[i]; f.inFlight {
			n += q.markLost(f)
		}
	}
	if q.FSN() > q.peerCum && !q.HasNewData() {
		// A lost abandon notice is sent again.
		q.abnNotice = true
	}
	return n
}

// OldestSent returns the send time of the oldest in-flight fragment.
func (q *Queue) OldestSent() (time.Time, bool) {
	for i := q.head; i < len(q.frags); i++ {
		if f := &q.frags[i]; f.inFlight {
			return f.SentAt, true
		}
	}
	return time.Time{}, false
}

// Timed reports whether fragments with a deadline are waiting for
// acknowledgement: the owner must call Expire when the earliest deadline
// (NextDeadline) passes.
func (q *Queue) Timed() bool { return q.timed > 0 }

// NextDeadline returns the earliest deadline of the fragments waiting for
// acknowledgement, if any has one: when Expire has something to abandon.
func (q *Queue) NextDeadline() (time.Time, bool) {
	if q.timed == 0 {
		return time.Time{}, false
	}
	var next time.Time
	for i := q.head; i < len(q.frags); i++ {
		f := &q.frags[i]
		if f.abandon || f.acked || f.Deadline.IsZero() {
			continue
		}
		if !q.unordered {
			return f.Deadline, true // the earliest: deadlines do not decrease
		}
		if next.IsZero() || f.Deadline.Before(next) {
			next = f.Deadline
		}
	}
	return next, !next.IsZero()
}
