package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/cluster/natsembed"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmp"
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
	return startClusterOn(t, "", n, extra)
}

// startClusterOn starts n nodes on the NATS server at natsURL ("": the
// first node's embedded one).
func startClusterOn(t *testing.T, natsURL string, n int, extra func(i int) (cluster, top string)) *testCluster {
	t.Helper()
	tc := &testCluster{natsURL: natsURL}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		var cl, top string
		if extra != nil {
			cl, top = extra(i)
		}
		nats := `"embeddedNATS": {"listen": "127.0.0.1:0"}`
		if i > 0 || tc.natsURL != "" {
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
		if tc.natsURL == "" {
			tc.natsURL = d.nats.ClientURL()
		}
		tc.nodes = append(tc.nodes, d)
	}
	// Every node sees every other, with the RTMFP addresses it sends
	// clients to (a node's first heartbeat goes before its endpoints
	// listen).
	waitUntil(t, 10*time.Second, "the nodes to see each other", func() bool {
		for _, d := range tc.nodes {
			nodes := d.Cluster().Registry().Nodes()
			if len(nodes) != n-1 {
				return false
			}
			for _, o := range nodes {
				if len(o.RTMFP) == 0 {
					return false
				}
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

// trunkOn gives every node a QUIC trunk on loopback.
func trunkOn(int) (string, string) { return `, "trunk": {"listen": "127.0.0.1:0"}`, "" }

// rtmpWriter gives an RTMP client publishSynthetic's WriteMedia.
type rtmpWriter struct{ c *rtmp.Client }

func (w rtmpWriter) WriteMedia(_ context.Context, m media.Message) error { return w.c.WriteMedia(m) }

// rtmpOn opens an RTMP connection to node d's "live" application and
// publishes (publish) or plays name; the test closes it.
func rtmpOn(ctx context.Context, t *testing.T, d *Daemon, name string, publish bool) *rtmp.Client {
	t.Helper()
	c, err := rtmp.Dial(ctx, "rtmp://"+d.RTMPAddrs()[0]+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if publish {
		err = c.Publish(ctx, name, rtmp.ModeLive)
	} else {
		err = c.Play(ctx, name)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClusterStreams: an RTMP publisher on node 1; an RTMFP player on node
// 2 and an RTMP and an RTMFP player on node 3 get every frame, pulled over
// the trunks (one pull per node, whatever its players); the pulls end with
// the stream and when the last player leaves.
func TestClusterStreams(t *testing.T) {
	tc := startCluster(t, 3, trunkOn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)

	// The publisher starts first; players come, the nodes pull.
	pub := rtmpOn(ctx, t, tc.nodes[0], "cam", true)
	avc := media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}}
	aac := media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}}
	for _, m := range []media.Message{avc, aac} {
		if err := pub.WriteMedia(m); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "the stream in every registry", func() bool {
		for _, d := range tc.nodes[1:] {
			if _, ok := d.Cluster().Registry().StreamOrigin("live/_definst_/cam"); !ok {
				return false
			}
		}
		return true
	})

	type player struct {
		name string
		read func() (media.Message, error)
	}
	var players []player
	var conns []*client.Conn
	for _, at := range []int{1, 2} {
		c, err := client.Dial(ctx, tc.url(at, "live"), client.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		st, err := c.CreateStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Play(ctx, "cam"); err != nil {
			t.Fatal(err)
		}
		players = append(players, player{fmt.Sprintf("RTMFP on node %d", at+1), func() (media.Message, error) { return st.ReadMedia(ctx) }})
	}
	rp := rtmpOn(ctx, t, tc.nodes[2], "cam", false)
	players = append(players, player{"RTMP on node 3", func() (media.Message, error) {
		for {
			m, err := rp.ReadMessage()
			if err != nil || m.IsAudio() || m.IsVideo() {
				return m.Message, err
			}
		}
	}})
	// Node 1 serves one pull per node: two subscriptions to its stream.
	waitUntil(t, 10*time.Second, "the pulls", func() bool {
		s, ok := tc.nodes[0].NetStream().Registry.Lookup("live", "_definst_", "cam")
		return ok && s.Subscribers() == 2
	})

	const frames = 200
	for i := range frames {
		ts := uint32(40 * (i + 1))
		flag := byte(0x27)
		if i%25 == 0 {
			flag = 0x17
		}
		if err := pub.WriteMedia(media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: []byte{flag, 1, 0, 0, 0, byte(i), byte(i >> 8)}}); err != nil {
			t.Fatal(err)
		}
		if err := pub.WriteMedia(media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: []byte{0xaf, 1, byte(i), byte(i >> 8)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range players {
		video, audio := 0, 0
		for video < frames || audio < frames {
			m, err := p.read()
			if err != nil {
				t.Fatalf("%s: %d video and %d audio frames of %d: %v", p.name, video, audio, frames, err)
			}
			switch {
			case m.IsVideo() && len(m.Payload) == 7 && m.Payload[1] == 1:
				if n := int(m.Payload[5]) | int(m.Payload[6])<<8; n != video {
					t.Fatalf("%s: video frame %d where %d was expected", p.name, n, video)
				}
				video++
			case m.IsAudio() && len(m.Payload) == 4 && m.Payload[1] == 1:
				if n := int(m.Payload[2]) | int(m.Payload[3])<<8; n != audio {
					t.Fatalf("%s: audio frame %d where %d was expected", p.name, n, audio)
				}
				audio++
			}
		}
	}
	for i, d := range tc.nodes[1:] {
		if p := d.streams.Pulls(); len(p) != 1 || p[0].Origin != "n1" {
			t.Fatalf("node %d pulls %+v: want one, from n1", i+2, p)
		}
	}
	if st := tc.nodes[0].streams.Trunk().Stats(); len(st.Conns) != 2 || st.Served != 2 {
		t.Fatalf("node 1 trunk %+v: want a connection with each node, two pulls served", st)
	}
	// Node 2's dashboard shows the cluster: itself, the other two nodes,
	// its trunk with node 1 and the pull, under the keys the page reads.
	frame, err := camelJSON(tc.nodes[1].dashboardFrame(dashboardQuery{limit: defaultPage, sLimit: defaultPage}))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Cluster struct {
			Node     string `json:"node"`
			Self     struct{ Name string }
			Nodes    []struct{ Name string }
			Registry struct {
				Connected   bool `json:"connected"`
				RemotePeers int  `json:"remotePeers"`
			} `json:"registry"`
			Trunk struct {
				Conns []struct {
					Node    string `json:"node"`
					Streams int    `json:"streams"`
				} `json:"conns"`
			} `json:"trunk"`
			Pulls []struct {
				Stream string `json:"stream"`
				Origin string `json:"origin"`
			} `json:"pulls"`
		} `json:"cluster"`
	}
	if err := json.Unmarshal(frame, &dash); err != nil {
		t.Fatal(err)
	}
	dc := dash.Cluster
	if dc.Node != "n2" || dc.Self.Name != "n2" || len(dc.Nodes) != 2 || dc.Nodes[0].Name != "n1" || dc.Nodes[1].Name != "n3" ||
		!dc.Registry.Connected || len(dc.Trunk.Conns) != 1 || dc.Trunk.Conns[0].Node != "n1" || dc.Trunk.Conns[0].Streams != 1 ||
		len(dc.Pulls) != 1 || dc.Pulls[0].Origin != "n1" || dc.Pulls[0].Stream != "live/_definst_/cam" {
		t.Fatalf("node 2's dashboard cluster: %+v", dc)
	}
	// Node 2's only player leaves: its pull ends; node 3's goes on.
	conns[0].Close()
	waitUntil(t, 10*time.Second, "node 2's pull to end", func() bool { return len(tc.nodes[1].streams.Pulls()) == 0 })
	if p := tc.nodes[2].streams.Pulls(); len(p) != 1 {
		t.Fatalf("node 3 pulls %+v", p)
	}
	// The stream ends: the copies end with it.
	pub.Close()
	waitUntil(t, 10*time.Second, "the pulls to end", func() bool {
		return len(tc.nodes[1].streams.Pulls()) == 0 && len(tc.nodes[2].streams.Pulls()) == 0
	})
}

// TestClusterGroup: six members of one NetGroup, two per node, form one
// ring: every node's introducer holds all six on its ring, members become
// neighbours across nodes, and a group stream published by a member on
// node 1 plays on nodes 2 and 3. A member that leaves is taken off every
// node's ring.
func TestClusterGroup(t *testing.T) {
	tc := startCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	var members []*groupstream.Member
	var peerIDs []profile.PeerID
	for i := range 6 {
		c, err := client.Dial(ctx, tc.url(i%3, "live"), client.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		m, err := groupstream.JoinClient(ctx, c, testGroupSpec)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		members = append(members, m)
		peerIDs = append(peerIDs, c.Session().Endpoint().PeerID())
	}
	waitUntil(t, 20*time.Second, "every ring to hold the six members", func() bool {
		for _, d := range tc.nodes {
			st := d.Introducer().Stats()
			if st.Members != 2 || st.RemoteMembers != 4 {
				return false
			}
		}
		return true
	})
	// One mesh: neighbours across nodes, every member reachable.
	waitUntil(t, 30*time.Second, "a connected mesh across the nodes", func() bool {
		ids := map[profile.PeerID]int{}
		for i, id := range peerIDs {
			ids[id] = i
		}
		// Union-find over the neighbour links; count the links between
		// members of different nodes.
		parent := make([]int, len(members))
		for i := range parent {
			parent[i] = i
		}
		var find func(int) int
		find = func(i int) int {
			if parent[i] != i {
				parent[i] = find(parent[i])
			}
			return parent[i]
		}
		cross := 0
		for i, m := range members {
			for _, nb := range m.NetGroup.Neighbors() {
				j, ok := ids[nb.ID()]
				if !ok {
					continue
				}
				if j%3 != i%3 {
					cross++
				}
				parent[find(i)] = find(j)
			}
		}
		for i := range members {
			if find(i) != find(0) {
				return false
			}
		}
		return cross > 0
	})

	pub, err := members[0].Publish("cam", multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var players []*groupstream.Playback
	for _, i := range []int{1, 2} {
		pb, err := members[i].Play("cam", multicast.Config{})
		if err != nil {
			t.Fatal(err)
		}
		players = append(players, pb)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go publishSynthetic(pubCtx, pub)
	for k, pb := range players {
		for n := 0; n < 30; {
			m, err := pb.ReadMedia(ctx)
			if err != nil {
				t.Fatalf("player on node %d after %d frames: %v", k+2, n, err)
			}
			if m.IsVideo() {
				n++
			}
		}
	}
	stopPub()

	// A member leaves: every ring loses it.
	members[5].Close()
	waitUntil(t, 10*time.Second, "the leave on every node", func() bool {
		for _, d := range tc.nodes {
			st := d.Introducer().Stats()
			if st.Members+st.RemoteMembers != 5 {
				return false
			}
		}
		return true
	})
}

// TestClusterBalance: 300 new sessions all sent to node 1, each node
// taking at most 100 (cluster.maxSessions): node 1 redirects what is over
// to the least-loaded node, and the sessions spread within ±10 % of an
// even share.
func TestClusterBalance(t *testing.T) {
	const total, perNode = 300, 100
	tc := startCluster(t, 3, func(int) (string, string) {
		return fmt.Sprintf(`, "maxSessions": %d`, perNode), `, "session": {"startupRate": 10000, "startupBurst": 10000}`
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for range total {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := client.Dial(ctx, tc.url(0, "live"), client.Options{Logger: log})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a session failed: %v", err)
	}
	counts := make([]int, 3)
	waitUntil(t, 10*time.Second, "every session followed", func() bool {
		n := 0
		for i, d := range tc.nodes {
			counts[i] = d.rtmfpSessions()
			n += counts[i]
		}
		return n == total
	})
	t.Logf("sessions per node %v, node 1 redirected %d", counts, tc.nodes[0].Cluster().Redirects())
	for i, n := range counts {
		if n < perNode*9/10 || n > perNode*11/10 {
			t.Fatalf("node %d has %d sessions of %d: want %d ± 10 %%", i+1, n, total, perNode)
		}
	}
}

// TestClusterNATSOutage: NATS stops; each node drops the others and works
// alone (an introduction to a client of another node finds nobody, one to
// a client of the same node works); NATS comes back on its address and the
// cluster heals: the introduction across nodes works again.
func TestClusterNATSOutage(t *testing.T) {
	ns, err := natsembed.Start(natsembed.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr().String()
	tc := startClusterOn(t, ns.ClientURL(), 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	dial := func(at int) *client.Conn {
		c, err := client.Dial(ctx, tc.url(at, "live"), client.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b, local := dial(0), dial(1), dial(0)
	bid := b.Session().Endpoint().PeerID()
	tc.registered(t, bid, 1)

	ns.Close()
	waitUntil(t, 10*time.Second, "single-node views", func() bool {
		return len(tc.nodes[0].Cluster().Registry().Nodes()) == 0 && len(tc.nodes[1].Cluster().Registry().Nodes()) == 0
	})
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	if _, err := a.ConnectPeer(short, bid); err == nil {
		t.Fatal("introduced to a client of another node during the outage")
	}
	cancelShort()
	if _, err := a.ConnectPeer(ctx, local.Session().Endpoint().PeerID()); err != nil {
		t.Fatalf("introduction on the same node during the outage: %v", err)
	}

	ns2, err := natsembed.Start(natsembed.Config{Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Close()
	tc.registered(t, bid, 1)
	if _, err := a.ConnectPeer(ctx, bid); err != nil {
		t.Fatalf("introduction across nodes after the outage: %v", err)
	}
}

// TestClusterDrain: a node told to stop with cluster.drainTimeout sends
// every new session to the other node while it drains, and has left the
// other node's registry before it stops.
func TestClusterDrain(t *testing.T) {
	tc := startCluster(t, 2, func(i int) (string, string) {
		if i == 1 {
			return `, "drainTimeout": "2s"`, ""
		}
		return "", ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	stopped := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		stopped <- tc.nodes[1].Shutdown(sctx)
	}()
	waitUntil(t, 10*time.Second, "node 2 draining", func() bool {
		i, ok := tc.nodes[0].Cluster().Registry().NodeInfo("n2")
		return ok && i.Draining
	})
	c, err := client.Dial(ctx, tc.url(1, "live"), client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.Session().RemoteAddr().String(), tc.nodes[0].Endpoints()[0].LocalAddr().String(); got != want {
		t.Fatalf("a session to the draining node landed on %s, want node 1 at %s", got, want)
	}
	waitUntil(t, 10*time.Second, "node 2 out of node 1's registry", func() bool {
		return len(tc.nodes[0].Cluster().Registry().Nodes()) == 0
	})
	if st := tc.nodes[0].Cluster().Registry().Stats(); st.NodesLeft != 1 || st.NodesExpired != 0 {
		t.Fatalf("node 1's registry %+v: want node 2 gone by its goodbye, not expired", st)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("node 2 did not stop")
	}
}

// TestClusterGroupFeed: node 2 publishes live streams into a NetGroup
// (groups with a publish rule); a stream published over RTMP on node 1,
// which has no groups, is pulled by node 2 at once, with no player there,
// and a member joined through node 3 plays it from the group.
func TestClusterGroupFeed(t *testing.T) {
	tc := startCluster(t, 3, func(i int) (string, string) {
		top := ""
		if i == 1 {
			top = `, "groups": [{"spec": "` + testGroupSpec + `", "publish": [{"app": "live", "stream": "*"}]}]`
		}
		return `, "trunk": {"listen": "127.0.0.1:0"}`, top
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	waitUntil(t, 10*time.Second, "node 2 known as a group publisher", func() bool {
		i, ok := tc.nodes[0].Cluster().Registry().NodeInfo("n2")
		return ok && i.GroupPublisher
	})
	pb := groupPlayer(ctx, t, tc.nodes[2], "cam")
	pub := rtmpOn(ctx, t, tc.nodes[0], "cam", true)
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go publishSynthetic(pubCtx, rtmpWriter{pub})
	readFromKeyFrame(ctx, t, tc.nodes[1], pb, 30)
	if p := tc.nodes[1].streams.Pulls(); len(p) != 1 || p[0].Origin != "n1" {
		t.Fatalf("node 2 pulls %+v", p)
	}
}
