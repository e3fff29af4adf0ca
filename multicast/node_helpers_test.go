package multicast

import (
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// sentMsg is one message a node handed to its transport.
type sentMsg struct {
	to   NeighborID
	flow Flow
	msg  []byte
}

// recorder is a Transport that keeps copies of what is sent.
type recorder struct{ out []sentMsg }

func (r *recorder) Send(to NeighborID, flow Flow, msg []byte) {
	r.out = append(r.out, sentMsg{to, flow, append([]byte(nil), msg...)})
}

// take returns and forgets the recorded messages.
func (r *recorder) take() []sentMsg {
	out := r.out
	r.out = nil
	return out
}

// ofType keeps the messages whose first byte is typ (fragments: any
// fragment marker when typ is TypeFragmentWhole and flow is media).
func ofType(msgs []sentMsg, typ byte) []sentMsg {
	var out []sentMsg
	for _, m := range msgs {
		if len(m.msg) > 0 && m.msg[0] == typ {
			out = append(out, m)
		}
	}
	return out
}

func onFlow(msgs []sentMsg, flow Flow) []sentMsg {
	var out []sentMsg
	for _, m := range msgs {
		if m.flow == flow {
			out = append(out, m)
		}
	}
	return out
}

var epoch = time.Unix(1_700_000_000, 0)

func at(d time.Duration) time.Time { return epoch.Add(d) }

var testKey = StreamKey{1, 2, 3}

func newPublisher(t testing.TB, cfg Config) (*Node, *recorder) {
	t.Helper()
	r := &recorder{}
	return NewNode(NodeConfig{Config: cfg, Name: "s", Key: testKey, Publisher: true, Transport: r, Seed: 1}), r
}

type delivered struct {
	ids  []uint64
	msgs []media.Message
	end  bool
}

func newPlayer(t testing.TB, cfg Config, lim Limits) (*Node, *recorder, *delivered) {
	t.Helper()
	r := &recorder{}
	d := &delivered{}
	n := NewNode(NodeConfig{
		Config: cfg, Name: "s", Transport: r, Seed: 2, Limits: lim,
		Deliver: func(id uint64, m media.Message) { d.ids = append(d.ids, id); d.msgs = append(d.msgs, m) },
		OnEnd:   func() { d.end = true },
	})
	return n, r, d
}

func infoMsg() []byte { return NewStreamInfo("s", testKey, DefaultConfig()).Append(nil) }

// subscribe makes neighbour id of n announce the stream.
func subscribe(t testing.TB, n *Node, id NeighborID, now time.Time) {
	t.Helper()
	if err := n.AddNeighbor(id, now); err != nil {
		t.Fatal(err)
	}
	if err := n.HandleMessage(id, infoMsg(), now); err != nil {
		t.Fatal(err)
	}
}

// fullMap is the map of a neighbour holding first..last.
func fullMap(t testing.TB, first, last uint64) []byte {
	t.Helper()
	m, err := FullFragmentsMap(first, last)
	if err != nil {
		t.Fatal(err)
	}
	return m.Append(nil)
}

// wholeFragments returns fragments first..last, one small message each.
func wholeFragments(first, last uint64) [][]byte {
	var out [][]byte
	for id := first; id <= last; id++ {
		f := Fragment{Marker: TypeFragmentWhole, ID: id, MediaType: media.TypeAudio, Time: uint32(id), Payload: []byte{0xAF, 1, byte(id)}}
		out = append(out, f.Append(nil))
	}
	return out
}

// tickTo ticks n every 10 ms from `from` up to `to`.
func tickTo(n *Node, from, to time.Time) {
	for t := from; !t.After(to); t = t.Add(10 * time.Millisecond) {
		n.Tick(t)
	}
}

func pullIDs(msgs []sentMsg) map[uint64]NeighborID {
	out := map[uint64]NeighborID{}
	for _, m := range ofType(msgs, TypePull) {
		p, err := ParsePull(m.msg)
		if err == nil {
			out[p.ID] = m.to
		}
	}
	return out
}
