package multicast

import (
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// FuzzNode drives a player and a publisher with an arbitrary sequence of
// operations (report messages, fragments, ticks, neighbour changes,
// publications) and checks that nothing panics and every bound holds.
//
// Encoding: op byte, neighbour byte, then for messages a length byte and
// that many bytes.
func FuzzNode(f *testing.F) {
	for _, v := range vectors {
		b := unhex(f, v.hex)
		f.Add(append([]byte{3, 1, 3, 2, 0, 1, byte(len(b))}, b...))
		f.Add(append([]byte{3, 1, 1, 1, byte(len(b))}, b...))
	}
	info := infoMsg()
	seed := []byte{3, 1, 3, 2, 0, 1, byte(len(info))}
	seed = append(seed, info...)
	for _, m := range [][]byte{FragmentsMap{Last: 50, Bitmap: []byte{0xFF, 0xFF}}.Append(nil), Push{Mask: 0xFF}.Append(nil), Pull{ID: 3}.Append(nil)} {
		seed = append(append(seed, 0, 1, byte(len(m))), m...)
		seed = append(append(seed, 0, 2, byte(len(m))), m...)
	}
	seed = append(seed, 5, 0, 2, 200, 2, 250, 2, 250)
	for _, raw := range wholeFragments(40, 45) {
		seed = append(append(seed, 1, 2, byte(len(raw))), raw...)
	}
	f.Add(append(seed, 2, 255, 2, 255, 4, 1, 2, 100))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, ops []byte) {
	{
		lim := Limits{MaxNeighbors: 4, MaxBufferedFragments: 256, MaxBufferedBytes: 64 << 10, MaxPendingPulls: 32, MaxPullsPerNeighbor: 8, MaxPullsPerRound: 16}
		pl, _, _ := newPlayer(t, DefaultConfig(), lim)
		pubr := &recorder{}
		pub := NewNode(NodeConfig{Name: "s", Key: testKey, Publisher: true, Transport: pubr, Limits: lim})
		now := epoch
		for len(ops) >= 2 {
			op, nb := ops[0]%6, NeighborID(ops[1]%6)
			ops = ops[2:]
			var msg []byte
			if op <= 1 && len(ops) > 0 {
				n := min(int(ops[0]), len(ops)-1)
				msg, ops = append([]byte(nil), ops[1:1+n]...), ops[1+n:]
			}
			for _, n := range []*Node{pl, pub} {
				switch op {
				case 0:
					_ = n.HandleMessage(nb, msg, now)
				case 1:
					_ = n.HandleFragment(nb, append([]byte(nil), msg...), now)
				case 2:
					n.Tick(now)
				case 3:
					_ = n.AddNeighbor(nb, now)
				case 4:
					n.RemoveNeighbor(nb, now)
				case 5:
					_ = n.Publish(media.Message{Type: media.TypeVideo, Payload: make([]byte, 1+int(nb)*700)}, now)
				}
				checkBounds(t, n, lim)
			}
			if op == 2 {
				now = now.Add(time.Duration(nb+1) * 700 * time.Millisecond)
			}
			pubr.take()
		}
	}
}

func checkBounds(t *testing.T, n *Node, lim Limits) {
	lim = lim.withDefaults()
	if n.buf.count > len(n.buf.slots) || n.buf.bytes > lim.MaxBufferedBytes && n.buf.count > 1 || n.buf.count < 0 || n.buf.bytes < 0 {
		t.Fatalf("buffer %d fragments %d bytes", n.buf.count, n.buf.bytes)
	}
	if len(n.pending) > lim.MaxPendingPulls || len(n.neighbors) > lim.MaxNeighbors || len(n.hz.entries) > maxHorizonEntries {
		t.Fatalf("pending %d neighbours %d horizon %d", len(n.pending), len(n.neighbors), len(n.hz.entries))
	}
	for _, nb := range n.neighbors {
		if len(nb.fmap.Bitmap) > MaxFragmentsMapBytes || nb.pulls < 0 || nb.pulls > lim.MaxPullsPerNeighbor {
			t.Fatalf("neighbour %d: bitmap %d pulls %d", nb.id, len(nb.fmap.Bitmap), nb.pulls)
		}
	}
	for b, q := range n.pushQueue {
		for _, id := range q {
			if nb := n.neighbors[id]; nb == nil || nb.pushOut&(1<<b) == 0 {
				t.Fatalf("push queue %d holds %d", b, id)
			}
		}
	}
}
