package netstream

import (
	"testing"
	"testing/synctest"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/media"
)

// takeSink is a FlushSink that takes batches without blocking while accept
// is set, and records what it took and what it was asked to prepare. Its
// goroutine path (WriteMediaBatch) is a batchSink.
type takeSink struct {
	batchSink
	accept   bool
	above    int // PrepareAbove
	taken    [][]media.Message
	prepared []int // payload lengths passed to Prepare
}

func (s *takeSink) TryWriteMediaBatch(msgs []media.Message) (bool, error) {
	if !s.accept {
		return false, nil
	}
	s.taken = append(s.taken, append([]media.Message(nil), msgs...))
	return true, nil
}

func (s *takeSink) Prepare(m *media.Message) int {
	s.prepared = append(s.prepared, len(m.Payload))
	return 0
}

func (s *takeSink) PrepareAbove() int { return s.above }

// flushStream returns a published stream with one subscription to sink,
// charged to an account of pool. It runs in a synctest bubble.
func flushStream(t *testing.T, sink *takeSink, pool *budget.Pool) (*Stream, *testPublisher, *Subscription, *budget.Account) {
	t.Helper()
	_, s, pub := publishedStream(t)
	acct := pool.Open("player", 0, func(error) {})
	sub := s.SubscribeWith(sink, SubscribeOptions{Limit: 1 << 20, Account: acct})
	t.Cleanup(sub.Close)
	synctest.Wait() // its goroutine waits for a signal: only Flush delivers
	return s, pub, sub, acct
}

// TestFlushNoCharge: messages held for a Flush that delivers them are never
// charged to the player's account (its pool's peak stays 0); one the sink
// cannot take at once is charged until the subscription's goroutine has
// delivered it, and the account is back at 0 after.
func TestFlushNoCharge(t *testing.T) { synctest.Test(t, testFlushNoCharge) }

func testFlushNoCharge(t *testing.T) {
	pool := budget.NewPool(0)
	sink := &takeSink{batchSink: batchSink{chanSink: chanSink{ch: make(chan media.Message, 10)}}, accept: true}
	s, pub, sub, acct := flushStream(t, sink, pool)
	for i := range 3 {
		s.WriteHeld(pub, aacFrame(uint32(i*20), 500))
	}
	if len(sink.taken) != 0 {
		t.Fatal("the sink was written to before Flush")
	}
	s.Flush()
	if len(sink.taken) != 1 || len(sink.taken[0]) != 3 {
		t.Fatalf("the sink took %d batches (%v), want one of 3 messages", len(sink.taken), sink.taken)
	}
	if st := pool.Stats(); st.Peak != 0 || st.Used != 0 {
		t.Fatalf("pool %+v: held messages delivered by the flush were charged", st)
	}

	// The sink refuses: the flush leaves the message to the goroutine,
	// charged for as long as it is queued.
	block := make(chan struct{})
	sink.block = block // the goroutine's write waits
	sink.accept = false
	s.WriteHeld(pub, aacFrame(60, 700))
	s.Flush()
	sub.mu.Lock()
	queuedBytes, unacct, used := sub.bytes, sub.unacct, acct.Used()
	sub.mu.Unlock()
	if unacct != 0 || used != int64(queuedBytes) {
		t.Fatalf("after a flush the sink refused: account charged %d, queue holds %d (%d not settled)", used, queuedBytes, unacct)
	}
	close(block)
	synctest.Wait()
	if got := acct.Used(); got != 0 {
		t.Fatalf("account charged %d once the goroutine delivered everything", got)
	}
	if got := <-sink.ch; got.Timestamp != 60 {
		t.Fatalf("the goroutine delivered timestamp %d", got.Timestamp)
	}
	sub.Close()
	if got := acct.Used(); got != 0 {
		t.Fatalf("account charged %d after Close", got)
	}
}

// TestPrepareAbove: a FlushSink with a threshold is asked to prepare only
// the messages longer than it.
func TestPrepareAbove(t *testing.T) { synctest.Test(t, testPrepareAbove) }

func testPrepareAbove(t *testing.T) {
	sink := &takeSink{batchSink: batchSink{chanSink: chanSink{ch: make(chan media.Message, 10)}}, accept: true, above: 1000}
	s, pub, _, _ := flushStream(t, sink, budget.NewPool(0))
	for i, n := range []int{10, 1000, 1001, 5000} {
		s.WriteHeld(pub, aacFrame(uint32(i*20), n))
	}
	s.Flush()
	if len(sink.prepared) != 2 || sink.prepared[0] != 1001 || sink.prepared[1] != 5000 {
		t.Fatalf("prepared %v, want [1001 5000]", sink.prepared)
	}
}
