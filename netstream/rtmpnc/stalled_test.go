package rtmpnc

import (
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// TestStalledPlayer: a player that stops reading holds up nobody. In a
// synctest bubble over net.Pipe (whose writes complete only when the other
// end reads), a publisher sends 4 s of 100 kB frames (20 Mbit/s) to a fast
// player and to one that reads nothing after Play.Start. The fake clock
// moves only when every goroutine is blocked, so a publisher write that had
// to wait for the server — because the stalled player held it up — takes
// fake time: none may. The fast player gets every frame, the stalled
// player's queue drops whole groups of pictures, and once a write to it has
// waited the write timeout it is closed with a logged reason.
func TestStalledPlayer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		const writeTimeout = 5 * time.Second
		ts := startServer(t, pl, Config{RTMP: &rtmp.Config{WriteTimeout: writeTimeout}})
		defer ts.close(t)

		fast := newRawClient(pl.dial())
		if err := fast.connect("live"); err != nil {
			t.Fatal(err)
		}
		if _, err := fast.stream("play", "s", netstream.PlayStart); err != nil {
			t.Fatal(err)
		}
		var fastFrames atomic.Int64
		go func() {
			for {
				m, err := fast.c.ReadMessage()
				if err != nil {
					return
				}
				if m.Type == media.TypeVideo {
					fastFrames.Add(1)
				}
			}
		}()
		stalled := newRawClient(pl.dial())
		if err := stalled.connect("live"); err != nil {
			t.Fatal(err)
		}
		if _, err := stalled.stream("play", "s", netstream.PlayStart); err != nil {
			t.Fatal(err)
		}
		// From here on the stalled player reads nothing.
		pub := newRawClient(pl.dial())
		if err := pub.connect("live"); err != nil {
			t.Fatal(err)
		}
		pubID, err := pub.stream("publish", "s", netstream.PublishStart)
		if err != nil {
			t.Fatal(err)
		}
		pub.readAll()
		synctest.Wait()
		s, _ := ts.ns.Registry.Lookup("live", netstream.DefaultInstance, "s")
		if n := s.Subscribers(); n != 2 {
			t.Fatalf("%d players", n)
		}
		start := time.Now()
		const frames = 100
		waited := 0
		for i := range frames {
			before := time.Now()
			if err := pub.c.WriteMessage(pubID, frame(uint32(i*40), i%25 == 0, 100_000)); err != nil {
				t.Fatal(err)
			}
			if time.Since(before) > 0 {
				waited++
			}
			time.Sleep(40 * time.Millisecond)
		}
		synctest.Wait()
		if waited > 0 || time.Since(start) != frames*40*time.Millisecond {
			t.Fatalf("%d of %d publisher writes waited (%v for %v of media)", waited, frames, time.Since(start), frames*40*time.Millisecond)
		}
		if got := fastFrames.Load(); got != frames {
			t.Fatalf("the fast player got %d of %d frames", got, frames)
		}
		// The stalled player was stalled all along, and lost whole GOPs.
		if n := s.Subscribers(); n != 2 {
			t.Fatalf("%d players at the end of the media: the stalled one left early", n)
		}
		time.Sleep(writeTimeout)
		synctest.Wait()
		lines := ts.logs.find("rtmp connection closed", "writing")
		if len(lines) != 1 || !strings.Contains(lines[0], "timeout") || s.Subscribers() != 1 {
			t.Fatalf("stalled player not closed for its writes (%d players):\n%s", s.Subscribers(), ts.logs.dump())
		}
		t.Logf("%s", lines[0])
	})
}
