package multicast

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

func TestConfigClamp(t *testing.T) {
	def := DefaultConfig()
	if def.Clamp() != def {
		t.Errorf("defaults changed by Clamp: %+v", def.Clamp())
	}
	cases := []struct {
		in, want Config
	}{
		// Negative → 0, no error (seed 002: Flash's property coercion).
		{Config{Window: -time.Second, UpdatePeriod: -1, FetchPeriod: -1, RelayMargin: -1, PushNeighborLimit: -1},
			Config{}},
		// Above the range → the maximum.
		{Config{Window: 1 << 62, UpdatePeriod: 1 << 62, FetchPeriod: 1 << 62, RelayMargin: 1 << 62, PushNeighborLimit: 1 << 40, SendToAll: true},
			Config{Window: MaxPeriod, UpdatePeriod: MaxPeriod, FetchPeriod: MaxPeriod, RelayMargin: MaxPeriod, PushNeighborLimit: MaxPushNeighborLimit, SendToAll: true}},
		// In range: kept as is, the extremes included.
		{Config{Window: 6 * time.Millisecond, UpdatePeriod: 0, FetchPeriod: 20 * time.Millisecond, PushNeighborLimit: 10},
			Config{Window: 6 * time.Millisecond, UpdatePeriod: 0, FetchPeriod: 20 * time.Millisecond, PushNeighborLimit: 10}},
		{Config{Window: MaxPeriod, UpdatePeriod: MaxPeriod, FetchPeriod: MaxPeriod, RelayMargin: MaxPeriod, PushNeighborLimit: MaxPushNeighborLimit},
			Config{Window: MaxPeriod, UpdatePeriod: MaxPeriod, FetchPeriod: MaxPeriod, RelayMargin: MaxPeriod, PushNeighborLimit: MaxPushNeighborLimit}},
	}
	for _, c := range cases {
		if got := c.in.Clamp(); got != c.want {
			t.Errorf("Clamp(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
	if MaxPeriod != 4294967295*time.Millisecond || MaxPeriod.Seconds() != 4294967.295 {
		t.Errorf("MaxPeriod %v", MaxPeriod)
	}
	for _, c := range []struct {
		s    float64
		want time.Duration
	}{{-1, 0}, {0, 0}, {0.1, 100 * time.Millisecond}, {4294967.295, MaxPeriod}, {1e300, MaxPeriod}, {math.NaN(), 0}} {
		if got := ClampSeconds(c.s); got != c.want {
			t.Errorf("ClampSeconds(%v) = %v, want %v", c.s, got, c.want)
		}
	}
	for _, c := range []struct {
		v    float64
		want int
	}{{-3, 0}, {4.9, 4}, {4294967295, MaxPushNeighborLimit}, {1e20, MaxPushNeighborLimit}, {math.NaN(), 0}} {
		if got := ClampCount(c.v); got != c.want {
			t.Errorf("ClampCount(%v) = %v, want %v", c.v, got, c.want)
		}
	}
	n, _ := newPublisher(t, Config{Window: -5, UpdatePeriod: time.Second})
	if n.Config().Window != 0 {
		t.Errorf("NewNode did not clamp: %+v", n.Config())
	}
}

// TestExtremeConfig: the extremes of the ranges run without busy loops or
// overflows: a 0 update period sends maps every MinTimerPeriod and
// announces 0; the maxima are announced as 4294967295 ms and run.
func TestExtremeConfig(t *testing.T) {
	zero := Config{UpdatePeriod: 0, Window: 0, FetchPeriod: 0, RelayMargin: 0, PushNeighborLimit: 0, SendToAll: true}
	pub, pr := newPublisher(t, zero)
	if err := pub.AddNeighbor(7, epoch); err != nil {
		t.Fatal(err)
	}
	d, ok := pub.NextDeadline()
	if !ok || d.Sub(epoch) != MinTimerPeriod {
		t.Errorf("first map deadline %v after the start, want %v", d.Sub(epoch), MinTimerPeriod)
	}
	info, err := ParseStreamInfo(pr.take()[0].msg)
	if err != nil || info.Config().UpdatePeriod != 0 || info.Config().Window != 0 {
		t.Errorf("stream info %+v %v", info.Config(), err)
	}
	huge := Config{UpdatePeriod: MaxPeriod, Window: MaxPeriod, FetchPeriod: MaxPeriod, RelayMargin: MaxPeriod, PushNeighborLimit: MaxPushNeighborLimit}
	pub, pr = newPublisher(t, huge)
	_ = pub.AddNeighbor(7, epoch)
	info, err = ParseStreamInfo(pr.take()[0].msg)
	if c := info.Config(); err != nil || c.Window != MaxPeriod || c.UpdatePeriod != MaxPeriod || c.FetchPeriod != MaxPeriod {
		t.Errorf("stream info %+v %v", c, err)
	}
	for i := range 3 {
		if err := pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 1, byte(i)}}, epoch.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		pub.Tick(epoch.Add(time.Duration(i) * time.Second))
	}
	if st := pub.Stats(epoch.Add(3 * time.Second)); st.BufferedFragments != 3 {
		t.Errorf("buffered %d", st.BufferedFragments)
	}
}

func TestAnnounceAndSubscribe(t *testing.T) {
	pub, pr := newPublisher(t, DefaultConfig())
	if err := pub.AddNeighbor(7, epoch); err != nil {
		t.Fatal(err)
	}
	out := pr.take()
	if len(out) != 1 || out[0].flow != FlowReport || out[0].to != 7 {
		t.Fatalf("publisher sent %+v", out)
	}
	info, err := ParseStreamInfo(out[0].msg)
	if err != nil || info.Name != "s" || info.Key != testKey {
		t.Fatalf("stream info %+v %v", info, err)
	}

	pl, r, _ := newPlayer(t, DefaultConfig(), Limits{})
	_ = pl.AddNeighbor(7, epoch)
	_ = pl.AddNeighbor(8, epoch)
	if len(r.take()) != 0 {
		t.Fatal("a player that does not know the stream announced it")
	}
	other := NewStreamInfo("other", StreamKey{9}, DefaultConfig()).Append(nil)
	_ = pl.HandleMessage(7, other, epoch)
	if _, known := pl.Key(); known || pl.Stats(epoch).ForeignStream != 1 {
		t.Fatal("took another stream's info")
	}
	_ = pl.HandleMessage(7, out[0].msg, epoch)
	if k, known := pl.Key(); !known || k != testKey {
		t.Fatal("key not learnt")
	}
	sent := ofType(r.take(), TypeStreamInfo)
	if len(sent) != 2 {
		t.Fatalf("player announced to %d neighbours, want 2", len(sent))
	}
	// The publisher takes the answer as a subscription and sends its map.
	_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, 2}}, epoch)
	pr.take()
	_ = pub.HandleMessage(7, sent[0].msg, epoch)
	maps := ofType(pr.take(), TypeFragmentsMap)
	if len(maps) != 1 || maps[0].to != 7 {
		t.Fatalf("no map after subscription: %+v", maps)
	}
}

