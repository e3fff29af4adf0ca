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
