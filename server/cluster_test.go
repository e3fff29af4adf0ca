package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// testCluster is n rtmfpd nodes on loopback; the first runs the embedded
// NATS server the others connect to.
type testCluster struct {
	nodes   []*Daemon
	natsURL string
}

// clusterLog is where the cluster tests log (RTMFPD_TEST_LOG=1: stderr).
func clusterLog(name string) *slog.Logger {
	if os.Getenv("RTMFPD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("testNode", name)
	}
	return slog.New(slog.DiscardHandler)
}

// startCluster starts n nodes; extra is added to each node's cluster
// section (JSON members, with a leading comma) and top (to the whole
// configuration).
func startCluster(t *testing.T, n int, extra func(i int) (cluster, top string)) *testCluster {
	t.Helper()
	tc := &testCluster{}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		var cl, top string
		if extra != nil {
			cl, top = extra(i)
		}
		nats := `"embeddedNATS": {"listen": "127.0.0.1:0"}`
		if i > 0 {
			nats = `"nats": ["` + tc.natsURL + `"]`
		}
		cfg, err := loadJSON(t, `{
			"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off"`+top+`,
			"cluster": {"node": "`+name+`", `+nats+`, "heartbeat": "100ms", "expiry": "600ms"`+cl+`}
		}`)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Start(cfg, clusterLog(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d.Shutdown(ctx)
		})
		if i == 0 {
			tc.natsURL = d.nats.ClientURL()
		}
		tc.nodes = append(tc.nodes, d)
	}
	// Every node sees every other.
	waitUntil(t, 10*time.Second, "the nodes to see each other", func() bool {
		for _, d := range tc.nodes {
			if len(d.Cluster().Registry().Nodes()) != n-1 {
				return false
			}
		}
		return true
	})
	return tc
}

func (tc *testCluster) url(i int, app string) string {
	return "rtmfp://" + tc.nodes[i].Endpoints()[0].LocalAddr().String() + "/" + app
}

// registered waits until every node but the client's own knows its peer ID.
func (tc *testCluster) registered(t *testing.T, id profile.PeerID, at int) {
	t.Helper()
	waitUntil(t, 10*time.Second, "the peer in every registry", func() bool {
		for i, d := range tc.nodes {
			if i != at && len(d.Cluster().Registry().Peer(id)) == 0 {
				return false
			}
		}
		return true
	})
}

// TestClusterIntroduction: two Go clients on different nodes are
// introduced (the IHello reaches node 1, node 2 holding the target sends
// the Forwarded IHello, node 1 the Redirect) and media flow peer to peer.
func TestClusterIntroduction(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	a, err := client.Dial(ctx, tc.url(0, "live"), client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := client.Dial(ctx, tc.url(1, "live"), client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pub, err := client.PublishDirect(b, "direct")
	if err != nil {
		t.Fatal(err)
	}
	bid := b.Session().Endpoint().PeerID()
	tc.registered(t, bid, 1)
	s, err := a.ConnectPeer(ctx, bid)
	if err != nil {
		t.Fatal(err)
	}
	st, err := client.PlayDirect(ctx, s, "direct")
	if err != nil {
		t.Fatal(err)
	}
	const frames = 10
	for i := range frames {
		pub.WriteMedia(media.Message{Type: media.TypeVideo, Timestamp: uint32(40 * i), Payload: []byte{0x17, 1, 0, 0, 0, byte(i)}})
	}
	for got := 0; got < frames; {
		m, err := st.ReadMedia(ctx)
		if err != nil {
			t.Fatalf("got %d of %d frames peer to peer: %v", got, frames, err)
		}
		if m.Type == media.TypeVideo {
			got++
		}
	}
	i1, i2 := tc.nodes[0].Introducer().Stats(), tc.nodes[1].Introducer().Stats()
	if i1.RemoteIntroductions == 0 || i1.Redirects == 0 || i2.ForwardedIHellos == 0 {
		t.Fatalf("node 1 %+v, node 2 %+v: want node 1 redirecting, node 2 forwarding", i1, i2)
	}
}