func TestPushLimitMaskAndSource(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PushNeighborLimit = 3
	pub, r := newPublisher(t, cfg)
	for id := NeighborID(1); id <= 5; id++ {
		subscribe(t, pub, id, epoch)
		mask := uint8(0xFF)
		if id == 2 {
			mask = 0x01 // only IDs ≡ 0 mod 8
		}
		_ = pub.HandleMessage(id, Push{Mask: mask}.Append(nil), epoch)
	}
	r.take()
	pushedTo := func() []NeighborID {
		var to []NeighborID
		for _, m := range onFlow(r.take(), FlowMedia) {
			to = append(to, m.to)
		}
		return to
	}
	// Fragment 1 starts every subscriber's join push: all get it.
	_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, 2}}, epoch)
	if to := pushedTo(); len(to) != 5 {
		t.Fatalf("fragment 1 pushed to %v, want all five (join push)", to)
	}
	// After the join push, only the requests count.
	after := at(cfg.joinPushSpan())
	_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, 2}}, after) // fragment 2
	if to := pushedTo(); len(to) != 3 || to[0] != 1 || to[1] != 3 || to[2] != 4 {
		t.Fatalf("fragment 2 pushed to %v, want [1 3 4] (limit 3, oldest requests first, 2 lacks bit 2)", to)
	}
	st := pub.Stats(after)
	if st.FragmentsPushedToPeers != 8 || st.BytesPushedToPeers != 8*3 {
		t.Errorf("push stats %+v", st)
	}

	// A relay never pushes a fragment back to where it came from.
	pl, pr, _ := newPlayer(t, cfg, Limits{})
	subscribe(t, pl, 10, epoch)
	subscribe(t, pl, 11, epoch)
	_ = pl.HandleMessage(10, fullMap(t, 1, 8), epoch)
	_ = pl.HandleMessage(11, fullMap(t, 1, 8), epoch)
	pl.Tick(at(100 * time.Millisecond)) // horizon
	_ = pl.HandleMessage(10, Push{Mask: 0xFF}.Append(nil), epoch)
	_ = pl.HandleMessage(11, Push{Mask: 0xFF}.Append(nil), epoch)
	pr.take()
	_ = pl.HandleFragment(10, wholeFragments(9, 9)[0], at(150*time.Millisecond))
	media := onFlow(pr.take(), FlowMedia)
	if len(media) != 1 || media[0].to != 11 {
		t.Fatalf("relay pushed %+v, want only to 11", media)
	}
}

