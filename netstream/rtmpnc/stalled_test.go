package rtmpnc

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// TestStalledPlayer: a player that stops reading holds up nobody. Over
// real TCP on loopback (its receive buffer shrunk), the publisher and
// another player go on at full rate, the stalled player's queue drops whole
// groups of pictures, and once a write to it has waited the write timeout
// it is closed with a logged reason.
func TestStalledPlayer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, l, Config{RTMP: &rtmp.Config{WriteTimeout: time.Second}})
	defer ts.close(t)
	url := "rtmp://" + l.Addr().String() + "/live"
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	fast, err := rtmp.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	if err := fast.Play(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	var fastFrames atomic.Int64
	go func() {
		for {
			m, err := fast.ReadMessage()
			if err != nil {
				return
			}
			if m.Type == media.TypeVideo {
				fastFrames.Add(1)
			}
		}
	}()

	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(4096)
	stalled := newRawClient(nc)
	if err := stalled.connect("live"); err != nil {
		t.Fatal(err)
	}
	if _, err := stalled.stream("play", "s", netstream.PlayStart); err != nil {
		t.Fatal(err)
	}
	// From here on the stalled player reads nothing.
	s, _ := ts.ns.Registry.Lookup("live", netstream.DefaultInstance, "s")
	waitFor(t, 10*time.Second, func() bool { return s.Subscribers() == 2 })

	pub, err := rtmp.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, "s", rtmp.ModeLive); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := pub.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// 4 s at 25 frames/s of 100 kB frames (20 Mbit/s), a key frame each
	// second: far more than the stalled player's socket buffers hold.
	const frames = 100
	start := time.Now()
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := range frames {
		if err := pub.WriteMedia(frame(uint32(i*40), i%25 == 0, 100_000)); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	if took := time.Since(start); took > 4*time.Second+500*time.Millisecond {
		t.Errorf("the publisher was held up: %v for 4 s of media", took)
	}
	waitFor(t, 10*time.Second, func() bool { return fastFrames.Load() == frames && s.Subscribers() == 1 })
	lines := ts.logs.find("rtmp connection closed", "writing")
	if len(lines) != 1 || !strings.Contains(lines[0], "timeout") {
		t.Fatalf("stalled player not closed for its writes:\n%s", ts.logs.dump())
	}
	t.Logf("fast player: %d of %d frames; %s", fastFrames.Load(), frames, lines[0])
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("condition not met within %v", timeout)
		}
	}
}
