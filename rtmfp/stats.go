package rtmfp

import (
	"sync/atomic"
	"time"
)

type endpointCounters struct {
	packetsIn, packetsOut, batchesOut, batchesIn, readErrors          atomic.Uint64
	writeErrors                                                       atomic.Uint64
	badPackets                                                        atomic.Uint64
	dropShort, dropUnknownSession, dropInboxFull, dropBadStartup      atomic.Uint64
	dropUnknownTag, dropRateLimited, dropRefusedEPD, dropBadCookie    atomic.Uint64
	dropSessionLimit, dropHandshakeQueue, dropKeying, dropAcceptQueue atomic.Uint64
	rhellosSent, redirectsSent, fihellosIn, introductionRequests      atomic.Uint64
	handshakesResponder, handshakesInitiator, glareWon, glareLost     atomic.Uint64
	dropAmplification, dropExtraChunk                                 atomic.Uint64
	closedRecvBudget, closedStalled, closedMemory                     atomic.Uint64
}

// Stats is a snapshot of an endpoint's counters. Drops are counted by
// reason; none of them is logged per packet.
type Stats struct {
	Sessions             int    // sessions currently known (opening or open)
	PacketsIn            uint64 // datagrams received
	PacketsOut           uint64 // datagrams sent
	SendCalls            uint64 // batched send system calls (sendmmsg), each of several datagrams
	ReceiveCalls         uint64 // batched receive system calls (recvmmsg) that returned datagrams
	ReadErrors           uint64
	WriteErrors          uint64
	BadPackets           uint64 // session packets failing integrity or mode checks
	DropShort            uint64 // datagrams too short (or too long) to be RTMFP
	DropUnknownSession   uint64 // packets for session IDs not in use
	DropInboxFull        uint64 // packets dropped because a session fell behind
	DropBadStartup       uint64 // startup packets that failed to decrypt or parse
	DropUnknownTag       uint64 // RHello/Redirect for no opening session
	DropRateLimited      uint64 // startup replies refused by the per-address limit
	DropAmplification    uint64 // startup replies refused by the amplification budget
	DropExtraChunk       uint64 // IHello or IIKeying chunks after the first of a datagram
	DropRefusedEPD       uint64 // IHellos for a URL the application refused
	DropBadCookie        uint64 // IIKeyings with an invalid or expired cookie
	DropSessionLimit     uint64 // IIKeyings refused at the session cap
	DropHandshakeQueue   uint64 // IIKeyings dropped because the workers were busy
	DropKeying           uint64 // IIKeyings whose key agreement failed
	DropAcceptQueue      uint64 // sessions refused because Accept fell behind
	RHellosSent          uint64
	RedirectsSent        uint64
	FIHellosIn           uint64 // Forwarded IHellos received
	IntroductionRequests uint64 // IHellos naming another peer
	HandshakesResponder  uint64 // sessions opened to this endpoint
	HandshakesInitiator  uint64 // sessions this endpoint opened
	GlareWon, GlareLost  uint64 // simultaneous opens resolved (RFC 7425 §4.3.6)
	// Sessions closed for what they made this end hold: a receive budget
	// full of undeliverable data, data that made no acknowledged progress
	// within RetransmitLimit, a memory account over its limit (or shed
	// to keep the server within its budget).
	ClosedRecvBudget, ClosedStalled, ClosedMemory uint64
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() Stats {
	c := &e.stats
	e.mu.Lock()
	n := len(e.sessions)
	e.mu.Unlock()
	return Stats{
		Sessions: n, PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(), SendCalls: c.batchesOut.Load(), ReceiveCalls: c.batchesIn.Load(),
		ReadErrors: c.readErrors.Load(), WriteErrors: c.writeErrors.Load(), BadPackets: c.badPackets.Load(),
		DropShort: c.dropShort.Load(), DropUnknownSession: c.dropUnknownSession.Load(),
		DropInboxFull: c.dropInboxFull.Load(), DropBadStartup: c.dropBadStartup.Load(),
		DropUnknownTag: c.dropUnknownTag.Load(), DropRateLimited: c.dropRateLimited.Load(),
		DropAmplification: c.dropAmplification.Load(), DropExtraChunk: c.dropExtraChunk.Load(),
		DropRefusedEPD: c.dropRefusedEPD.Load(), DropBadCookie: c.dropBadCookie.Load(),
		DropSessionLimit: c.dropSessionLimit.Load(), DropHandshakeQueue: c.dropHandshakeQueue.Load(),
		DropKeying: c.dropKeying.Load(), DropAcceptQueue: c.dropAcceptQueue.Load(),
		RHellosSent: c.rhellosSent.Load(), RedirectsSent: c.redirectsSent.Load(), FIHellosIn: c.fihellosIn.Load(),
		IntroductionRequests: c.introductionRequests.Load(),
		HandshakesResponder:  c.handshakesResponder.Load(), HandshakesInitiator: c.handshakesInitiator.Load(),
		GlareWon: c.glareWon.Load(), GlareLost: c.glareLost.Load(),
		ClosedRecvBudget: c.closedRecvBudget.Load(), ClosedStalled: c.closedStalled.Load(), ClosedMemory: c.closedMemory.Load(),
	}
}

type sessionCounters struct {
	packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
	badPackets, windowDrops, addressChanges  atomic.Uint64
	fragmentsOut, retransmits, timeouts      atomic.Uint64
	flowsIn, flowsRejected                   atomic.Uint64
	spuriousLosses                           atomic.Uint64
}

// SessionStats is a snapshot of one session's counters.
type SessionStats struct {
	PacketsIn, PacketsOut  uint64
	BytesIn, BytesOut      uint64
	BadPackets             uint64 // failed integrity or mode checks
	WindowDrops            uint64 // data refused because the sender overran the window
	AddressChanges         uint64 // the far end moved (RFC 7016 §3.5.4)
	FragmentsOut           uint64 // data fragments sent, retransmissions included
	Retransmits            uint64 // fragments sent again
	Timeouts               uint64 // retransmission timeouts
	SpuriousLosses         uint64 // fragments thought lost that were only reordered
	FlowsIn, FlowsRejected uint64
	SRTT                   time.Duration // smoothed round trip (as of the last sample)
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats {
	c := &s.stats
	return SessionStats{
		PacketsIn: c.packetsIn.Load(), PacketsOut: c.packetsOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		BadPackets: c.badPackets.Load(), WindowDrops: c.windowDrops.Load(),
		AddressChanges: c.addressChanges.Load(), FragmentsOut: c.fragmentsOut.Load(),
		Retransmits: c.retransmits.Load(), Timeouts: c.timeouts.Load(), SpuriousLosses: c.spuriousLosses.Load(),
		FlowsIn: c.flowsIn.Load(), FlowsRejected: c.flowsRejected.Load(),
		SRTT: time.Duration(s.srttNanos.Load()),
	}
}
