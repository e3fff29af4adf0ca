package group

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

func TestAddressOfKnownAnswer(t *testing.T) {
	// SHA-256(21 0F ‖ peer ID) of the c_netgroup publisher, computed
	// independently.
	const want = "a9cd29d844c0c4d08e361a01ba83937d4c7da47e68795d8486f3d058af48776f"
	if got := AddressOf(tracePublisher).String(); got != want {
		t.Errorf("group address %s, want %s", got, want)
	}
	raw := RawPeerID(tracePublisher)
	if id, ok := ParseRawPeerID(raw[:]); !ok || id != tracePublisher {
		t.Error("raw peer ID round trip")
	}
	if _, ok := ParseRawPeerID(raw[1:]); ok {
		t.Error("short raw peer ID accepted")
	}
}

func addrWithPrefix(p uint64, tail byte) Address {
	var a Address
	binary.BigEndian.PutUint64(a[:], p)
	a[31] = tail
	return a
}

func TestClockwiseAndDistance(t *testing.T) {
	var zero, one, max Address
	one[31] = 1
	for i := range max {
		max[i] = 0xFF
	}
	carry := addrWithPrefix(0, 0)
	carry[23] = 1 // 2^64
	below := addrWithPrefix(0, 0)
	for i := 24; i < 32; i++ {
		below[i] = 0xFF // 2^64 − 1
	}
	cases := []struct{ from, to, want Address }{
		{zero, zero, zero},
		{zero, one, one},
		{one, zero, max},
		{below, carry, one},
	}
	for _, c := range cases {
		if got := Clockwise(c.from, c.to); got != c.want {
			t.Errorf("Clockwise(%s, %s) = %s", c.from, c.to, got)
		}
	}
	if Distance(one, zero) != one || Distance(zero, one) != one {
		t.Error("Distance picks the short way")
	}
}

func TestEstimatedMemberCount(t *testing.T) {
	// 16 members evenly spaced on the 64-bit prefix ring.
	var others []Address
	for k := range uint64(16) {
		others = append(others, addrWithPrefix(k<<60, 7))
	}
	cases := []struct {
		me   uint64
		want float64
	}{
		// Between members 8 and 9: P2 = 7, S2 = 10, d = 3·2^60, N = 2^64/(3·2^58)+1.
		{8<<60 + 1<<59, 64.0/3 + 1},
		// After every member: P2 = 14, S2 = 1 (wrap-around).
		{15<<60 + 1<<59, 64.0/3 + 1},
		// Before every member: P2 = 14, S2 = 1 as well.
		{0, 64.0/3 + 1},
	}
	for _, c := range cases {
		me := addrWithPrefix(c.me, 1)
		got := EstimatedMemberCount(me, others)
		if math.Abs(got-c.want) > 1e-9 {
			t.Errorf("me=%x: N = %v, want %v", c.me, got, c.want)
		}
	}
	if got := EstimatedMemberCount(others[0], others[:4]); got != 3 {
		t.Errorf("small group: %v, want 3 (me excluded)", got)
	}
	if got := EstimatedMemberCount(others[0], nil); got != 0 {
		t.Errorf("empty group: %v", got)
	}
}

func TestTargetNeighborCount(t *testing.T) {
	for _, c := range []struct {
		n    float64
		want int
	}{{0, 13}, {1, 13}, {1.99, 13}, {2, 14}, {22.3, 17}, {1024, 23}, {math.NaN(), 13}, {math.Inf(1), 77}} {
		if got := TargetNeighborCount(c.n); got != c.want {
			t.Errorf("TargetNeighborCount(%v) = %d, want %d", c.n, got, c.want)
		}
	}
}

func candidates(n int, rnd *rand.Rand) []Candidate {
	out := make([]Candidate, n)
	for i := range out {
		var id profile.PeerID
		binary.BigEndian.PutUint64(id[:], rnd.Uint64())
		out[i] = Candidate{ID: id, Address: AddressOf(id), Connected: i%2 == 0, Latency: time.Duration(rnd.IntN(500)) * time.Millisecond}
	}
	return out
}

