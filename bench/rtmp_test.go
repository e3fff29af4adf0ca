package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// BenchmarkRTMPFanout publishes a 4 Mbit/s stream over RTMP to rtmfpd (its
// own process) and to nginx with the RTMP module (one worker process, no
// master) in the same run, each played by N RTMP players on loopback, for N
// from RTMFPD_RTMP_FANOUT_N (comma separated, default 10,50,100), for
// RTMFPD_RTMP_FANOUT_SECONDS seconds (default 10) per server.
//
// Each video frame carries its send time (Unix nanoseconds, after the
// 5-byte AVC header), read back by the players: the end-to-end latency
// through the server, client stacks included (the same for both servers).
// Reported per server: share of media delivered, server CPU time per
// delivered Mbit/s, latency median and 99th percentile; then the ratios
// rtmfpd/nginx (below 1: rtmfpd does better).
func BenchmarkRTMPFanout(b *testing.B) {
	ns := envInts("RTMFPD_RTMP_FANOUT_N", []int{10, 50, 100})
	dur := 10 * time.Second
	if n := envInt("RTMFPD_RTMP_FANOUT_SECONDS"); n > 0 {
		dur = time.Duration(n) * time.Second
	}
	raiseFileLimit(b)
	for _, n := range ns {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			for b.Loop() {
				srv := startServer(b, "")
				ours := rtmpFanoutOnce(b, "rtmp://"+srv.rtmp+"/live", func() time.Duration { return srv.cpu(b) }, n, 4_000_000, dur)
				ng := testtools.StartNginxRTMP(b, testtools.DefaultApplications)
				pid := ng.Pid()
				theirs := rtmpFanoutOnce(b, ng.URL("live"), func() time.Duration { return procCPU(b, pid) }, n, 4_000_000, dur)
				for _, r := range []struct {
					name string
					f    fanoutResult
				}{{"rtmfpd", ours}, {"nginx", theirs}} {
					b.ReportMetric(r.f.delivered*100, r.name+"-%delivered")
					b.ReportMetric(r.f.msPerMbit, r.name+"-ms/Mbit")
					b.ReportMetric(r.f.p50, r.name+"-p50-ms")
					b.ReportMetric(r.f.p99, r.name+"-p99-ms")
				}
				b.ReportMetric(ours.msPerMbit/theirs.msPerMbit, "cpu-ratio")
				b.ReportMetric(ours.p50/theirs.p50, "p50-ratio")
				b.ReportMetric(ours.p99/theirs.p99, "p99-ratio")
			}
		})
	}
}

type fanoutResult struct {
	delivered      float64 // share of the media sent that players got
	msPerMbit      float64 // server CPU ms per delivered Mbit
	p50, p99       float64 // latency, ms
	deliveredMbits float64
}

// rtmpFanoutOnce runs one publisher and n players against the RTMP
// application at url; cpu reads the server's CPU time.
func rtmpFanoutOnce(b *testing.B, url string, cpu func() time.Duration, n, rate int, dur time.Duration) fanoutResult {
	ctx, cancel := context.WithTimeout(context.Background(), dur+60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var received int64
	var lat []time.Duration
	var wg sync.WaitGroup
	var players []*rtmp.Client
	for range n {
		p, err := rtmp.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Play(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		players = append(players, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got int64
			var mine []time.Duration
			defer func() {
				mu.Lock()
				received += got
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				m, err := p.ReadMessage()
				if err != nil {
					return
				}
				if m.Type != media.TypeAudio && m.Type != media.TypeVideo {
					continue
				}
				got += int64(len(m.Payload))
				if m.Type == media.TypeVideo && len(m.Payload) >= 13 {
					sent := int64(binary.BigEndian.Uint64(m.Payload[5:13]))
					mine = append(mine, time.Duration(time.Now().UnixNano()-sent))
				}
			}
		}()
	}
	pub, err := rtmp.Dial(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := pub.Publish(ctx, "bench", rtmp.ModeLive); err != nil {
		b.Fatal(err)
	}
	go func() { // acknowledgements, pings
		for {
			if _, err := pub.ReadMessage(); err != nil {
				return
			}
		}
	}()
	cpu0 := cpu()
	start := time.Now()
	var sent int64
	for sec := 0; time.Duration(sec)*time.Second < dur; sec++ {
		for _, m := range syntheticStream(rate, uint32(sec*1000)) {
			due := time.Duration(m.Timestamp) * time.Millisecond
			if d := due - time.Since(start); d > 0 {
				time.Sleep(d)
			}
			if m.Type == media.TypeVideo {
				binary.BigEndian.PutUint64(m.Payload[5:13], uint64(time.Now().UnixNano()))
			}
			if err := pub.WriteMedia(m); err != nil {
				b.Fatal(err)
			}
			sent += int64(len(m.Payload))
		}
	}
	// Let the last frames arrive, then stop.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := received >= sent*int64(n)
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	used := cpu() - cpu0
	pub.Close()
	for _, p := range players {
		p.Close()
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
	}
	mbits := float64(received) * 8 / 1e6
	return fanoutResult{
		delivered:      float64(received) / float64(sent*int64(n)),
		msPerMbit:      float64(used.Microseconds()) / 1000 / mbits,
		p50:            pct(0.5),
		p99:            pct(0.99),
		deliveredMbits: mbits,
	}
}
