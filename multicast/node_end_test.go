package multicast

import (
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// mediaIDs returns the IDs of the fragments sent to neighbour id.
func mediaIDs(t *testing.T, msgs []sentMsg, id NeighborID) []uint64 {
	t.Helper()
	var out []uint64
	for _, m := range onFlow(msgs, FlowMedia) {
		if m.to != id {
			continue
		}
		f, err := ParseFragment(m.msg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f.ID)
	}
	return out
}

// mapLacking is the map of a neighbour holding first..last but the IDs in
// lack.
func mapLacking(t *testing.T, first, last uint64, lack ...uint64) []byte {
	t.Helper()
	m := NewFragmentsMap(last)
	for id := first; id < last; id++ {
		if !containsID(lack, id) {
			if err := m.Set(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m.Append(nil)
}

func containsID(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// TestEndPush: endPushWait after Close, a publisher pushes each neighbour
// the last fragments its latest map lacks, whatever its push mask, once;
// a neighbour whose first map comes later is pushed on that map; maps
// naming the end of stream (librtmfp's, once it knows the end) are not
// used, nor are fragments older than endPushSpan before the close.
func TestEndPush(t *testing.T) {
	cfg := DefaultConfig()
	pub, r := newPublisher(t, cfg)
	for id := NeighborID(1); id <= 4; id++ {
		subscribe(t, pub, id, epoch)
	}
	// 1..10 at 0 s (before the span), 11..30 one every 100 ms from 4 s.
	for i := range 10 {
		_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, byte(i)}}, epoch)
	}
	for i := range 20 {
		_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, byte(i)}}, at(4*time.Second+time.Duration(i)*100*time.Millisecond))
	}
	closeAt := at(6 * time.Second)
	_ = pub.HandleMessage(1, mapLacking(t, 1, 30), closeAt)
	_ = pub.HandleMessage(2, mapLacking(t, 1, 28, 5, 12, 25), closeAt)
	_ = pub.HandleMessage(4, mapLacking(t, 1, 30, 20), closeAt)
	_ = pub.Close(closeAt)
	// Neighbour 4 learns the end and names it in its maps: not used.
	_ = pub.HandleMessage(4, mapLacking(t, 1, 31, 20, 21), closeAt.Add(time.Second))
	r.take()
	wait := cfg.endPushWait()
	tickTo(pub, closeAt, closeAt.Add(wait-10*time.Millisecond))
	if got := onFlow(r.take(), FlowMedia); len(got) != 0 {
		t.Fatalf("%d fragments before endPushWait", len(got))
	}
	tickTo(pub, closeAt.Add(wait), closeAt.Add(wait))
	out := r.take()
	if got := mediaIDs(t, out, 1); len(got) != 0 {
		t.Errorf("neighbour with everything pushed %v", got)
	}
	if got := mediaIDs(t, out, 2); len(got) != 4 || got[0] != 12 || got[1] != 25 || got[2] != 29 || got[3] != 30 {
		t.Errorf("neighbour 2 pushed %v, want [12 25 29 30] (5 is older than the span)", got)
	}
	if got := mediaIDs(t, out, 4); len(got) != 1 || got[0] != 20 {
		t.Errorf("neighbour 4 pushed %v, want [20] (its map naming the end ignored)", got)
	}
	if got := mediaIDs(t, out, 3); len(got) != 0 {
		t.Errorf("neighbour without a map pushed %v", got)
	}
	_ = pub.HandleMessage(3, mapLacking(t, 1, 29, 15), closeAt.Add(wait+time.Second))
	if got := mediaIDs(t, r.take(), 3); len(got) != 2 || got[0] != 15 || got[1] != 30 {
		t.Errorf("neighbour 3 pushed %v on its first map, want [15 30]", got)
	}
	_ = pub.HandleMessage(2, mapLacking(t, 1, 30, 12), closeAt.Add(wait+time.Second))
	tickTo(pub, closeAt.Add(wait), closeAt.Add(wait+2*time.Second))
	if got := onFlow(r.take(), FlowMedia); len(got) != 0 {
		t.Errorf("%d fragments pushed again", len(got))
	}
	if st := pub.Stats(closeAt.Add(wait)); st.FragmentsEndPushed != 7 {
		t.Errorf("FragmentsEndPushed %d, want 7", st.FragmentsEndPushed)
	}
}

// TestPublisherMapsEveryFetchPeriod: with more neighbours than update
// periods in a fetch period, a publisher still maps each neighbour at
// least once a fetch period (in turn alone: once every 40 rounds here).
func TestPublisherMapsEveryFetchPeriod(t *testing.T) {
	cfg := DefaultConfig()
	pub, r := newPublisher(t, cfg)
	const n = 40
	for id := NeighborID(1); id <= n; id++ {
		subscribe(t, pub, id, epoch)
	}
	last := map[NeighborID]time.Time{}
	var worst time.Duration
	for i := range 100 {
		now := at(time.Duration(i) * 100 * time.Millisecond)
		_ = pub.Publish(media.Message{Type: media.TypeAudio, Payload: []byte{0xAF, 1, byte(i)}}, now)
		pub.Tick(now)
		for _, m := range ofType(r.take(), TypeFragmentsMap) {
			if l, ok := last[m.to]; ok {
				worst = max(worst, now.Sub(l))
			}
			last[m.to] = now
		}
	}
	if len(last) != n || worst > cfg.FetchPeriod+100*time.Millisecond {
		t.Errorf("%d neighbours mapped, longest gap %v (fetch period %v)", len(last), worst, cfg.FetchPeriod)
	}
}

// TestPlayerAnnouncesAdoptedParameters: a player tuned unlike the
// publisher announces the parameters of the stream info it adopted, as
// librtmfp does, not its own.
func TestPlayerAnnouncesAdoptedParameters(t *testing.T) {
	tunedCfg := DefaultConfig()
	tunedCfg.Window, tunedCfg.FetchPeriod = 2*time.Second, 500*time.Millisecond
	pl, r, _ := newPlayer(t, tunedCfg, Limits{})
	subscribe(t, pl, 1, epoch)
	if err := pl.AddNeighbor(2, epoch); err != nil {
		t.Fatal(err)
	}
	infos := ofType(r.take(), TypeStreamInfo)
	if len(infos) == 0 {
		t.Fatal("no stream info announced")
	}
	for _, m := range infos {
		si, err := DecodeReport(m.msg)
		if err != nil {
			t.Fatal(err)
		}
		c := si.(StreamInfo).Config()
		if c.Window != DefaultConfig().Window || c.FetchPeriod != DefaultConfig().FetchPeriod {
			t.Errorf("announced to %d window %v fetch %v, want the publisher's", m.to, c.Window, c.FetchPeriod)
		}
	}
	if pl.Config().Window != tunedCfg.Window {
		t.Errorf("own window %v", pl.Config().Window)
	}
}
