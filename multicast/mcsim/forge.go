package mcsim

import (
	"bytes"
	"time"

	"github.com/rtmfpd/rtmfpd/multicast"
)

// forgeEvery is how often forgers inject their messages.
const forgeEvery = 100 * time.Millisecond

// forge makes every forger send each of its neighbours, besides what its
// honest node sends: a map claiming a million fragments beyond the
// publisher's counter, a map claiming a hundred fragments beyond it with
// every bit set (within reach: neighbours pull fragments the forger may
// not have), a fragment far behind the window, pulls for fragments that
// never existed and for long gone ones, undecodable bytes on both flows,
// and from ForgeFutureAt a fragment a million IDs ahead.
func (s *Sim) forge() {
	if s.now.After(s.publishUntil) {
		return
	}
	last := s.lastID
	old := s.oldID(3 * (s.cfg.Multicast.Window + s.cfg.Multicast.RelayMargin))
	for i, nd := range s.nodes {
		if !nd.forger {
			continue
		}
		t := transport{s, int32(i)}
		for _, j := range sortedLinks(nd.links) {
			to := neighborID(j)
			far := multicast.FragmentsMap{Last: last + 1_000_000, Bitmap: bytes.Repeat([]byte{0xFF}, 64)}
			near := multicast.FragmentsMap{Last: last + 100, Bitmap: bytes.Repeat([]byte{0xFF}, 64)}
			t.Send(to, multicast.FlowReport, far.Append(nil))
			t.Send(to, multicast.FlowReport, near.Append(nil))
			t.Send(to, multicast.FlowReport, multicast.Pull{ID: last + 500_000}.Append(nil))
			t.Send(to, multicast.FlowReport, multicast.Pull{ID: 1}.Append(nil))
			t.Send(to, multicast.FlowReport, []byte{0x2B})
			if s.cfg.ForgeFutureAt > 0 && s.Elapsed() >= s.cfg.ForgeFutureAt {
				t.Send(to, multicast.FlowMedia, forgedFragment(last+1_000_000))
			}
			if old > 0 {
				t.Send(to, multicast.FlowMedia, forgedFragment(old))
			}
			t.Send(to, multicast.FlowMedia, []byte{0x30, 0x81})
		}
	}
	s.at(s.Elapsed()+forgeEvery, s.forge)
}

func forgedFragment(id uint64) []byte {
	return multicast.Fragment{Marker: multicast.TypeFragmentWhole, ID: id, MediaType: 9, Payload: []byte("forged")}.Append(nil)
}

// oldID returns the first fragment of the newest message published at
// least age ago, or 0.
func (s *Sim) oldID(age time.Duration) uint64 {
	cut := s.now.Add(-age)
	var id uint64
	for _, r := range s.recs {
		if r.at.After(cut) {
			break
		}
		id = r.firstID
	}
	return id
}
