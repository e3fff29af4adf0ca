package simnet

import (
	"sync"
	"time"
)

// scheduler holds the datagrams delayed in links, ordered by the time they
// leave their link, and one timer for the earliest. The timer's function
// moves due datagrams on; only one runs at a time. All fields are guarded
// by Network.mu.
type scheduler struct {
	q       []*Packet // min-heap on (at, seq)
	seq     uint64
	timer   *time.Timer
	armed   bool
	armedAt int64
	running bool
	out     batch // deliveries of the running timer function
}

// batch collects datagrams to hand to sockets once Network.mu is released.
type batch struct{ p []*Packet }

var batchPool = sync.Pool{New: func() any { return &batch{p: make([]*Packet, 0, 4)} }}

func less(a, b *Packet) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }

// schedule delays p until at. Called with n.mu held.
func (n *Network) schedule(p *Packet, at int64) {
	s := &n.sched
	if len(s.q) >= n.cfg.MaxInFlight {
		n.drop(p, DropQueue)
		return
	}
	s.seq++
	p.at, p.seq = at, s.seq
	s.q = append(s.q, p)
	for i := len(s.q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !less(s.q[i], s.q[parent]) {
			break
		}
		s.q[i], s.q[parent] = s.q[parent], s.q[i]
		i = parent
	}
	n.arm()
}

// pop removes the earliest datagram.
func (s *scheduler) pop() *Packet {
	q := s.q
	p := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q[last] = nil
	q = q[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(q) && less(q[l], q[m]) {
			m = l
		}
		if r < len(q) && less(q[r], q[m]) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	s.q = q
	return p
}

// arm sets the timer for the earliest datagram. Called with n.mu held.
func (n *Network) arm() {
	s := &n.sched
	if s.running || n.closed || len(s.q) == 0 {
		return
	}
	at := s.q[0].at
	if s.armed && s.armedAt <= at {
		return
	}
	d := time.Duration(max(at-n.now(), 0))
	if s.timer == nil {
		s.timer = time.AfterFunc(d, n.fire)
	} else {
		s.timer.Reset(d)
	}
	s.armed, s.armedAt = true, at
}

// fire moves on every due datagram, delivers, and rearms the timer.
func (n *Network) fire() {
	s := &n.sched
	n.mu.Lock()
	s.armed = false
	if s.running || n.closed {
		n.mu.Unlock()
		return
	}
	s.running = true
	for !n.closed {
		now := n.now()
		for len(s.q) > 0 && s.q[0].at <= now {
			p := s.pop()
			// The datagram goes on at the time it was due, not at the
			// (possibly later) time the timer ran.
			n.advance(p, p.at, &s.out)
		}
		if len(s.out.p) == 0 {
			break
		}
		n.mu.Unlock()
		n.deliverAll(&s.out)
		n.mu.Lock()
	}
	s.running = false
	n.arm()
	n.mu.Unlock()
}

// stop discards the scheduled datagrams and stops the timer. Called with
// n.mu held, after n.closed was set.
func (s *scheduler) stop(n *Network) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.armed = false
	for _, p := range s.q {
		n.drop(p, DropClosed)
	}
	s.q = nil
}
