package sendbuf

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

// sendAll transmits every fragment the queue offers and returns their
// sequence numbers.
func sendAll(q *Queue, now time.Time) []uint64 {
	var seqs []uint64
	for f := q.Next(); f != nil; f = q.Next() {
		seqs = append(seqs, f.Seq)
		q.MarkSent(f, now, len(f.Data)+10)
	}
	return seqs
}

func TestFragmentation(t *testing.T) {
	q := New(4)
	q.Push([]byte("abcdefghij"), time.Time{})
	q.Push([]byte("xy"), time.Time{})
	q.Push(nil, time.Time{})
	want := []struct {
		data  string
		flags byte
	}{{"abcd", FragFirst}, {"efgh", FragMiddle}, {"ij", FragLast}, {"xy", FragWhole}, {"", FragWhole}}
	for i, w := range want {
		f := q.Next()
		if f == nil || f.Seq != uint64(i+1) || string(f.Data) != w.data || f.Flags != w.flags {
			t.Fatalf("fragment %d = %+v, want %q flags %#x", i, f, w.data, w.flags)
		}
		q.MarkSent(f, t0, len(f.Data))
	}
	if q.Next() != nil || q.Buffered() != 12 || q.InFlight() != 12 {
		t.Fatalf("buffered %d in flight %d", q.Buffered(), q.InFlight())
	}
	q.Close()
	f := q.Next()
	if f == nil || f.Flags != FlagAbn|FlagFin || len(f.Data) != 0 || f.Seq != 6 {
		t.Fatalf("close fragment %+v", f)
	}
}

func TestAckAndLoss(t *testing.T) {
	q := New(10)
	for i := range 10 {
		q.Push(bytes.Repeat([]byte{byte(i)}, 10), time.Time{})
	}
	if got := sendAll(q, t0); len(got) != 10 {
		t.Fatalf("sent %v", got)
	}
	// Fragment 3 is missing from three acknowledgements.
	r := q.OnAck(2, []Range{{4, 5}}, t0, 0)
	if r.Acked != 80 || r.Lost != 0 || !r.Progress {
		t.Fatalf("first ack %+v", r)
	}
	q.OnAck(2, []Range{{4, 6}}, t0, 0)
	r = q.OnAck(2, []Range{{4, 7}}, t0, 0)
	if r.Lost != 20 {
		t.Fatalf("third ack: %+v", r)
	}
	if f := q.Next(); f == nil || f.Seq != 3 {
		t.Fatalf("retransmission = %+v", f)
	}
	q.MarkSent(q.Next(), t0.Add(time.Second), 20)
	r = q.OnAck(10, nil, t0, 0)
	if q.InFlight() != 0 || !q.Empty() || q.FSN() != 10 || q.Buffered() != 0 {
		t.Fatalf("after final ack: %+v in flight %d fsn %d buffered %d", r, q.InFlight(), q.FSN(), q.Buffered())
	}
	// Acknowledgements of sequence numbers never sent are ignored.
	if r := q.OnAck(1000, []Range{{2000, 3000}}, t0, 0); r.Acked != 0 {
		t.Fatalf("ack of unsent: %+v", r)
	}
}

func TestTimeBasedLoss(t *testing.T) {
	q := New(10)
	q.Push(make([]byte, 20), time.Time{})
	sendAll(q, t0)
	// One acknowledgement passing over seq 1, long after it was sent.
	r := q.OnAck(0, []Range{{2, 2}}, t0.Add(time.Second), 300*time.Millisecond)
	if r.Lost != 20 || r.Acked != 20 {
		t.Fatalf("%+v", r)
	}
	// Soon after sending, one NAK is not enough.
	q2 := New(10)
	q2.Push(make([]byte, 20), time.Time{})
	sendAll(q2, t0)
	if r := q2.OnAck(0, []Range{{2, 2}}, t0.Add(10*time.Millisecond), 300*time.Millisecond); r.Lost != 0 {
		t.Fatalf("%+v", r)
	}
	d, ok := q2.LossDeadline(300 * time.Millisecond)
	if !ok || !d.Equal(t0.Add(300*time.Millisecond)) {
		t.Fatalf("loss deadline %v %v", d, ok)
	}
	if n := q2.DetectLoss(d, 300*time.Millisecond); n != 0 {
		t.Fatal("lost at the deadline itself")
	}
	if n := q2.DetectLoss(d.Add(time.Millisecond), 300*time.Millisecond); n != 20 {
		t.Fatalf("DetectLoss took %d", n)
	}
}