func TestServePulls(t *testing.T) {
	pub, r := newPublisher(t, DefaultConfig())
	subscribe(t, pub, 1, epoch)
	_ = pub.Publish(media.Message{Type: media.TypeVideo, Payload: bytes.Repeat([]byte{7}, 2000)}, epoch) // 3 fragments
	r.take()
	_ = pub.HandleMessage(1, Pull{ID: 2}.Append(nil), epoch)
	got := r.take()
	if len(got) != 1 || got[0].flow != FlowMedia {
		t.Fatalf("pull answer %+v", got)
	}
	f, err := ParseFragment(got[0].msg)
	if err != nil || f.ID != 2 || f.Marker != TypeFragmentNext {
		t.Fatalf("answered %+v %v", f, err)
	}
	_ = pub.HandleMessage(1, Pull{ID: 99}.Append(nil), epoch)
	_ = pub.HandleMessage(1, Pull{ID: 0}.Append(nil), epoch)
	if len(r.take()) != 0 {
		t.Fatal("answered a pull for a fragment never held")
	}
	st := pub.Stats(epoch)
	if st.PullsUnknown != 2 || st.FragmentsRequestedByPeers != 1 || st.BytesRequestedByPeers != DefaultMaxFragmentPayload {
		t.Errorf("stats %+v", st)
	}
	// Fragments that left the buffer (window + relay margin) are unknown.
	pub.Tick(at(11 * time.Second))
	_ = pub.HandleMessage(1, Pull{ID: 1}.Append(nil), at(11*time.Second))
	if len(onFlow(r.take(), FlowMedia)) != 0 || pub.Stats(epoch).PullsUnknown != 3 {
		t.Error("served a fragment older than window + relay margin")
	}
}

func TestMapRounds(t *testing.T) {
	for _, all := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.SendToAll = all
		pub, r := newPublisher(t, cfg)
		for id := NeighborID(1); id <= 3; id++ {
			subscribe(t, pub, id, epoch)
		}
		r.take()
		counts := map[NeighborID]int{}
		for i := 1; i <= 6; i++ {
			now := at(time.Duration(i) * 100 * time.Millisecond)
			_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, byte(i)}}, now)
			if i == 1 && len(ofType(r.take(), TypeFragmentsMap)) != 3 {
				t.Errorf("sendToAll=%v: the first fragment was not mapped to every neighbour at once", all)
			}
			pub.Tick(now)
			for _, m := range ofType(r.take(), TypeFragmentsMap) {
				counts[m.to]++
			}
		}
		// After the first map each neighbour got at once, one neighbour
		// per round (the round at the first fragment had nothing new),
		// or all of them.
		lo, hi := 1, 2
		if all {
			lo, hi = 5, 5
		}
		for id := NeighborID(1); id <= 3; id++ {
			if counts[id] < lo || counts[id] > hi {
				t.Errorf("sendToAll=%v: neighbour %d got %d maps in rounds, want %d to %d (%v)", all, id, counts[id], lo, hi, counts)
			}
		}
		if total := counts[1] + counts[2] + counts[3]; !all && total != 5 {
			t.Errorf("%d maps in 5 rounds", total)
		}
	}
}

