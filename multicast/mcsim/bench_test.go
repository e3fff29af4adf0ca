package mcsim

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkGroup runs the 1 Mbit/s stream into groups of 10, 50 and 200
// peers (publisher linked to 5 of them, delays 10–150 ms) for 60 s and
// reports, over the last 40 s (steady state), the fragment latency from
// publication to delivery by a peer (p50, p99), the publisher's upload in
// multiples of the stream, and the worst peer's share of the media
// delivered within the window. Three network models: no loss; 2% loss with
// no retransmission (the engine's pulls repair everything); 2% loss on
// RTMFP-like reliable ordered flows (retransmission after an RTO).
// Run with -benchtime=1x: one iteration is one whole simulation.
func BenchmarkGroup(b *testing.B) {
	models := []struct {
		name       string
		loss       float64
		retransmit bool
	}{{"lossless", 0, false}, {"loss2pct", 0.02, false}, {"loss2pct-retransmit", 0.02, true}}
	for _, m := range models {
		for _, peers := range []int{10, 50, 200} {
			b.Run(fmt.Sprintf("%s/peers=%d", m.name, peers), func(b *testing.B) {
				b.ReportAllocs()
				var r Result
				for b.Loop() {
					r = New(Config{Peers: peers, Loss: m.loss, Retransmit: m.retransmit, Duration: 60 * time.Second, Warmup: 20 * time.Second, Seed: 1}).Run()
				}
				b.ReportMetric(float64(r.Latency50.Milliseconds()), "p50-ms")
				b.ReportMetric(float64(r.Latency99.Milliseconds()), "p99-ms")
				b.ReportMetric(r.UploadRatio, "upload-x")
				b.ReportMetric(100*r.WorstDelivery, "worst-%")
			})
		}
	}
}

// BenchmarkLibrtmfp runs groups of librtmfp member models (libPlayer; two
// engine members tuned unlike the publisher besides) that joined before a
// 10 s stream starts, with the publisher a neighbour of every member (the
// daemon's hub, up to 64), ordinary (1 Mbit/s, 2 s GOP) and 1 MB key
// frames, and reports the worst member's share of the messages from its
// first key frame on (the acceptance criterion), the publisher's upload in
// multiples of the stream, and its pushed and pulled shares.
// Run with -benchtime=1x.
func BenchmarkLibrtmfp(b *testing.B) {
	for _, key := range []int{0, 1 << 20} {
		for _, lib := range []int{8, 32} {
			b.Run(fmt.Sprintf("key=%d/members=%d", key, lib), func(b *testing.B) {
				var r Result
				for b.Loop() {
					r = New(librtmfpGroup(lib, 2, lib+2, key, 10*time.Second)).Run()
				}
				b.ReportMetric(100*r.WorstFromJoin, "worst-from-join-%")
				b.ReportMetric(r.UploadRatio, "upload-x")
				b.ReportMetric(float64(r.Publisher.BytesPushedToPeers)/float64(r.StreamBytes), "pushed-x")
				b.ReportMetric(float64(r.Publisher.BytesRequestedByPeers)/float64(r.StreamBytes), "pulled-x")
			})
		}
	}
}