func TestTimeoutRetransmitsAll(t *testing.T) {
	q := New(10)
	q.Push(make([]byte, 30), time.Time{})
	sendAll(q, t0)
	if at, ok := q.OldestSent(); !ok || !at.Equal(t0) || !q.Outstanding() {
		t.Fatal("nothing outstanding")
	}
	if n := q.OnTimeout(); n != 60 || q.InFlight() != 0 {
		t.Fatalf("timeout took %d, in flight %d", n, q.InFlight())
	}
	if got := sendAll(q, t0.Add(time.Second)); len(got) != 3 || got[0] != 1 {
		t.Fatalf("retransmitted %v", got)
	}
}

func TestPartialReliability(t *testing.T) {
	q := New(10)
	deadline := t0.Add(time.Second)
	q.Push(make([]byte, 25), deadline) // seq 1..3
	q.Push(make([]byte, 5), time.Time{})
	sendAll(q, t0)
	// Seq 2 is lost; seq 1, 3, 4 arrive.
	q.OnAck(1, []Range{{3, 4}}, t0, 0)
	if q.Expire(t0.Add(500*time.Millisecond)) != 0 {
		t.Fatal("expired early")
	}
	if !q.Timed() {
		t.Fatal("deadlined fragments not reported")
	}
	out := q.Expire(deadline)
	if out != 20 || q.InFlight() != 0 {
		t.Fatalf("expire took %d, in flight %d", out, q.InFlight())
	}
	if q.Timed() {
		t.Fatal("timed fragments left after expiry")
	}
	if q.FSN() != 4 || q.HasNewData() || q.Empty() {
		t.Fatalf("fsn %d", q.FSN())
	}
	// The receiver still waits for seq 2: a notice covering FSN is due.
	seq, ok := q.AbandonNotice()
	if !ok || seq != 4 {
		t.Fatalf("notice %d %v", seq, ok)
	}
	q.NoticeSent()
	if !q.Outstanding() {
		t.Fatal("unacknowledged notice not outstanding")
	}
	q.OnAck(4, nil, t0, 0)
	if q.Outstanding() {
		t.Fatal("still outstanding after the notice was acknowledged")
	}
}

func TestAbandonBeforeSending(t *testing.T) {
	q := New(10)
	q.Push(make([]byte, 10), t0)
	q.Push(make([]byte, 10), time.Time{})
	q.Expire(t0)
	f := q.Next()
	if f == nil || f.Seq != 2 {
		t.Fatalf("next = %+v", f)
	}
	if q.FSN() != 1 {
		t.Fatalf("fsn %d", q.FSN())
	}
	if _, ok := q.AbandonNotice(); ok {
		t.Fatal("notice for a fragment never sent")
	}
}

func TestLongRunCompacts(t *testing.T) {
	q := New(100)
	var acked uint64
	for i := range 10000 {
		q.Push(make([]byte, 100), time.Time{})
		sendAll(q, t0)
		if i%7 == 0 {
			acked = q.NextSeq() - 1
			q.OnAck(acked, nil, t0, 0)
		}
	}
	if len(q.frags) > 64 || cap(q.frags) > 256 {
		t.Fatalf("queue grew: len %d cap %d", len(q.frags), cap(q.frags))
	}
}

func BenchmarkPushSendAck(b *testing.B) {
	q := New(1100)
	msg := make([]byte, 3000)
	b.ReportAllocs()
	for b.Loop() {
		q.Push(msg, time.Time{})
		for f := q.Next(); f != nil; f = q.Next() {
			q.MarkSent(f, t0, len(f.Data))
		}
		q.OnAck(q.NextSeq()-1, nil, t0, 0)
	}
}