// TestEndMaps: a closed publisher maps its last fragments to every
// neighbour at once, then, endMapDelay later, a map naming the end of
// stream (librtmfp's publisher does the same), and names it from then on;
// the end of stream itself comes endNoticeDelay after the close.
func TestEndMaps(t *testing.T) {
	pub, r := newPublisher(t, DefaultConfig())
	for id := NeighborID(1); id <= 3; id++ {
		subscribe(t, pub, id, epoch)
	}
	for i := range 5 {
		_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, byte(i)}}, epoch)
	}
	pub.Tick(at(100 * time.Millisecond))
	r.take()
	_ = pub.Close(at(150 * time.Millisecond))
	out := r.take()
	if len(ofType(out, TypeStreamInfo)) != 0 { // the end comes endNoticeDelay later
		t.Errorf("end of stream at close: %d messages", len(ofType(out, TypeStreamInfo)))
	}
	maps := ofType(out, TypeFragmentsMap)
	for _, m := range maps {
		if fm, _ := DecodeReport(m.msg); fm.(FragmentsMap).Last != 5 {
			t.Errorf("last map %+v", fm)
		}
	}
	if len(maps) != 2 { // the neighbour of the round at 100 ms had it
		t.Errorf("%d last maps at close", len(maps))
	}
	if d, _ := pub.NextDeadline(); d.After(at(150*time.Millisecond + endMapDelay)) {
		t.Errorf("next deadline %v", d.Sub(epoch))
	}
	pub.Tick(at(200 * time.Millisecond))
	if len(ofType(r.take(), TypeFragmentsMap)) != 0 {
		t.Error("end map before endMapDelay")
	}
	pub.Tick(at(150*time.Millisecond + endMapDelay))
	maps = ofType(r.take(), TypeFragmentsMap)
	if len(maps) != 3 {
		t.Fatalf("%d end maps", len(maps))
	}
	fm, _ := DecodeReport(maps[0].msg)
	m := fm.(FragmentsMap)
	if m.Last != 6 || !m.Has(5) || !m.Has(1) || m.Has(0) {
		t.Errorf("end map %+v", m)
	}
	pub.Tick(at(150*time.Millisecond + DefaultConfig().endNoticeDelay()))
	if ends := ofType(r.take(), TypeStreamInfo); len(ends) != 3 {
		t.Errorf("%d ends", len(ends))
	}
	// A neighbour that comes later gets the end map and the end.
	subscribe(t, pub, 4, at(6*time.Second))
	out = r.take()
	if len(ofType(out, TypeFragmentsMap)) != 1 || len(ofType(out, TypeStreamInfo)) != 2 { // stream info and end
		t.Errorf("late neighbour got %d maps, %d infos", len(ofType(out, TypeFragmentsMap)), len(ofType(out, TypeStreamInfo)))
	}
}

// twoNeighbours makes a player with neighbours 1 and 2 both showing
// fragments 1..last at time 0.
func twoNeighbours(t *testing.T, cfg Config, lim Limits, last uint64) (*Node, *recorder, *delivered) {
	t.Helper()
	pl, r, d := newPlayer(t, cfg, lim)
	subscribe(t, pl, 1, epoch)
	subscribe(t, pl, 2, epoch)
	_ = pl.HandleMessage(1, fullMap(t, 1, last), epoch)
	_ = pl.HandleMessage(2, fullMap(t, 1, last), epoch)
	return pl, r, d
}

