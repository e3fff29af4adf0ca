package mcsim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/multicast"
)

// Result summarises a run. Messages published before Start+Warmup are
// left out of the delivery and latency figures; a peer is judged on the
// messages from its join point (the first message it delivered) on.
type Result struct {
	Peers    int
	Messages int // messages published in the measured span

	StreamBytes          uint64  // encoded fragments the publisher produced (whole run)
	StreamBitrate        float64 // bits per second over the publishing time
	PublisherDataBytes   uint64  // media flow bytes the publisher sent (whole run)
	PublisherReportBytes uint64  // report flow bytes the publisher sent
	UploadRatio          float64 // PublisherDataBytes / StreamBytes

	// Fragment latency, publish to delivery by a peer, over every peer
	// and every measured fragment delivered (a message counts once per
	// fragment).
	Latency50, Latency90, Latency99, LatencyMax time.Duration

	// Fraction of the measured messages (from its join point) a peer
	// delivered within the window: the worst peer and the mean.
	WorstDelivery, MeanDelivery float64
	WorstPeer                   int
	Delivery                    []float64 // per peer (index 0 is peer 1)
	// From the first key frame published after a peer joined (the
	// acceptance criterion of group publishing: what a member writes):
	// the share of the messages it delivered, however late, the worst
	// peer and per peer. A peer that starts late is judged on what it
	// missed.
	WorstFromJoin     float64
	WorstFromJoinPeer int
	FromJoin          []float64

	MaxJoinDelay time.Duration // from Start (or a late peer's connection) to the first message it delivered
	Corrupt      int           // deliveries that did not match what was published
	Ended        int           // peers that saw the end of stream
	QueueDrops   uint64        // messages dropped by full upload queues

	Publisher multicast.Stats
	PeerStats []multicast.Stats
}

func (s *Sim) result() Result {
	r := Result{Peers: s.cfg.Peers, WorstDelivery: 1, WorstFromJoin: 1}
	first := s.epoch.Add(s.cfg.Start + s.cfg.Warmup)
	from := len(s.recs)
	for k, rec := range s.recs {
		if !rec.at.Before(first) {
			from = k
			break
		}
	}
	r.Messages = len(s.recs) - from
	fr := multicast.NewFragmenter(0, 0)
	var frags []multicast.Fragment
	for _, rec := range s.recs {
		frags, _ = fr.Fragment(frags[:0], rec.msg)
		for _, f := range frags {
			r.StreamBytes += uint64(f.Len())
		}
	}
	r.StreamBitrate = float64(r.StreamBytes*8) / s.cfg.Duration.Seconds()
	pub := s.nodes[0]
	r.PublisherDataBytes, r.PublisherReportBytes = pub.sentData, pub.sentControl
	if r.StreamBytes > 0 {
		r.UploadRatio = float64(r.PublisherDataBytes) / float64(r.StreamBytes)
	}
	r.Publisher = pub.n.Stats(s.now)
	window := s.cfg.Multicast.Window
	type sample struct {
		lat   time.Duration
		count int
	}
	var samples []sample
	total := 0
	var sum float64
	for i, nd := range s.nodes[1:] {
		var st multicast.Stats
		if nd.n != nil {
			st = nd.n.Stats(s.now)
		}
		r.PeerStats = append(r.PeerStats, st)
		fj := 1.0
		if nd.firstKey >= 0 {
			ok := 0
			for k := nd.firstKey; k < len(s.recs); k++ {
				if k < len(nd.delivered) && nd.delivered[k] > 0 {
					ok++
				}
			}
			fj = float64(ok) / float64(len(s.recs)-nd.firstKey)
		}
		r.FromJoin = append(r.FromJoin, fj)
		if fj < r.WorstFromJoin {
			r.WorstFromJoin, r.WorstFromJoinPeer = fj, i+1
		}
		r.Corrupt += nd.corrupt
		r.QueueDrops += nd.queueDrops
		if nd.ended {
			r.Ended++
		}
		start := max(from, nd.firstDelivered)
		if nd.firstDelivered < 0 {
			start = len(s.recs)
		} else {
			from := s.epoch.Add(s.cfg.Start)
			if nd.joinedAt.After(from) {
				from = nd.joinedAt
			}
			r.MaxJoinDelay = max(r.MaxJoinDelay, s.recs[nd.firstDelivered].at.Sub(from))
		}
		expected := len(s.recs) - from
		ok := 0
		for k := start; k < len(s.recs); k++ {
			if k < len(nd.delivered) && nd.delivered[k] > 0 {
				lat := nd.delivered[k]
				samples = append(samples, sample{lat, s.recs[k].frags})
				total += s.recs[k].frags
				if lat <= window {
					ok++
				}
			}
		}
		if nd.firstDelivered >= 0 {
			expected = len(s.recs) - start
		}
		ratio := 1.0
		if expected > 0 {
			ratio = float64(ok) / float64(expected)
		}
		sum += ratio
		r.Delivery = append(r.Delivery, ratio)
		if ratio < r.WorstDelivery {
			r.WorstDelivery, r.WorstPeer = ratio, i+1
		}
	}
	r.QueueDrops += pub.queueDrops
	if len(s.nodes) > 1 {
		r.MeanDelivery = sum / float64(len(s.nodes)-1)
	}
	slices.SortFunc(samples, func(a, b sample) int { return int(a.lat - b.lat) })
	pct := func(p float64) time.Duration {
		want := int(p * float64(total))
		acc := 0
		for _, x := range samples {
			acc += x.count
			if acc > want {
				return x.lat
			}
		}
		if len(samples) > 0 {
			return samples[len(samples)-1].lat
		}
		return 0
	}
	r.Latency50, r.Latency90, r.Latency99 = pct(0.5), pct(0.9), pct(0.99)
	if len(samples) > 0 {
		r.LatencyMax = samples[len(samples)-1].lat
	}
	return r
}

// String formats the headline figures.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "peers=%d msgs=%d stream=%.0f kbit/s upload=%.2f×stream latency p50=%v p90=%v p99=%v max=%v delivery worst=%.5f (peer %d) mean=%.5f from-join worst=%.5f (peer %d) join≤%v corrupt=%d ended=%d drops=%d",
		r.Peers, r.Messages, r.StreamBitrate/1000, r.UploadRatio,
		r.Latency50.Round(time.Millisecond), r.Latency90.Round(time.Millisecond), r.Latency99.Round(time.Millisecond), r.LatencyMax.Round(time.Millisecond),
		r.WorstDelivery, r.WorstPeer, r.MeanDelivery, r.WorstFromJoin, r.WorstFromJoinPeer, r.MaxJoinDelay.Round(time.Millisecond), r.Corrupt, r.Ended, r.QueueDrops)
	return b.String()
}
