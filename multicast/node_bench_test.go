package multicast

import (
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

type discard struct{}

func (discard) Send(NeighborID, Flow, []byte) {}

// relayNode is a player with 25 neighbours showing the stream, four of
// which ask for every fragment to be pushed.
func relayNode(now time.Time) *Node {
	n := NewNode(NodeConfig{Name: "s", Key: testKey, Transport: discard{}, Deliver: func(uint64, media.Message) {}})
	for id := NeighborID(1); id <= 25; id++ {
		_ = n.AddNeighbor(id, now)
		_ = n.HandleMessage(id, infoMsg(), now)
		_ = n.HandleMessage(id, FragmentsMap{Last: 1}.Append(nil), now)
		if id <= 4 {
			_ = n.HandleMessage(id, Push{Mask: 0xFF}.Append(nil), now)
		}
	}
	n.Tick(now.Add(PullPeriod))
	return n
}

// BenchmarkRelayFragment measures a player receiving one new 959-byte
// fragment from a neighbour, reassembling it and pushing it on to four
// requesters, with a pull round every 100 fragments.
func BenchmarkRelayFragment(b *testing.B) {
	now := epoch
	n := relayNode(now)
	payload := make([]byte, DefaultMaxFragmentPayload)
	const batch = 1 << 16
	frags := make([][]byte, batch)
	for i := range frags {
		frags[i] = Fragment{Marker: TypeFragmentWhole, ID: uint64(i + 1), MediaType: media.TypeVideo, Payload: payload}.Append(nil)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frags[0])))
	i := 0
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			checkRelayed(b, n, batch)
			n, i = relayNode(now), 0
			b.StartTimer()
		}
		now = now.Add(7 * time.Millisecond)
		if err := n.HandleFragment(NeighborID(5+i%20), frags[i], now); err != nil {
			b.Fatal(err)
		}
		if i%100 == 0 {
			n.Tick(now)
		}
		i++
	}
	b.StopTimer()
	checkRelayed(b, n, i)
}

func checkRelayed(b *testing.B, n *Node, count int) {
	st := n.Stats(epoch)
	if st.MessagesDelivered != uint64(count) || st.FragmentsPushedToPeers != 4*uint64(count) {
		b.Fatalf("%d fragments: delivered %d, pushed %d, beyond horizon %d", count, st.MessagesDelivered, st.FragmentsPushedToPeers, st.FragmentsBeyondHorizon)
	}
}

// BenchmarkPublish measures the publisher cutting a 4 KB video frame into
// five fragments and pushing each to four neighbours.
func BenchmarkPublish(b *testing.B) {
	n := NewNode(NodeConfig{Name: "s", Key: testKey, Publisher: true, Transport: discard{}})
	now := epoch
	for id := NeighborID(1); id <= 5; id++ {
		_ = n.AddNeighbor(id, now)
		_ = n.HandleMessage(id, infoMsg(), now)
		_ = n.HandleMessage(id, Push{Mask: 0xFF}.Append(nil), now)
	}
	m := media.Message{Type: media.TypeVideo, Payload: make([]byte, 4000)}
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Payload)))
	for i := 0; b.Loop(); i++ {
		now = now.Add(40 * time.Millisecond)
		if err := n.Publish(m, now); err != nil {
			b.Fatal(err)
		}
		if i%3 == 0 {
			n.Tick(now)
		}
	}
}
