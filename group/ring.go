package group

import (
	"slices"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Node is a member placed on the group ring.
type Node struct {
	ID      profile.PeerID
	Address Address
}

// NewNode computes the member's ring address.
func NewNode(id profile.PeerID) Node { return Node{ID: id, Address: AddressOf(id)} }

// Ring is a set of members ordered by group address. The zero value is an
// empty ring. It is a plain data structure: not safe for concurrent use.
type Ring struct {
	m []Node // sorted by Address, no duplicates
}

func (r *Ring) search(a Address) (int, bool) {
	return slices.BinarySearchFunc(r.m, a, func(m Node, a Address) int { return m.Address.Compare(a) })
}

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.m) }

// Add inserts a member; it reports false if it was already there.
func (r *Ring) Add(id profile.PeerID) bool {
	m := NewNode(id)
	i, found := r.search(m.Address)
	if found {
		return false
	}
	r.m = slices.Insert(r.m, i, m)
	return true
}

// Remove deletes a member; it reports whether it was there.
func (r *Ring) Remove(id profile.PeerID) bool {
	i, found := r.search(AddressOf(id))
	if !found {
		return false
	}
	r.m = slices.Delete(r.m, i, i+1)
	return true
}

// Contains reports whether id is on the ring.
func (r *Ring) Contains(id profile.PeerID) bool {
	_, found := r.search(AddressOf(id))
	return found
}

// Members returns the members in address order. The slice is shared.
func (r *Ring) Members() []Node { return r.m }

// Neighbours returns up to after members following a and up to before
// members preceding it on the ring (wrapping around): successors first, each
// side nearest first, never a itself and never the same member twice. A
// server uses it to introduce a newcomer to its ring neighbours (MonaServer2
// sends the 3 before and 3 after).
func (r *Ring) Neighbours(a Address, before, after int) []Node {
	n := len(r.m)
	i, found := r.search(a)
	others := n
	if found {
		others--
	}
	before, after = min(before, others), min(after, others)
	if before+after > others {
		after = others - before
	}
	out := make([]Node, 0, before+after)
	seen := map[Address]bool{a: true}
	// Successors start at i (or i+1 when a is on the ring).
	j := i
	if found {
		j++
	}
	for k := 0; len(out) < after && k < n; k++ {
		m := r.m[(j+k)%n]
		if !seen[m.Address] {
			seen[m.Address] = true
			out = append(out, m)
		}
	}
	for k := 1; len(out) < after+before && k <= n; k++ {
		m := r.m[((i-k)%n+n)%n]
		if !seen[m.Address] {
			seen[m.Address] = true
			out = append(out, m)
		}
	}
	return out
}
