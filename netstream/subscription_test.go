package netstream

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/media"
)

func aacHeader(n int) media.Message {
	p := make([]byte, n)
	p[0], p[1] = 0xAF, 0x00
	return media.Message{Type: media.TypeAudio, Payload: p}
}

func aacFrame(ts uint32, n int) media.Message {
	p := make([]byte, n)
	p[0], p[1] = 0xAF, 0x01
	return media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: p}
}

func avcHeader(n int) media.Message {
	p := make([]byte, n)
	p[0], p[1] = 0x17, 0x00
	return media.Message{Type: media.TypeVideo, Payload: p}
}

// blockedPlayer subscribes a player that reads nothing to a published
// stream, its queue charged to acct.
func blockedPlayer(t *testing.T, limit int, acct *budget.Account) (*Registry, *Stream, *testPublisher, *Subscription) {
	t.Helper()
	reg, s, pub := publishedStream(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	sub := s.SubscribeWith(&chanSink{ch: make(chan media.Message, 1), block: block}, SubscribeOptions{Limit: limit, Account: acct})
	t.Cleanup(sub.Close)
	return reg, s, pub, sub
}

// publishedStream returns a registry with app/s published by a test
// publisher.
func publishedStream(t *testing.T) (*Registry, *Stream, *testPublisher) {
	t.Helper()
	reg := NewRegistry()
	s := reg.Get("app", DefaultInstance, "s")
	pub := &testPublisher{}
	if _, err := reg.Publish("app", DefaultInstance, "s", pub); err != nil {
		t.Fatal(err)
	}
	return reg, s, pub
}

// queued returns the queue's bytes and its sticky entries.
func queued(sub *Subscription) (bytes int, sticky []stickyKind) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, e := range sub.q {
		if e.sticky() {
			sticky = append(sticky, e.kind)
		}
	}
	return sub.bytes, sticky
}

// TestStickyFloodBounded: a publisher that sends a 60 KB audio codec
// header 500 times (as one sent 50 per second to make players' queues
// grow: codec headers were never dropped) leaves a player that reads
// nothing with one queued header and a queue within its bound, and what
// its account is charged follows the queue.
func TestStickyFloodBounded(t *testing.T) {
	const limit = 256 << 10
	pool := budget.NewPool(0)
	acct := pool.Open("player", 0, func(error) {})
	_, s, pub, sub := blockedPlayer(t, limit, acct)
	s.Write(pub, avcHeader(40))
	for i := range 500 {
		s.Write(pub, aacHeader(60_000))
		if i%10 == 0 {
			s.Write(pub, video(uint32(i*20), i%50 == 0, 1000))
		}
	}
	n, sticky := queued(sub)
	if n > limit {
		t.Fatalf("queue holds %d bytes, bound %d", n, limit)
	}
	audio := 0
	for _, k := range sticky {
		if k == stickyAudio {
			audio++
		}
	}
	if audio > 1 {
		t.Fatalf("%d audio headers queued (%v)", audio, sticky)
	}
	if got := acct.Used(); got != int64(n) {
		t.Fatalf("account charged %d, queue holds %d", got, n)
	}
	if sub.Stats().Dropped < 400 {
		t.Fatalf("dropped %d", sub.Stats().Dropped)
	}
	sub.Close()
	if got := acct.Used(); got != 0 {
		t.Fatalf("account charged %d after Close", got)
	}
}

// TestStickyInterleaved: codec headers interleaved with frames of their
// own track (each header is needed by the frames after it) still cannot
// grow the queue past its bound: when it overflows, the headers whose
// frames were dropped go too, the latest of each kind stays.
func TestStickyInterleaved(t *testing.T) {
	const limit = 128 << 10
	_, s, pub, sub := blockedPlayer(t, limit, nil)
	s.Write(pub, avcHeader(40))
	for i := range 2000 {
		s.Write(pub, aacHeader(30_000))
		s.Write(pub, aacFrame(uint32(i*20), 10))
		s.Write(pub, avcHeader(20_000))
		s.Write(pub, video(uint32(i*20), i%25 == 0, 100))
		if n, _ := queued(sub); n > limit {
			t.Fatalf("after %d rounds the queue holds %d bytes, bound %d", i, n, limit)
		}
	}
	_, sticky := queued(sub)
	if len(sticky) == 0 || sticky[0] == notSticky {
		t.Fatalf("sticky entries %v", sticky)
	}
}

// TestOversizedStickyNotKept: a codec header over the registry's MaxSticky
// is passed on as an ordinary message and not kept for late joiners.
func TestOversizedStickyNotKept(t *testing.T) {
	reg := NewRegistry()
	reg.MaxSticky = 1000
	s := reg.Get("app", DefaultInstance, "s")
	pub := &testPublisher{}
	reg.Publish("app", DefaultInstance, "s", pub)
	s.Write(pub, aacHeader(2000))
	s.Write(pub, avcHeader(100))
	if s.audioHdr != nil || s.videoHdr == nil || s.Stats().Oversized != 1 {
		t.Fatalf("audio header kept: %v, video header kept: %v, stats %+v", s.audioHdr != nil, s.videoHdr != nil, s.Stats())
	}
}

// TestSlowConsumerEnds: a player whose queue stays over its bound for
// SlowTimeout is ended with ErrSlowConsumer and its owner told; a player
// that falls behind but catches up in time is not.
func TestSlowConsumerEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := NewRegistry()
		s := reg.Get("app", DefaultInstance, "s")
		pub := &testPublisher{}
		reg.Publish("app", DefaultInstance, "s", pub)
		const slow = 5 * time.Second
		ended := make(chan error, 2)
		stuck := make(chan struct{})
		defer close(stuck)
		stalled := s.SubscribeWith(&chanSink{ch: make(chan media.Message, 1), block: stuck},
			SubscribeOptions{Limit: 50_000, SlowTimeout: slow, OnSlow: func(err error) { ended <- err }})
		hiccup := make(chan struct{})
		sink := &chanSink{ch: make(chan media.Message, 100000), block: hiccup}
		late := s.SubscribeWith(sink, SubscribeOptions{Limit: 50_000, SlowTimeout: slow,
			OnSlow: func(err error) { ended <- errors.New("the player that caught up was ended") }})
		defer late.Close()
		firstDrop := time.Time{}
		for i := 0; i < 400; i++ { // 16 s at 25 frames/s, 5 KB frames
			s.Write(pub, video(uint32(i*40), i%25 == 0, 5000))
			if firstDrop.IsZero() && stalled.Stats().Dropped > 0 {
				firstDrop = time.Now()
			}
			if i == 50 { // 2 s: the second player gets going again
				close(hiccup)
			}
			time.Sleep(40 * time.Millisecond)
			select {
			case err := <-ended:
				if !errors.Is(err, ErrSlowConsumer) {
					t.Fatal(err)
				}
				after := time.Since(firstDrop)
				if after < slow || after > slow+time.Second {
					t.Fatalf("ended %v after its first drop (SlowTimeout %v)", after, slow)
				}
				if !errors.Is(stalled.Err(), ErrSlowConsumer) || s.Subscribers() != 1 {
					t.Fatalf("err %v, %d subscribers", stalled.Err(), s.Subscribers())
				}
				return
			default:
			}
		}
		t.Fatal("the stalled player was never ended")
	})
}