func TestPullTiming(t *testing.T) {
	pl, r, _ := twoNeighbours(t, DefaultConfig(), Limits{}, 10)
	if len(ofType(r.take(), TypePush)) == 0 {
		t.Error("no push request after the first maps")
	}
	tickTo(pl, at(10*time.Millisecond), at(2400*time.Millisecond))
	if p := pullIDs(r.take()); len(p) != 0 {
		t.Fatalf("pulled before the fetch period: %v", p)
	}
	tickTo(pl, at(2410*time.Millisecond), at(2600*time.Millisecond))
	first := pullIDs(r.take())
	if len(first) != 2 || first[9] == 0 || first[10] == 0 {
		t.Fatalf("first pull %v, want 9 and 10", first)
	}
	// Unanswered: after the timeout (FetchPeriod before any answer) each
	// goes to the other neighbour.
	tickTo(pl, at(2610*time.Millisecond), at(4990*time.Millisecond))
	if p := pullIDs(r.take()); len(p) != 0 {
		t.Fatalf("re-pulled too early: %v", p)
	}
	tickTo(pl, at(5000*time.Millisecond), at(5200*time.Millisecond))
	again := pullIDs(r.take())
	for id, to := range first {
		if again[id] == 0 || again[id] == to {
			t.Errorf("fragment %d re-pulled from %d after %d timed out (%v)", id, again[id], to, again)
		}
	}
	if st := pl.Stats(at(5200 * time.Millisecond)); st.PullTimeouts != 2 || st.PullsSent != 4 {
		t.Errorf("stats %+v", st)
	}
	// An answer is delivered and counted as requested from peers.
	for _, raw := range wholeFragments(9, 10) {
		_ = pl.HandleFragment(again[9], raw, at(5300*time.Millisecond))
	}
	if st := pl.Stats(at(5300 * time.Millisecond)); st.FragmentsRequestedFromPeers != 2 || st.MessagesDelivered != 2 || st.PendingPulls != 0 {
		t.Errorf("after answers %+v", st)
	}
}

func TestShorterFetchPeriodPullsSooner(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FetchPeriod = 500 * time.Millisecond
	pl, r, _ := twoNeighbours(t, cfg, Limits{}, 10)
	r.take()
	tickTo(pl, at(10*time.Millisecond), at(650*time.Millisecond))
	if p := pullIDs(r.take()); len(p) != 2 {
		t.Fatalf("pulls after 650 ms with a 500 ms fetch period: %v", p)
	}
}

func TestWindowGiveUpAndLate(t *testing.T) {
	pl, _, d := twoNeighbours(t, DefaultConfig(), Limits{}, 20)
	pl.Tick(at(100 * time.Millisecond))
	frags := wholeFragments(1, 20)
	for i, raw := range frags {
		if i != 5 { // fragment 6 never comes
			_ = pl.HandleFragment(1, raw, at(200*time.Millisecond))
		}
	}
	if len(d.ids) != 5 {
		t.Fatalf("delivered %v before the hole", d.ids)
	}
	tickTo(pl, at(300*time.Millisecond), at(7900*time.Millisecond))
	if len(d.ids) != 5 {
		t.Fatalf("gave up before the window: %v", d.ids)
	}
	tickTo(pl, at(7910*time.Millisecond), at(8300*time.Millisecond))
	if len(d.ids) != 19 || d.ids[5] != 7 {
		t.Fatalf("after the window delivered %v", d.ids)
	}
	_ = pl.HandleFragment(2, frags[5], at(8400*time.Millisecond))
	st := pl.Stats(at(8400 * time.Millisecond))
	if st.FragmentsLost != 1 || st.FragmentsLate != 1 || len(d.ids) != 19 {
		t.Errorf("lost %d late %d delivered %d", st.FragmentsLost, st.FragmentsLate, len(d.ids))
	}
	for i, m := range d.msgs {
		if m.Payload[2] != byte(d.ids[i]) {
			t.Fatalf("message %d carries %v", d.ids[i], m.Payload)
		}
	}
}

func TestShortWindowLosesLateFragments(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Window = time.Second // shorter than the fetch period: no pull can help
	pl, _, d := twoNeighbours(t, cfg, Limits{}, 20)
	pl.Tick(at(100 * time.Millisecond))
	frags := wholeFragments(1, 20)
	for i, raw := range frags {
		if i != 5 {
			_ = pl.HandleFragment(1, raw, at(200*time.Millisecond))
		}
	}
	tickTo(pl, at(300*time.Millisecond), at(1300*time.Millisecond))
	if len(d.ids) != 19 || pl.Stats(epoch).FragmentsLost != 1 || pl.Stats(epoch).PullsSent != 0 {
		t.Fatalf("delivered %d lost %d pulls %d", len(d.ids), pl.Stats(epoch).FragmentsLost, pl.Stats(epoch).PullsSent)
	}
}

