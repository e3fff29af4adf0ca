package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
)

// TestClusterBandwidth: node 1 with cluster.maxBandwidth 50 kbit/s. While
// an RTMP player on node 1 receives a stream of 8 kB frames, node 1 is over
// its limit (its heartbeat says so, with the rate it measured) and a new
// RTMFP client of node 1 lands on node 2; once the stream stops, node 1's
// rate falls under the limit and it takes new clients again.
func TestClusterBandwidth(t *testing.T) {
	const limit = 50_000
	tc := startCluster(t, 2, func(i int) (string, string) {
		if i == 0 {
			return `, "maxBandwidth": 50000`, ""
		}
		return "", ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	landsOn := func(want int) {
		t.Helper()
		c, err := client.Dial(ctx, tc.url(0, "live"), client.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got, at := c.Session().RemoteAddr(), tc.nodes[want].Endpoints()[0].LocalAddr().String(); got.String() != at {
			t.Fatalf("a client of node 1 landed on %v, want node %d at %s", got, want+1, at)
		}
	}
	landsOn(0) // under the limit: served here

	pub := rtmpOn(ctx, t, tc.nodes[0], "cam", true)
	player := rtmpOn(ctx, t, tc.nodes[0], "cam", false)
	go func() {
		for {
			if _, err := player.ReadMessage(); err != nil {
				return
			}
		}
	}()
	over := func() bool {
		i, ok := tc.nodes[1].Cluster().Registry().NodeInfo("n1")
		return ok && i.Load.Over && i.Load.BitsOut >= limit
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		frame := make([]byte, 8000)
		for i := range 1_000_000 { // stopped by the test, or by ctx within 60 s
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			frame[0] = 0x27
			if i%25 == 0 {
				frame[0] = 0x17
			}
			if pub.WriteMedia(media.Message{Type: media.TypeVideo, Timestamp: uint32(i * 40), Payload: frame}) != nil {
				return
			}
			if i%10 == 9 {
				time.Sleep(time.Millisecond) // pacing, not synchronisation: about 80 MB/s at most
			}
		}
	}()
	waitUntil(t, 20*time.Second, "node 2 to hear node 1 is over its bandwidth", over)
	i, _ := tc.nodes[1].Cluster().Registry().NodeInfo("n1")
	t.Logf("node 1 measured %.0f kbit/s sent", i.Load.BitsOut/1000)
	landsOn(1)

	close(stop)
	<-sent
	waitUntil(t, 20*time.Second, "node 1 back under its bandwidth", func() bool {
		i, ok := tc.nodes[1].Cluster().Registry().NodeInfo("n1")
		return ok && !i.Load.Over && i.Load.BitsOut < limit
	})
	landsOn(0)
}