// TestDeadlineOrder: NextDeadline and Expire stop at the first timed
// fragment only while deadlines never decrease; a message pushed with an
// earlier deadline than one before it is still found and expired.
func TestDeadlineOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		deadlines []time.Duration // one 10-byte message each, after t0
		next      time.Duration
		expireAt  time.Duration
		expired   int // bytes taken out of flight (20 a message: sendAll counts 10 of overhead)
	}{
		{"ordered", []time.Duration{time.Second, 2 * time.Second, 0, 3 * time.Second}, time.Second, 2500 * time.Millisecond, 40},
		{"unordered", []time.Duration{2 * time.Second, time.Second, 3 * time.Second}, time.Second, 1500 * time.Millisecond, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(10)
			for _, d := range tc.deadlines {
				var at time.Time
				if d != 0 {
					at = t0.Add(d)
				}
				q.Push(make([]byte, 10), at)
			}
			sendAll(q, t0)
			if next, ok := q.NextDeadline(); !ok || !next.Equal(t0.Add(tc.next)) {
				t.Fatalf("next deadline %v %v, want %v", next.Sub(t0), ok, tc.next)
			}
			if out := q.Expire(t0.Add(tc.expireAt)); out != tc.expired {
				t.Fatalf("expired %d bytes, want %d", out, tc.expired)
			}
		})
	}
	// Once every timed fragment is gone the order starts afresh.
	q := New(10)
	q.Push(make([]byte, 10), t0.Add(2*time.Second))
	q.Push(make([]byte, 10), t0.Add(time.Second))
	sendAll(q, t0)
	q.OnAck(2, nil, t0, 0)
	q.Push(make([]byte, 10), t0.Add(5*time.Second))
	q.Push(make([]byte, 10), t0.Add(6*time.Second))
	if q.unordered {
		t.Fatal("still unordered after the timed fragments were acknowledged")
	}
}

// TestCountersUnderRandomTraffic drives a queue with random pushes, sends,
// acknowledgements with gaps, timeouts and expiries, and checks after each
// step that the counters kept for the shortcuts (nakked, the deadline
// order) agree with a walk over the fragments.
func TestCountersUnderRandomTraffic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	q := New(10)
	now := t0
	for step := range 5000 {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		switch rng.IntN(6) {
		case 0:
			var d time.Time
			if rng.IntN(3) > 0 {
				d = now.Add(time.Duration(200+rng.IntN(400)) * time.Millisecond)
			}
			q.Push(make([]byte, 1+rng.IntN(30)), d)
		case 1:
			for range rng.IntN(4) {
				if f := q.Next(); f != nil {
					q.MarkSent(f, now, len(f.Data)+10)
				}
			}
		case 2:
			cum := q.peerCum + uint64(rng.IntN(3))
			hi := cum + 2 + uint64(rng.IntN(4))
			q.OnAck(cum, []Range{{hi, hi + uint64(rng.IntN(2))}}, now, time.Duration(rng.IntN(2))*50*time.Millisecond)
		case 3:
			q.DetectLoss(now, 50*time.Millisecond)
		case 4:
			q.Expire(now)
		case 5:
			if rng.IntN(10) == 0 {
				q.OnTimeout()
			}
		}
		nakked := 0
		var earliest time.Time
		for i := q.head; i < len(q.frags); i++ {
			f := &q.frags[i]
			if f.inFlight && f.naks > 0 {
				nakked++
			}
			if !f.abandon && !f.acked && !f.Deadline.IsZero() && (earliest.IsZero() || f.Deadline.Before(earliest)) {
				earliest = f.Deadline
			}
		}
		if nakked != q.nakked {
			t.Fatalf("step %d: nakked %d, counted %d", step, q.nakked, nakked)
		}
		if next, ok := q.NextDeadline(); ok != !earliest.IsZero() || !next.Equal(earliest) {
			t.Fatalf("step %d: next deadline %v %v, walked %v", step, next, ok, earliest)
		}
	}
}