func TestBadInputIgnoredAndCounted(t *testing.T) {
	pl, r, d := twoNeighbours(t, DefaultConfig(), Limits{}, 100)
	subscribe(t, pl, 3, epoch)
	pl.Tick(at(100 * time.Millisecond))
	now := at(200 * time.Millisecond)
	_ = pl.HandleMessage(3, fullMap(t, 1_000_000_000-64, 1_000_000_000), now) // far beyond
	_ = pl.HandleMessage(1, fullMap(t, 1, 90), now)                           // stale
	if err := pl.HandleMessage(1, []byte{0x2B}, now); err == nil {
		t.Error("no error for a truncated pull")
	}
	if err := pl.HandleMessage(1, nil, now); err == nil {
		t.Error("no error for an empty message")
	}
	if err := pl.HandleFragment(1, []byte{0x30, 0x81}, now); err == nil {
		t.Error("no error for a truncated fragment")
	}
	if err := pl.HandleMessage(99, Pull{ID: 1}.Append(nil), now); !errors.Is(err, ErrUnknownNeighbor) {
		t.Errorf("unknown neighbour: %v", err)
	}
	_ = pl.HandleFragment(3, wholeFragments(1_000_000_000, 1_000_000_000)[0], now) // beyond the horizon
	_ = pl.HandleMessage(1, Pull{ID: 42}.Append(nil), now)                         // never held
	_ = pl.HandleMessage(1, StreamEnd{LastFragment: 1 << 40}.Append(nil), now)     // end beyond the horizon
	st := pl.Stats(now)
	want := Stats{MapsForged: 1, MapsStale: 1, BadMessages: 3, UnknownNeighbor: 1, FragmentsBeyondHorizon: 1, PullsUnknown: 1, EndsIgnored: 1}
	if st.MapsForged != want.MapsForged || st.MapsStale != want.MapsStale || st.BadMessages != want.BadMessages ||
		st.UnknownNeighbor != want.UnknownNeighbor || st.FragmentsBeyondHorizon != want.FragmentsBeyondHorizon ||
		st.PullsUnknown != want.PullsUnknown || st.EndsIgnored != want.EndsIgnored {
		t.Errorf("counters %+v", st)
	}
	if len(onFlow(r.take(), FlowMedia)) != 0 || len(d.ids) != 0 {
		t.Error("bad input caused sends or deliveries")
	}
	// The stream goes on: real fragments are still taken.
	for _, raw := range wholeFragments(95, 100) {
		_ = pl.HandleFragment(2, raw, now)
	}
	if len(d.ids) != 6 {
		t.Errorf("delivered %v after bad input", d.ids)
	}

	pub, _ := newPublisher(t, DefaultConfig())
	subscribe(t, pub, 1, epoch)
	_ = pub.HandleFragment(1, wholeFragments(1, 1)[0], epoch)
	_ = pub.HandleMessage(1, fullMap(t, 1, 5), epoch)
	if st := pub.Stats(epoch); st.FragmentsUnsolicited != 1 || st.BufferedFragments != 0 {
		t.Errorf("publisher took a fragment: %+v", st)
	}
	if err := pub.Publish(media.Message{Type: 8, Payload: []byte{1}}, epoch); err != nil {
		t.Fatal(err)
	}
	if err := pl.Publish(media.Message{Type: 8, Payload: []byte{1}}, epoch); !errors.Is(err, ErrNotPublisher) {
		t.Errorf("player published: %v", err)
	}
}

func TestResyncAfterLoneLiar(t *testing.T) {
	pl, _, d := newPlayer(t, DefaultConfig(), Limits{})
	for id := NeighborID(1); id <= 3; id++ {
		subscribe(t, pl, id, epoch)
	}
	_ = pl.HandleMessage(3, fullMap(t, 1_000_000-64, 1_000_000), epoch) // speaks first
	pl.Tick(at(100 * time.Millisecond))
	_ = pl.HandleMessage(1, fullMap(t, 1, 100), at(150*time.Millisecond))
	_ = pl.HandleMessage(2, fullMap(t, 1, 100), at(150*time.Millisecond))
	pl.Tick(at(200 * time.Millisecond))
	st := pl.Stats(at(200 * time.Millisecond))
	if st.Resyncs != 1 || st.MapsForged != 1 {
		t.Fatalf("resyncs %d forged %d", st.Resyncs, st.MapsForged)
	}
	for _, raw := range wholeFragments(90, 100) {
		_ = pl.HandleFragment(1, raw, at(300*time.Millisecond))
	}
	if len(d.ids) != 11 {
		t.Errorf("delivered %v after the resync", d.ids)
	}
}

