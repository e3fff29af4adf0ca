package multicast

import (
	"slices"
	"time"
)

// horizonEntry records that fragment IDs up to id were known at time at.
type horizonEntry struct {
	at time.Time
	id uint64
}

// horizon remembers when a node learnt that fragments exist: a step
// function from time to the highest credible fragment ID known then. It
// answers "which fragments have been known for FetchPeriod" (pull them),
// "which for Window" (give up on them) and "when was fragment x learnt".
// Entries closer than horizonGrain are merged; old entries are pruned into
// floor, so the size is bounded by the pruning age over the grain and by
// maxHorizonEntries.
type horizon struct {
	entries []horizonEntry // increasing in at and in id
	floor   uint64         // IDs ≤ floor were learnt before the first entry
	first   uint64         // the first ID ever known (the node's join point)
}

const (
	horizonGrain      = 10 * time.Millisecond
	maxHorizonEntries = 8192
)

// last returns the highest ID known.
func (h *horizon) last() uint64 {
	if len(h.entries) == 0 {
		return h.floor
	}
	return h.entries[len(h.entries)-1].id
}

// advance records that IDs up to id are known at time at.
func (h *horizon) advance(at time.Time, id uint64) {
	if id <= h.last() {
		return
	}
	if h.first == 0 {
		h.first = id
	}
	if n := len(h.entries); n > 0 && at.Sub(h.entries[n-1].at) < horizonGrain {
		h.entries[n-1].id = id
		return
	}
	if len(h.entries) == maxHorizonEntries {
		h.floor = h.entries[0].id
		h.entries = slices.Delete(h.entries, 0, 1)
	}
	h.entries = append(h.entries, horizonEntry{at, id})
}

// at returns the highest ID known at time t.
func (h *horizon) at(t time.Time) uint64 {
	i, _ := slices.BinarySearchFunc(h.entries, t, func(e horizonEntry, t time.Time) int {
		if e.at.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return h.floor
	}
	return h.entries[i-1].id
}

// learnt returns when fragment id became known: ok is false for an ID not
// known yet; the zero time for one known before every remembered entry.
func (h *horizon) learnt(id uint64) (at time.Time, ok bool) {
	if id <= h.floor {
		return time.Time{}, true
	}
	i, _ := slices.BinarySearchFunc(h.entries, id, func(e horizonEntry, id uint64) int {
		if e.id < id {
			return -1
		}
		return 1
	})
	if i == len(h.entries) {
		return time.Time{}, false
	}
	return h.entries[i].at, true
}

// prune forgets entries older than cutoff (their IDs become "known long
// ago"), keeping the newest one.
func (h *horizon) prune(cutoff time.Time) {
	i := 0
	for i < len(h.entries)-1 && h.entries[i].at.Before(cutoff) {
		i++
	}
	if i > 0 {
		h.floor = h.entries[i-1].id
		h.entries = slices.Delete(h.entries, 0, i)
	}
}

// span returns how many IDs appeared over the remembered entries (a rate
// estimate over the pruning age).
func (h *horizon) span() uint64 {
	if len(h.entries) < 2 {
		return 0
	}
	return h.entries[len(h.entries)-1].id - h.entries[0].id
}
