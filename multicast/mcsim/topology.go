package mcsim

import (
	"slices"
	"time"
)

// buildTopology connects the peers like a NetGroup mesh: each peer to its
// two ring neighbours, then to random others until it has Degree
// neighbours (a peer may end up with up to 1.5·Degree, as in a NetGroup
// where others pick it too); the publisher to PublisherDegree random
// peers. Every link gets a one-way delay drawn uniformly in [MinDelay,
// MaxDelay], the same both ways.
func (s *Sim) buildTopology() {
	n := s.cfg.Peers
	if n == 0 {
		return
	}
	connect := func(a, b int32) {
		if a == b {
			return
		}
		if _, ok := s.nodes[a].links[b]; ok {
			return
		}
		d := s.cfg.MinDelay + time.Duration(s.rng.Int64N(int64(s.cfg.MaxDelay-s.cfg.MinDelay)+1))
		s.nodes[a].links[b] = &link{delay: d}
		s.nodes[b].links[a] = &link{delay: d}
	}
	if n > 2 {
		for i := 1; i <= n; i++ {
			connect(int32(i), int32(i%n+1))
		}
	}
	limit := s.cfg.Degree + s.cfg.Degree/2
	for i := 1; i <= n; i++ {
		for tries := 0; len(s.nodes[i].links) < s.cfg.Degree && tries < 100*n; tries++ {
			j := int32(1 + s.rng.IntN(n))
			if len(s.nodes[j].links) < limit {
				connect(int32(i), j)
			}
		}
	}
	for _, j := range s.rng.Perm(n)[:s.cfg.PublisherDegree] {
		connect(0, int32(j+1))
	}
}

// sortedLinks returns the neighbours of a node in order.
func sortedLinks(m map[int32]*link) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