func TestLimits(t *testing.T) {
	pl, r, _ := newPlayer(t, DefaultConfig(), Limits{MaxNeighbors: 3, MaxPendingPulls: 16, MaxPullsPerNeighbor: 4})
	for id := NeighborID(1); id <= 3; id++ {
		subscribe(t, pl, id, epoch)
	}
	if err := pl.AddNeighbor(4, epoch); !errors.Is(err, ErrTooManyNeighbors) {
		t.Errorf("4th neighbour: %v", err)
	}
	if err := pl.AddNeighbor(0, epoch); !errors.Is(err, ErrNeighborID) {
		t.Errorf("neighbour 0: %v", err)
	}
	big := append(FragmentsMap{Last: 40000}.Append(nil), bytes.Repeat([]byte{0xFF}, 8000)...)
	for id := NeighborID(1); id <= 3; id++ {
		_ = pl.HandleMessage(id, big, epoch)
	}
	tickTo(pl, at(10*time.Millisecond), at(6*time.Second))
	st := pl.Stats(at(6 * time.Second))
	if st.MapsTruncated != 3 || st.PendingPulls > 16 {
		t.Errorf("truncated %d pending %d", st.MapsTruncated, st.PendingPulls)
	}
	for _, nb := range pl.neighbors {
		if len(nb.fmap.Bitmap) > MaxFragmentsMapBytes || nb.pulls > 4 {
			t.Errorf("neighbour %d: bitmap %d pulls %d", nb.id, len(nb.fmap.Bitmap), nb.pulls)
		}
	}
	if n := len(pullIDs(r.take())); n == 0 || n > 16*3 {
		t.Errorf("%d distinct pulls", n)
	}
}

func TestIngestFromServerAndIPMulticast(t *testing.T) {
	pl, _, d := newPlayer(t, DefaultConfig(), Limits{})
	subscribe(t, pl, 1, epoch)
	frags := wholeFragments(1, 4)
	_ = pl.IngestFragment(SourceServer, frags[0], epoch)
	_ = pl.IngestFragment(SourceServer, frags[1], epoch)
	_ = pl.IngestFragment(SourceIPMulticast, frags[2], epoch)
	if err := pl.IngestFragment(Source(9), frags[3], epoch); err == nil {
		t.Error("unknown source accepted")
	}
	st := pl.Stats(epoch)
	if st.FragmentsReceivedFromServer != 2 || st.BytesReceivedFromServer != 6 || st.FragmentsReceivedFromIPMulticast != 1 || len(d.ids) != 3 {
		t.Errorf("stats %+v delivered %v", st, d.ids)
	}
	if st.ReceiveDataBytesPerSecondFromServer != 0 {
		t.Error("rate before a complete bucket")
	}
	if r := pl.Stats(at(time.Second)).ReceiveDataBytesPerSecondFromServer; r <= 0 {
		t.Errorf("server rate %v", r)
	}
}

