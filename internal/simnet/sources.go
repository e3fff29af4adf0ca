package simnet

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// Sources is a set of sockets, each on its own public host, that send
// datagrams to one address at a paced rate and count what comes back: the
// spoofed sources of a flood, seen from their victims. Build it with
// NewSources, inside the synctest bubble if any.
type Sources struct {
	conns []*Conn
	to    netip.AddrPort
	// sent: bytes sent; back and others: bytes received from the address
	// flooded and from anyone else (a host the flood made answer).
	sent, back, others atomic.Int64
	answers            []atomic.Int64 // datagrams from the flooded address, per source
}

// NewSources opens count sources on n; their sockets close with the
// network.
func NewSources(tb testing.TB, n *Network, count int) *Sources {
	tb.Helper()
	s := &Sources{answers: make([]atomic.Int64, count)}
	for i := range count {
		c := mustListen(tb, mustHost(tb, n))
		s.conns = append(s.conns, c)
		go func() {
			buf := make([]byte, 2048)
			for {
				k, from, err := c.ReadFromUDPAddrPort(buf)
				if errors.Is(err, net.ErrClosed) {
					return
				}
				if err != nil {
					continue
				}
				if from == s.to {
					s.back.Add(int64(k))
					s.answers[i].Add(1)
				} else {
					s.others.Add(int64(k))
				}
			}
		}()
	}
	return s
}

// Flood sends pps datagrams per second to to for d, each from the next
// source in turn, cycling through pkts; then it waits a second for the
// last answers. Run one Flood at a time.
func (s *Sources) Flood(to netip.AddrPort, pkts [][]byte, pps int, d time.Duration) {
	s.to = to
	const tick = 10 * time.Millisecond
	per := pps * int(tick) / int(time.Second)
	k := 0
	for range int(d / tick) {
		for range per {
			p := pkts[k%len(pkts)]
			s.conns[k%len(s.conns)].WriteToUDPAddrPort(p, to)
			s.sent.Add(int64(len(p)))
			k++
		}
		time.Sleep(tick)
	}
	time.Sleep(time.Second)
}

// Sent is the bytes the sources sent.
func (s *Sources) Sent() int64 { return s.sent.Load() }

// Back is the bytes the sources received from the address they flooded.
func (s *Sources) Back() int64 { return s.back.Load() }

// FromOthers is the bytes the sources received from anyone else.
func (s *Sources) FromOthers() int64 { return s.others.Load() }

// Answered is how many sources received at least one datagram from the
// address they flooded.
func (s *Sources) Answered() int {
	n := 0
	for i := range s.answers {
		if s.answers[i].Load() > 0 {
			n++
		}
	}
	return n
}
