package rtmpnc

import (
	"net"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// TestStalledPlayerTCP is TestStalledPlayer over loopback TCP, where the
// publisher's reader writes to idle players itself (writev without
// waiting, netstream.FlushSink): a player that stops reading must still
// hold up nobody. The publisher sends each 100 kB frame only once the fast
// player has read the one before, so the run stops (and the test fails at
// its deadline) if a write to the stalled player ever blocks the
// publisher's reader. 100 frames are far more than the socket buffers
// hold, so the stalled player falls behind, its queue drops, and it is
// closed once a write to it has waited the write timeout.
func TestStalledPlayerTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, l, Config{RTMP: &rtmp.Config{WriteTimeout: 2 * time.Second}})
	defer ts.close(t)
	dial := func() *rawClient {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		rc := newRawClient(nc)
		if err := rc.connect("live"); err != nil {
			t.Fatal(err)
		}
		return rc
	}
	fast := dial()
	if _, err := fast.stream("play", "s", netstream.PlayStart); err != nil {
		t.Fatal(err)
	}
	fast.readAll()
	stalled := dial()
	if _, err := stalled.stream("play", "s", netstream.PlayStart); err != nil {
		t.Fatal(err)
	}
	// From here on the stalled player reads nothing.
	pub := dial()
	pubID, err := pub.stream("publish", "s", netstream.PublishStart)
	if err != nil {
		t.Fatal(err)
	}
	pub.readAll()
	s, _ := ts.ns.Registry.Lookup("live", netstream.DefaultInstance, "s")
	if n := s.Subscribers(); n != 2 {
		t.Fatalf("%d players", n)
	}
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	const frames = 100
	for i := range frames {
		if err := pub.c.WriteMessage(pubID, frame(uint32(i*40), i%25 == 0, 100_000)); err != nil {
			t.Fatal(err)
		}
		for got := false; !got; {
			select {
			case m, ok := <-fast.msgs:
				if !ok {
					t.Fatalf("fast player: %v", <-fast.errc)
				}
				got = m.Type == media.TypeVideo && m.Timestamp == uint32(i*40)
			case <-deadline.C:
				t.Fatalf("the fast player did not get frame %d: the publisher was held up", i)
			}
		}
	}
	// The stalled player is closed for its writes.
	for s.Subscribers() != 1 {
		select {
		case <-deadline.C:
			t.Fatalf("stalled player not closed (%d players):\n%s", s.Subscribers(), ts.logs.dump())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if lines := ts.logs.find("rtmp connection closed", "writing"); len(lines) != 1 {
		t.Fatalf("no close for writing logged:\n%s", ts.logs.dump())
	}
}
