package mcsim

import (
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/multicast"
)

// lossy is the reference scenario of the acceptance criteria: a 1 Mbit/s
// stream, 2% loss on every message with no transport retransmission (the
// engine alone repairs), one-way delays uniform in 10–150 ms.
func lossy(peers int, seed uint64) Config {
	return Config{Peers: peers, Loss: 0.02, MinDelay: 10 * time.Millisecond, MaxDelay: 150 * time.Millisecond, Duration: 30 * time.Second, Seed: seed}
}

// heavy skips a simulation of many peer-seconds in -short mode (the race
// detector makes them take minutes).
func heavy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long simulation; run without -short")
	}
}

// checkHealthy asserts the delivery criteria: every peer delivered at
// least 99.9% of the media (from its join point) within the window,
// nothing corrupt, everybody saw the end of stream.
func checkHealthy(t *testing.T, r Result) {
	t.Helper()
	if r.WorstDelivery < 0.999 {
		t.Errorf("peer %d delivered only %.4f of the media within the window", r.WorstPeer, r.WorstDelivery)
	}
	if r.Corrupt != 0 {
		t.Errorf("%d corrupt deliveries", r.Corrupt)
	}
	if r.Ended != r.Peers {
		t.Errorf("%d of %d peers saw the end of stream", r.Ended, r.Peers)
	}
	if r.MaxJoinDelay > 10*time.Second {
		t.Errorf("a peer joined %v after the start", r.MaxJoinDelay)
	}
}

// Acceptance 1: ≥ 99.9% within the window for 50 peers under 2% loss, and
// the publisher's upload within (push limit + 1) × the stream for 10, 50
// and 200 peers.
func TestDeliveryAndPublisherUpload(t *testing.T) {
	heavy(t)
	for _, peers := range []int{10, 50, 200} {
		r := New(lossy(peers, 1)).Run()
		t.Log(r)
		checkHealthy(t, r)
		limit := float64(multicast.DefaultConfig().PushNeighborLimit + 1)
		if r.UploadRatio > limit || r.UploadRatio < 1 {
			t.Errorf("%d peers: publisher upload %.2f × stream, want within [1, %v]", peers, r.UploadRatio, limit)
		}
		if r.StreamBitrate < 950e3 || r.StreamBitrate > 1100e3 {
			t.Errorf("stream at %.0f bit/s", r.StreamBitrate)
		}
	}
}

// Acceptance 2a: a larger push limit raises the publisher's upload share
// and lowers latency.
func TestPushLimitEffect(t *testing.T) {
	heavy(t)
	run := func(limit int) Result {
		c := multicast.DefaultConfig()
		c.PushNeighborLimit = limit
		cfg := lossy(50, 2)
		cfg.Multicast, cfg.Retransmit, cfg.Warmup = c, true, 10*time.Second
		r := New(cfg).Run()
		t.Logf("push limit %d: %v", limit, r)
		return r
	}
	one, four := run(1), run(4)
	if four.UploadRatio < one.UploadRatio+1 {
		t.Errorf("publisher upload %.2f× with limit 4, %.2f× with limit 1", four.UploadRatio, one.UploadRatio)
	}
	if one.UploadRatio > 2 || four.UploadRatio > 5 {
		t.Errorf("upload above (limit+1)× stream: %.2f, %.2f", one.UploadRatio, four.UploadRatio)
	}
	if four.Latency50 >= one.Latency50 || four.Latency90 >= one.Latency90 {
		t.Errorf("latency p50/p90 %v/%v with limit 4, %v/%v with limit 1", four.Latency50, four.Latency90, one.Latency50, one.Latency90)
	}
}