func TestBestListSmallGroup(t *testing.T) {
	cs := candidates(7, rand.New(rand.NewPCG(1, 2)))
	subject := cs[3].Address
	got := BestList(subject, append(cs, cs[0]), nil) // subject and a duplicate are dropped
	if len(got) != 6 {
		t.Fatalf("%d peers, want the 6 others", len(got))
	}
	for _, c := range got {
		if c.Address == subject {
			t.Error("subject in its own best list")
		}
	}
	if !slices.IsSortedFunc(got, func(a, b Candidate) int { return a.Address.Compare(b.Address) }) {
		t.Error("not in ring order")
	}
}

func TestBestListLargeGroup(t *testing.T) {
	for _, n := range []int{7, 12, 40, 300} {
		cs := candidates(n, rand.New(rand.NewPCG(uint64(n), 9)))
		var me profile.PeerID
		me[0] = 0x42
		subject := AddressOf(me)
		got := BestList(subject, cs, rand.New(rand.NewPCG(5, 5)))
		again := BestList(subject, cs, rand.New(rand.NewPCG(5, 5)))
		if !slices.Equal(got, again) {
			t.Errorf("n=%d: not deterministic for a given seed", n)
		}
		addrs := make([]Address, n)
		for i, c := range cs {
			addrs[i] = c.Address
		}
		want := min(TargetNeighborCount(EstimatedMemberCount(subject, addrs)), n)
		if len(got) != want {
			t.Errorf("n=%d: %d peers, want %d", n, len(got), want)
		}
		in := map[Address]bool{}
		for _, c := range got {
			in[c.Address] = true
		}
		// The 2 predecessors and 4 successors are in.
		ring := slices.Clone(cs)
		slices.SortFunc(ring, func(a, b Candidate) int { return a.Address.Compare(b.Address) })
		succ, _ := slices.BinarySearchFunc(ring, subject, func(c Candidate, a Address) int { return c.Address.Compare(a) })
		for k := -2; k < 4; k++ {
			if c := ring[((succ+k)%n+n)%n]; !in[c.Address] {
				t.Errorf("n=%d: ring neighbour %+d missing", n, k)
			}
		}
		// The 6 fastest connected peers are in.
		var conn []Candidate
		for _, c := range cs {
			if c.Connected {
				conn = append(conn, c)
			}
		}
		slices.SortStableFunc(conn, func(a, b Candidate) int { return int(a.Latency - b.Latency) })
		for _, c := range conn[:min(6, len(conn))] {
			if c.Latency < conn[min(6, len(conn))-1].Latency && !in[c.Address] {
				t.Errorf("n=%d: fast peer (%v) missing", n, c.Latency)
			}
		}
	}
}

func TestRing(t *testing.T) {
	var r Ring
	cs := candidates(10, rand.New(rand.NewPCG(3, 4)))
	for _, c := range cs {
		if !r.Add(c.ID) {
			t.Fatal("Add reported a duplicate")
		}
	}
	if r.Add(cs[0].ID) || r.Len() != 10 || !r.Contains(cs[5].ID) {
		t.Fatal("duplicate add or lookup")
	}
	ms := r.Members()
	if !slices.IsSortedFunc(ms, func(a, b Node) int { return a.Address.Compare(b.Address) }) {
		t.Fatal("ring not sorted")
	}
	// Neighbours of the 3rd member: 3 after then 3 before.
	nb := r.Neighbours(ms[2].Address, 3, 3)
	want := []Node{ms[3], ms[4], ms[5], ms[1], ms[0], ms[9]}
	if !slices.Equal(nb, want) {
		t.Errorf("neighbours %v", nb)
	}
	// A small ring never repeats a member.
	var small Ring
	small.Add(cs[0].ID)
	small.Add(cs[1].ID)
	if got := small.Neighbours(AddressOf(cs[0].ID), 3, 3); len(got) != 1 || got[0].ID != cs[1].ID {
		t.Errorf("small ring neighbours %v", got)
	}
	if got := small.Neighbours(addrWithPrefix(1, 1), 3, 3); len(got) != 2 {
		t.Errorf("outsider neighbours %v", got)
	}
	if !r.Remove(cs[5].ID) || r.Remove(cs[5].ID) || r.Len() != 9 {
		t.Error("Remove")
	}
}
