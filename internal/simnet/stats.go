package simnet

import "sync/atomic"

// DropReason tells why the network discarded a datagram.
type DropReason uint8

const (
	// DropLoss is random loss on a link (LinkConfig.Loss).
	DropLoss DropReason = iota
	// DropMTU is a datagram larger than a link's MTU.
	DropMTU
	// DropQueue is a full link queue (drop-tail) or the network's
	// in-flight limit (Config.MaxInFlight).
	DropQueue
	// DropRecvQueue is a full receive queue of the destination socket.
	DropRecvQueue
	// DropFilter is a Filter returning Drop.
	DropFilter
	// DropNoRoute is a destination address no node has.
	DropNoRoute
	// DropNoListener is a destination port no socket is bound to.
	DropNoListener
	// DropNAT is an inbound datagram a NAT had no mapping for or whose
	// filtering refused it, or an outbound one when its ports ran out.
	DropNAT
	// DropHairpin is a datagram sent from behind a NAT to the NAT's own
	// public address when hairpinning is off.
	DropHairpin
	// DropClosed is a datagram that arrived at a closed socket or was in
	// flight when the network closed.
	DropClosed

	// NumDropReasons is the number of drop reasons.
	NumDropReasons
)

var dropNames = [NumDropReasons]string{"loss", "mtu", "queue", "recv-queue", "filter", "no-route", "no-listener", "nat", "hairpin", "closed"}

// String returns a short name of the reason.
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return "drop?"
}

// Stats counts datagrams across a whole Network. Once nothing is in
// flight, Sent + Duplicated = Delivered + TotalDropped().
type Stats struct {
	// Sent counts datagrams written by sockets.
	Sent uint64
	// Delivered counts datagrams put in a receive queue.
	Delivered uint64
	// Duplicated counts copies made by LinkConfig.Duplicate.
	Duplicated uint64
	// Dropped counts discarded datagrams by reason.
	Dropped [NumDropReasons]uint64
}

// TotalDropped sums Dropped over all reasons.
func (s Stats) TotalDropped() uint64 {
	var t uint64
	for _, d := range s.Dropped {
		t += d
	}
	return t
}

type netCounters struct {
	sent, delivered, duplicated atomic.Uint64
	dropped                     [NumDropReasons]atomic.Uint64
}

func (c *netCounters) snapshot() Stats {
	s := Stats{Sent: c.sent.Load(), Delivered: c.delivered.Load(), Duplicated: c.duplicated.Load()}
	for i := range c.dropped {
		s.Dropped[i] = c.dropped[i].Load()
	}
	return s
}

// ConnStats counts the datagrams of one socket.
type ConnStats struct {
	// Sent and SentBytes count datagrams (and payload bytes) written.
	Sent, SentBytes uint64
	// Received and ReceivedBytes count datagrams (and payload bytes)
	// put in the receive queue.
	Received, ReceivedBytes uint64
	// Dropped counts datagrams lost because the receive queue was full.
	Dropped uint64
}

type connCounters struct {
	sent, sentBytes, received, receivedBytes, dropped atomic.Uint64
}

func (c *connCounters) snapshot() ConnStats {
	return ConnStats{
		Sent: c.sent.Load(), SentBytes: c.sentBytes.Load(),
		Received: c.received.Load(), ReceivedBytes: c.receivedBytes.Load(),
		Dropped: c.dropped.Load(),
	}
}