// Acceptance 2b: a shorter fetch period lowers the latency of repairs.
func TestFetchPeriodEffect(t *testing.T) {
	heavy(t)
	run := func(fetch time.Duration) Result {
		c := multicast.DefaultConfig()
		c.FetchPeriod = fetch
		cfg := lossy(50, 3)
		cfg.Multicast, cfg.Warmup = c, 10*time.Second
		r := New(cfg).Run()
		t.Logf("fetch period %v: %v", fetch, r)
		return r
	}
	short, long := run(500*time.Millisecond), run(2500*time.Millisecond)
	checkHealthy(t, short)
	checkHealthy(t, long)
	// Under loss, delivery in order waits for repairs: their latency
	// shows in every percentile.
	if long.Latency50-short.Latency50 < time.Second || long.Latency99 <= short.Latency99 {
		t.Errorf("p50/p99 %v/%v with 0.5 s, %v/%v with 2.5 s", short.Latency50, short.Latency99, long.Latency50, long.Latency99)
	}
}

// Acceptance 2c: a shorter window makes late fragments count as lost.
func TestWindowEffect(t *testing.T) {
	heavy(t)
	run := func(window time.Duration) (Result, uint64) {
		c := multicast.DefaultConfig()
		c.Window = window
		cfg := lossy(50, 4)
		cfg.Multicast = c
		r := New(cfg).Run()
		var lost uint64
		for _, st := range r.PeerStats {
			lost += st.FragmentsLost
		}
		t.Logf("window %v: lost %d, %v", window, lost, r)
		return r, lost
	}
	short, shortLost := run(time.Second)
	long, longLost := run(8 * time.Second)
	checkHealthy(t, long)
	if longLost != 0 {
		t.Errorf("%d fragments lost with the default window", longLost)
	}
	if shortLost < 1000 || short.MeanDelivery > 0.9 {
		t.Errorf("window 1 s: lost %d, mean delivery %.3f", shortLost, short.MeanDelivery)
	}
	if short.LatencyMax >= long.Latency50 {
		t.Errorf("window 1 s delivered a message %v after publication", short.LatencyMax)
	}
}

// adversaries adds three forgers (forged maps far beyond and just beyond
// the publisher's counter, out-of-window fragments, pulls for fragments
// that never existed or left the window, garbage; from forgeFuture also
// fragments a million IDs ahead) and three neighbours that stop sending
// any media at 15 s.
func adversaries(seed uint64, forgeAt, forgeFuture time.Duration) Config {
	cfg := lossy(50, seed)
	cfg.Duration = 40 * time.Second
	cfg.Forgers = []int{3, 17, 29}
	cfg.ForgeAt, cfg.ForgeFutureAt = forgeAt, forgeFuture
	cfg.Silent = []int{5, 11, 40}
	cfg.SilentAt = 15 * time.Second
	return cfg
}

func isForger(p int) bool { return p == 3 || p == 17 || p == 29 }

// checkBadInput asserts that the bad input was counted and stayed bounded.
func checkBadInput(t *testing.T, r Result) {
	t.Helper()
	var sum multicast.Stats
	for i, st := range r.PeerStats {
		sum.MapsForged += st.MapsForged
		sum.FragmentsBeyondHorizon += st.FragmentsBeyondHorizon
		sum.FragmentsLate += st.FragmentsLate
		sum.PullsUnknown += st.PullsUnknown
		sum.PullTimeouts += st.PullTimeouts
		sum.BadMessages += st.BadMessages
		sum.Resyncs += st.Resyncs
		if st.PendingPulls > 4096 || st.BufferedFragments > multicast.MaxFragmentsMapBytes*8 || st.BufferedBytes > 64<<20 {
			t.Errorf("peer %d unbounded: %+v", i+1, st)
		}
	}
	t.Logf("forged maps %d, fragments beyond horizon %d, late %d, unknown pulls %d, pull timeouts %d, bad messages %d, resyncs %d",
		sum.MapsForged, sum.FragmentsBeyondHorizon, sum.FragmentsLate, sum.PullsUnknown, sum.PullTimeouts, sum.BadMessages, sum.Resyncs)
	if sum.MapsForged == 0 || sum.FragmentsLate == 0 || sum.PullsUnknown == 0 || sum.PullTimeouts == 0 || sum.BadMessages == 0 {
		t.Error("bad input not counted")
	}
	if r.Corrupt != 0 || r.Ended != r.Peers {
		t.Errorf("corrupt %d, ended %d", r.Corrupt, r.Ended)
	}
}

