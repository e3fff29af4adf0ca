package multicast

import "time"

// Stats describes a Node in the style of Flash's NetStreamMulticastInfo
// (rtmfp-facts §7.8), plus the engine's own counters. Byte counters of
// the Flash kind count media (fragment payload) bytes; rates and the
// Sent/Received totals count encoded messages. Rates are averaged over
// the last rateSpan.
type Stats struct {
	// NetStreamMulticastInfo totals.
	BytesPushedToPeers, FragmentsPushedToPeers                     uint64 // pushed without being asked
	BytesRequestedByPeers, FragmentsRequestedByPeers               uint64 // sent in answer to pulls
	BytesPushedFromPeers, FragmentsPushedFromPeers                 uint64 // received without asking (new ones only)
	BytesRequestedFromPeers, FragmentsRequestedFromPeers           uint64 // received in answer to our pulls (new ones only)
	BytesReceivedFromServer, FragmentsReceivedFromServer           uint64 // IngestFragment(SourceServer)
	BytesReceivedFromIPMulticast, FragmentsReceivedFromIPMulticast uint64 // IngestFragment(SourceIPMulticast)

	// NetStreamMulticastInfo rates, bytes per second. Data is the media
	// flow, control the report flow.
	SendDataBytesPerSecond, SendControlBytesPerSecond       float64
	ReceiveDataBytesPerSecond, ReceiveControlBytesPerSecond float64
	ReceiveDataBytesPerSecondFromServer                     float64
	ReceiveDataBytesPerSecondFromIPMulticast                float64

	// Encoded bytes sent and received on the two flows.
	SentDataBytes, SentControlBytes         uint64
	ReceivedDataBytes, ReceivedControlBytes uint64

	// Delivery (players).
	MessagesPublished      uint64 // publisher: messages published
	MessagesRefused        uint64 // publisher: messages Publish refused (larger than MaxMessagePayload)
	FragmentsEndPushed     uint64 // publisher: pushed at the end of stream to neighbours whose maps lacked them (in FragmentsPushedToPeers too)
	MessagesDelivered      uint64 // player: messages reassembled and delivered
	FragmentsLost          uint64 // given up on: missing when they left the window, or pieces of messages that could not be completed
	FragmentsSkippedAtJoin uint64 // pieces before the first delivered message (joining mid-message)

	// Ignored input.
	FragmentsDuplicate     uint64 // already held
	FragmentsLate          uint64 // known for longer than the window, or too old for the buffer
	FragmentsBeyondHorizon uint64 // IDs far beyond what the group has, or any before the group's horizon is known
	FragmentsUnsolicited   uint64 // neither pulled nor in a bit we asked for (still used), or sent to a publisher
	MapsReceived           uint64
	MapsStale              uint64 // not newer than the previous map of the same neighbour
	MapsForged             uint64 // claiming fragments far beyond the group's horizon
	MapsTruncated          uint64 // bitmap longer than MaxFragmentsMapBytes
	PullsUnknown           uint64 // pulls for fragments we do not hold (never had, or out of the buffer)
	EndsIgnored            uint64 // end-of-stream at or below a held fragment, or beyond the horizon
	Resyncs                uint64 // restarts after a lone neighbour's forged claim had set the horizon
	ForeignStream          uint64 // stream info for another stream
	BadMessages            uint64 // undecodable
	UnknownNeighbor        uint64 // messages from a neighbour not added
	NeighborsRefused       uint64 // AddNeighbor beyond Limits.MaxNeighbors

	// Requests.
	MapsSent             uint64
	PullsSent            uint64
	PullTimeouts         uint64 // pulls unanswered for FetchPeriod (then sent elsewhere)
	PushRequestsSent     uint64
	PushRequestsReceived uint64

	// Gauges.
	Neighbors         int
	BufferedFragments int
	BufferedBytes     int
	PendingPulls      int
	LastFragment      uint64 // newest fragment held
	Pushers           [8]NeighborID
}

// Stats returns the statistics at time now (for the rates).
func (n *Node) Stats(now time.Time) Stats {
	s := n.st
	s.SendDataBytesPerSecond = n.meters.sendData.rate(now)
	s.SendControlBytesPerSecond = n.meters.sendControl.rate(now)
	s.ReceiveDataBytesPerSecond = n.meters.recvData.rate(now)
	s.ReceiveControlBytesPerSecond = n.meters.recvControl.rate(now)
	s.ReceiveDataBytesPerSecondFromServer = n.meters.recvServer.rate(now)
	s.ReceiveDataBytesPerSecondFromIPMulticast = n.meters.recvIPMulticast.rate(now)
	s.Neighbors = len(n.neighbors)
	s.BufferedFragments, s.BufferedBytes = n.buf.count, n.buf.bytes
	s.PendingPulls = len(n.pending)
	s.LastFragment = n.buf.hi
	s.Pushers = n.pushers()
	return s
}

// rateSpan is the averaging span of the rates: rateBuckets buckets.
const (
	rateBuckets = 8
	rateBucket  = 500 * time.Millisecond
	rateSpan    = (rateBuckets - 1) * rateBucket
)

// rateMeter averages a byte rate over the last rateSpan (the complete
// buckets), in the caller's time.
type rateMeter struct {
	buckets [rateBuckets]uint64
	origin  time.Time // first use
	started bool
	cur     int64 // index of the current bucket ((time - origin) / rateBucket)
}

func (r *rateMeter) roll(now time.Time) {
	if !r.started {
		r.origin, r.started = now, true
	}
	idx := int64(now.Sub(r.origin) / rateBucket)
	if idx <= r.cur {
		return
	}
	for i := r.cur + 1; i <= idx && i <= r.cur+rateBuckets; i++ {
		r.buckets[i%rateBuckets] = 0
	}
	r.cur = idx
}

func (r *rateMeter) add(now time.Time, n int) {
	r.roll(now)
	r.buckets[r.cur%rateBuckets] += uint64(n)
}

func (r *rateMeter) rate(now time.Time) float64 {
	r.roll(now)
	var sum uint64
	for i, b := range r.buckets {
		if int64(i) != r.cur%rateBuckets {
			sum += b
		}
	}
	return float64(sum) / rateSpan.Seconds()
}

type meters struct {
	sendData, sendControl, recvData, recvControl, recvServer, recvIPMulticast rateMeter
}