func TestEndOfStream(t *testing.T) {
	pub, r := newPublisher(t, DefaultConfig())
	subscribe(t, pub, 1, epoch)
	_ = pub.Publish(media.Message{Type: 8, Payload: []byte{1}}, epoch)
	r.take()
	_ = pub.Close(epoch)
	if ends := ofType(r.take(), TypeStreamInfo); len(ends) != 0 {
		t.Fatalf("end of stream sent at once: %+v", ends)
	}
	delay := DefaultConfig().endNoticeDelay()
	if dl, _ := pub.NextDeadline(); dl.After(at(delay)) {
		t.Errorf("next deadline %v after the notice is due", dl.Sub(epoch))
	}
	pub.Tick(at(delay))
	ends := ofType(r.take(), TypeStreamInfo)
	if len(ends) != 1 || !IsStreamEnd(ends[0].msg) || delay != 5*time.Second {
		t.Fatalf("end of stream %v after close: %+v", delay, ends)
	}
	if err := pub.Publish(media.Message{Type: 8, Payload: []byte{1}}, epoch); !errors.Is(err, ErrClosed) {
		t.Errorf("publish after close: %v", err)
	}

	pl, pr, d := twoNeighbours(t, DefaultConfig(), Limits{}, 3)
	pl.Tick(at(100 * time.Millisecond))
	for _, raw := range wholeFragments(1, 3) {
		_ = pl.HandleFragment(1, raw, at(150*time.Millisecond))
	}
	pr.take()
	_ = pl.HandleMessage(1, StreamEnd{LastFragment: 4}.Append(nil), at(200*time.Millisecond))
	relayed := ofType(pr.take(), TypeStreamInfo)
	if !d.end || len(relayed) != 1 || relayed[0].to != 2 {
		t.Errorf("end %v relayed %+v", d.end, relayed)
	}
}

func TestNextDeadline(t *testing.T) {
	pl, _, _ := newPlayer(t, DefaultConfig(), Limits{})
	if _, ok := pl.NextDeadline(); ok {
		t.Error("deadline without neighbours")
	}
	_ = pl.AddNeighbor(1, epoch)
	d, ok := pl.NextDeadline()
	if !ok || !d.Equal(at(PullPeriod)) {
		t.Errorf("deadline %v %v", d.Sub(epoch), ok)
	}
	pl.Tick(d)
	if d2, _ := pl.NextDeadline(); !d2.After(d) {
		t.Errorf("deadline did not move: %v", d2.Sub(epoch))
	}
	pub, _ := newPublisher(t, DefaultConfig())
	_ = pub.AddNeighbor(1, epoch)
	if d, _ := pub.NextDeadline(); !d.Equal(at(100 * time.Millisecond)) {
		t.Errorf("publisher deadline %v", d.Sub(epoch))
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	for i := range 40 { // 1000 bytes every 100 ms for 4 s
		m.add(at(time.Duration(i)*100*time.Millisecond), 1000)
	}
	if r := m.rate(at(4 * time.Second)); r < 9000 || r > 11000 {
		t.Errorf("rate %v, want about 10000", r)
	}
	if r := m.rate(at(20 * time.Second)); r != 0 {
		t.Errorf("rate after silence %v", r)
	}
}

func TestRemoveNeighbor(t *testing.T) {
	pl, r, _ := twoNeighbours(t, DefaultConfig(), Limits{}, 10)
	tickTo(pl, at(10*time.Millisecond), at(2600*time.Millisecond))
	first := pullIDs(r.take())
	gone := first[10]
	pl.RemoveNeighbor(gone, at(2600*time.Millisecond))
	pl.RemoveNeighbor(gone, at(2600*time.Millisecond))
	tickTo(pl, at(2610*time.Millisecond), at(2700*time.Millisecond))
	again := pullIDs(r.take())
	if again[10] == 0 || again[10] == gone || pl.Neighbors() != 1 {
		t.Errorf("pull of 10 not moved off the removed neighbour: %v", again)
	}
}

// TestClosedEmptyPublisherDeadlines: a publisher closed after its buffer
// emptied keeps moving its deadlines forward (a deadline left in the past
// would spin its caller's timer) and still tells the end.
func TestClosedEmptyPublisherDeadlines(t *testing.T) {
	pub, r := newPublisher(t, DefaultConfig())
	subscribe(t, pub, 1, epoch)
	_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, 2}}, epoch)
	now := at(20 * time.Second)
	pub.Tick(now) // the buffer ages out
	_ = pub.Close(now)
	r.take()
	for range 200 {
		d, ok := pub.NextDeadline()
		if !ok || !d.After(now) {
			t.Fatalf("deadline %v at %v", d.Sub(epoch), now.Sub(epoch))
		}
		now = d
		pub.Tick(now)
		if now.Sub(at(20*time.Second)) > DefaultConfig().endNoticeDelay() {
			break
		}
	}
	if ends := ofType(r.take(), TypeStreamInfo); len(ends) != 1 {
		t.Errorf("%d ends told", len(ends))
	}
}