// Acceptance 3: once the stream runs, forged maps, out-of-window and
// far-future fragments, pulls for fragments never held, garbage and silent
// neighbours are ignored, bounded and counted, and every honest peer keeps
// ≥ 99.9% of the media within the window.
func TestAdversaries(t *testing.T) {
	heavy(t)
	r := New(adversaries(5, 10*time.Second, 20*time.Second)).Run()
	t.Log(r)
	checkBadInput(t, r)
	for i, d := range r.Delivery {
		if p := i + 1; d < 0.999 && !isForger(p) {
			t.Errorf("honest peer %d delivered %.4f within the window", p, d)
		}
	}
	var beyond uint64
	for _, st := range r.PeerStats {
		beyond += st.FragmentsBeyondHorizon
	}
	if beyond == 0 {
		t.Error("no fragment forged ahead of the publisher was refused")
	}
}

// Forgers that speak before any honest neighbour can mislead a joining
// peer about where the stream is; the peer detects it (resync) when
// honest claims or data outweigh the forged ones, and the stream goes on.
func TestAdversariesFromStart(t *testing.T) {
	heavy(t)
	r := New(adversaries(5, 0, 0)).Run()
	t.Log(r)
	checkBadInput(t, r)
	var resyncs uint64
	for _, st := range r.PeerStats {
		resyncs += st.Resyncs
	}
	if resyncs == 0 {
		t.Error("no resync")
	}
	if r.MeanDelivery < 0.99 {
		t.Errorf("mean delivery %.4f", r.MeanDelivery)
	}
	for i, d := range r.Delivery {
		if p := i + 1; d < 0.9 && !isForger(p) {
			t.Errorf("honest peer %d delivered %.4f within the window", p, d)
		}
	}
}

// The simulation is deterministic: one seed, one result.
func TestDeterministic(t *testing.T) {
	cfg := lossy(20, 6)
	cfg.Duration = 10 * time.Second
	a, b := New(cfg).Run(), New(cfg).Run()
	if a.String() != b.String() || a.Publisher != b.Publisher {
		t.Errorf("two runs differ:\n%v\n%v", a, b)
	}
	for i := range a.PeerStats {
		if a.PeerStats[i] != b.PeerStats[i] {
			t.Fatalf("peer %d differs", i+1)
		}
	}
}

// Upload limits queue and drop: the engine repairs what the queues drop.
func TestUploadLimit(t *testing.T) {
	heavy(t)
	cfg := lossy(30, 7)
	cfg.Loss = 0
	cfg.PeerUpload = 4_000_000
	cfg.PublisherUpload = 6_000_000
	cfg.MaxBacklog = 200 * time.Millisecond
	r := New(cfg).Run()
	t.Log(r)
	checkHealthy(t, r)
}

// Peers that connect while the stream runs join at the live edge and get
// the rest of it.
func TestLateJoiners(t *testing.T) {
	heavy(t)
	cfg := lossy(50, 9)
	cfg.Late, cfg.LateAt = []int{7, 21, 33, 48}, 15*time.Second
	r := New(cfg).Run()
	t.Log(r)
	checkHealthy(t, r)
}

// A small group under loss, quick enough for -short and -race.
func TestSmallGroup(t *testing.T) {
	cfg := lossy(10, 8)
	cfg.Duration = 20 * time.Second
	r := New(cfg).Run()
	t.Log(r)
	checkHealthy(t, r)
	if r.UploadRatio > 5 {
		t.Errorf("publisher upload %.2f × stream", r.UploadRatio)
	}
}
