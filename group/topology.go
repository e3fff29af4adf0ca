package group

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Topology constants of librtmfp's model of Flash (rtmfp-facts §6.6).
const (
	// BestListInterval is how often a member recomputes its best list.
	BestListInterval = 10 * time.Second
	// ReportInterval is how often a member sends a group report to one
	// random neighbour.
	ReportInterval = 10 * time.Second
	// PeerTimeout is how long a heard-of peer is kept after the last
	// report that mentioned it; reports with an elapsed time at or above
	// it are ignored.
	PeerTimeout = 300 * time.Second
	// AskCloseInterval is the minimum delay between two ask-close
	// messages.
	AskCloseInterval = 90 * time.Second
	// bestListRingPeers, bestListLatencyPeers: sizes of the two fixed parts
	// of the best list.
	bestListRingPeers    = 6
	bestListLatencyPeers = 6
)

// EstimatedMemberCount estimates the group size from the ring around me the
// way librtmfp does (it says: like Flash's NetGroup.estimatedMemberCount):
// with the second predecessor P and the second successor S of me among
// others (me excluded), N = (2^64−1) / (d/4) + 1 where d is the distance from
// P to S on the first 64 bits of their addresses. With fewer than 4 others,
// the estimate is the number of others. others need not be sorted; entries
// equal to me are ignored.
func EstimatedMemberCount(me Address, others []Address) float64 {
	ring := make([]Address, 0, len(others))
	for _, a := range others {
		if a != me {
			ring = append(ring, a)
		}
	}
	if len(ring) < 4 {
		return float64(len(ring))
	}
	slices.SortFunc(ring, Address.Compare)
	ring = slices.Compact(ring)
	n := len(ring)
	if n < 4 {
		return float64(n)
	}
	// i is the first successor of me.
	i, _ := slices.BinarySearchFunc(ring, me, Address.Compare)
	first := ring[((i-2)%n+n)%n].Prefix64()
	last := ring[(i+1)%n].Prefix64()
	d := last - first // modular, like librtmfp's unsigned arithmetic
	if last <= first {
		d-- // librtmfp adds 2^64−1 instead of 2^64 on wrap-around
	}
	if d == 0 {
		return math.Inf(1)
	}
	return float64(math.MaxUint64)/(float64(d)/4) + 1
}

// TargetNeighborCount is the number of neighbours a member aims for in a
// group of about n members: floor(log2(n)) + 13 (librtmfp
// NetGroup::TargetNeighborsCount). For n < 1 it is 13.
func TargetNeighborCount(n float64) int {
	if !(n >= 1) {
		return 13
	}
	if math.IsInf(n, 1) {
		return 13 + 64
	}
	return int(math.Floor(math.Log2(n))) + 13
}

// Candidate is a known group member offered to BestList.
type Candidate struct {
	ID      profile.PeerID
	Address Address
	// Connected is set for members with an open P2P session; Latency is
	// then that session's round-trip estimate.
	Connected bool
	Latency   time.Duration
}

// BestList computes the set of peers a member at subject should be
// connected to (rtmfp-facts §6.6, librtmfp NetGroup::buildBestList):
//
//   - with at most 6 candidates: all of them;
//   - otherwise the 2 ring predecessors and 4 successors of subject, the 6
//     connected candidates with the lowest latency, one random candidate not
//     yet chosen, then "finger" candidates at ring offsets size/2^k
//     (k decreasing) until TargetNeighborCount(EstimatedMemberCount) is
//     reached or no candidate is left.
//
// Candidates at the subject's own address are ignored, as are duplicates.
// The result is in ring order. rnd makes the random pick reproducible; nil
// uses the global source.
//
// Deliberate differences from librtmfp, which show up only in corner cases:
// librtmfp skips the lowest-latency peer (its loop advances before reading),
// starts the ring part one step further back when subject lies after every
// candidate, and lists the subject itself when it knows at most 6 members
// (seen in c_netgroup's reports). This function does none of these.
func BestList(subject Address, candidates []Candidate, rnd *rand.Rand) []Candidate {
	ring := make([]Candidate, 0, len(candidates))
	for _, c := range candidates {
		if c.Address != subject {
			ring = append(ring, c)
		}
	}
	slices.SortFunc(ring, func(a, b Candidate) int { return a.Address.Compare(b.Address) })
	ring = slices.CompactFunc(ring, func(a, b Candidate) bool { return a.Address == b.Address })
	n := len(ring)
	if n <= bestListRingPeers {
		return ring
	}
	chosen := make([]bool, n)
	count := 0
	pick := func(i int) bool {
		if chosen[i] {
			return false
		}
		chosen[i] = true
		count++
		return true
	}
	// Ring neighbours: start two before the first successor.
	succ, _ := slices.BinarySearchFunc(ring, subject, func(c Candidate, a Address) int { return c.Address.Compare(a) })
	for k := 0; k < bestListRingPeers; k++ {
		pick(((succ-2+k)%n + n) % n)
	}
	// Lowest latencies among connected candidates.
	var byLatency []int
	for i, c := range ring {
		if c.Connected {
			byLatency = append(byLatency, i)
		}
	}
	slices.SortStableFunc(byLatency, func(a, b int) int {
		return cmp.Compare(ring[a].Latency, ring[b].Latency)
	})
	for _, i := range byLatency[:min(len(byLatency), bestListLatencyPeers)] {
		pick(i)
	}
	// One random candidate not yet chosen.
	var free []int
	for i := range ring {
		if !chosen[i] {
			free = append(free, i)
		}
	}
	if len(free) > 0 {
		var r int
		if rnd != nil {
			r = rnd.IntN(len(free))
		} else {
			r = rand.IntN(len(free))
		}
		pick(free[r])
	}
	// Fingers at size/2^missing, cumulative from the first successor.
	addrs := make([]Address, n)
	for i, c := range ring {
		addrs[i] = c.Address
	}
	target := min(TargetNeighborCount(EstimatedMemberCount(subject, addrs)), n)
	pos := succ % n
	for missing := target - count; missing > 0 && count < n; missing = target - count {
		step := 0
		if missing < 63 {
			step = n >> missing
		}
		pos = (pos + step) % n
		for chosen[pos] {
			pos = (pos + 1) % n
		}
		pick(pos)
	}
	out := make([]Candidate, 0, count)
	for i, c := range ring {
		if chosen[i] {
			out = append(out, c)
		}
	}
	return out
}
