package simnet

import (
	"net/netip"
	"sync"
)

// Stage is the point of a datagram's way at which a [Filter] sees it.
type Stage uint8

const (
	// StageSend is the datagram as the sending socket wrote it, before any
	// link or NAT; changing Dst reroutes it.
	StageSend Stage = iota + 1
	// StageDeliver is the datagram about to enter the receiving socket's
	// queue, with the addresses the receiver sees (after NAT).
	StageDeliver
)

// String returns the stage name.
func (s Stage) String() string {
	switch s {
	case StageSend:
		return "send"
	case StageDeliver:
		return "deliver"
	}
	return "stage?"
}

// Verdict is a [Filter]'s decision about a datagram.
type Verdict uint8

const (
	// Pass lets the datagram go on, with any changes the filter made.
	Pass Verdict = iota
	// Drop discards the datagram (counted as DropFilter).
	Drop
)

// Filter inspects, changes or drops a datagram. It runs without any lock of
// the Network held, so it may call Network methods, but it must be safe
// for concurrent use and must not keep p or p.Payload after it returns.
// It may change p.Src, p.Dst and p.Payload (in place, or by pointing it
// at a new slice).
type Filter func(p *Packet) Verdict

// Packet is a datagram in flight, as shown to a [Filter].
type Packet struct {
	// ID numbers the datagrams written to the network, from 1; a
	// duplicate keeps the ID of its original.
	ID uint64
	// Stage tells where the datagram is.
	Stage Stage
	// Src and Dst are the datagram's addresses at Stage.
	Src, Dst netip.AddrPort
	// Payload is the UDP payload.
	Payload []byte

	buf   []byte // owns Payload's storage when it comes from the pool
	at    int64  // scheduled time, ns since the epoch
	seq   uint64 // tie-break for equal at
	hop   hop
	realm *realm
	from  *node // node the datagram comes from (nil: the realm's gateway)
	to    *node
	conn  *Conn // receiving socket, set on arrival
}

// hop is the next step of a datagram's way.
type hop uint8

const (
	hopUp     hop = iota // cross from's uplink to the realm's router
	hopRoute             // at the realm's router
	hopCore              // cross the core path from → to
	hopDown              // cross to's downlink
	hopArrive            // at node to
)

// pooledCap is the buffer size of pooled packets; larger payloads get a
// buffer of their own.
const pooledCap = 2048

var packetPool = sync.Pool{New: func() any { return &Packet{buf: make([]byte, pooledCap)} }}

// newPacket returns a packet holding a copy of payload.
func newPacket(payload []byte) *Packet {
	p := packetPool.Get().(*Packet)
	if len(payload) > cap(p.buf) {
		p.buf = make([]byte, len(payload))
	}
	p.Payload = p.buf[:len(payload)]
	copy(p.Payload, payload)
	return p
}

// freePacket returns p to the pool.
func freePacket(p *Packet) {
	buf := p.buf
	if cap(buf) > pooledCap {
		buf = make([]byte, pooledCap)
	}
	*p = Packet{buf: buf[:cap(buf)]}
	packetPool.Put(p)
}

// clone copies p, payload included.
func (n *Network) clone(p *Packet) *Packet {
	c := newPacket(p.Payload)
	c.ID, c.Stage, c.Src, c.Dst = p.ID, p.Stage, p.Src, p.Dst
	c.hop, c.realm, c.from, c.to = p.hop, p.realm, p.from, p.to
	return c
}
