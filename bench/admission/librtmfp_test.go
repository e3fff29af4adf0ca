package admission

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/bench/internal/flood"
	"github.com/rtmfpd/rtmfpd/bench/internal/rtmfpdproc"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
)

// loadResult is what rtmfp-load's handshakes mode printed.
type loadResult struct {
	completed, failed int
	rate, p50, p95    float64 // handshakes/s, ms
}

// runLoad runs n librtmfp connect+close cycles, c in flight, from
// 127.0.0.1 against url.
func runLoad(b *testing.B, bin, url string, n, c int) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// It exits with status 1 when some handshakes failed, which the
	// result counts.
	out, err := exec.CommandContext(ctx, bin, "-b", "127.0.0.1", "handshakes",
		"-n", strconv.Itoa(n), "-c", strconv.Itoa(c), url).CombinedOutput()
	if err != nil && ctx.Err() != nil {
		b.Fatalf("rtmfp-load: %v\n%s", err, out)
	}
	var r loadResult
	for _, f := range strings.Fields(string(out)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "completed":
			r.completed = int(x)
		case "failed":
			r.failed = int(x)
		case "handshakes_per_s":
			r.rate = x
		case "p50":
			r.p50 = x
		case "p95":
			r.p95 = x
		}
	}
	if r.completed+r.failed != n {
		b.Fatalf("rtmfp-load printed no result (%v):\n%s", err, out)
	}
	return r
}

func (r loadResult) report(b *testing.B, prefix string) {
	b.ReportMetric(r.rate, prefix+"handshakes/s")
	b.ReportMetric(r.p50, prefix+"p50-ms")
	b.ReportMetric(r.p95, prefix+"p95-ms")
	b.ReportMetric(float64(r.failed), prefix+"failed")
}

// BenchmarkAdmissionLibrtmfp: librtmfp's load generator (RTMFPD_RTMFP_LOAD)
// runs 1,000 connect+close cycles (NetConnection connect included), 64 in
// flight, all from 127.0.0.1, against the default configuration; the
// baseline, in the same run, is the same load with the per-address startup
// limit lifted. librtmfp's IHello names only the application path (36
// bytes for a 180-byte RHello).
func BenchmarkAdmissionLibrtmfp(b *testing.B) {
	bin := testtools.RTMFPLoad(b)
	for b.Loop() {
		srv := rtmfpdproc.Start(b, liftedConfig)
		base := runLoad(b, bin, "rtmfp://"+srv.Addr.String()+"/live", 1000, 64)
		srv = rtmfpdproc.Start(b, defaultConfig)
		r := runLoad(b, bin, "rtmfp://"+srv.Addr.String()+"/live", 1000, 64)
		base.report(b, "base-")
		r.report(b, "")
		b.ReportMetric(r.rate/base.rate, "rate-vs-base")
	}
}

// BenchmarkAdmissionLibrtmfpUnderFlood: librtmfp's load generator (500
// connect+close cycles, 16 in flight: fewer than librtmfp needs to saturate
// itself, so that its latency is the server's) from 127.0.0.1 while
// spoofed sources flood the server with minimal IHellos (RTMFPD_FLOOD_PPS
// from RTMFPD_FLOOD_SOURCES addresses), default configuration; the
// baseline is the same load without the flood, in the same run.
func BenchmarkAdmissionLibrtmfpUnderFlood(b *testing.B) {
	bin := testtools.RTMFPLoad(b)
	for b.Loop() {
		srv := rtmfpdproc.Start(b, defaultStatusConfig)
		url := "rtmfp://" + srv.Addr.String() + "/live"
		base := runLoad(b, bin, url, 500, 16)
		st0 := endpointStats(b, srv)
		f := flood.New(b, floodSources(), srv.Addr)
		stop := make(chan struct{})
		achieved := make(chan float64)
		go func() {
			achieved <- f.RunUntil(stop, floodPPS(), 10*time.Minute, flood.Packets(flood.IHelloShapes(url, [32]byte{}, [32]byte{})[0], 4096))
		}()
		time.Sleep(500 * time.Millisecond) // the flood is on
		r := runLoad(b, bin, url, 500, 16)
		close(stop)
		pps := <-achieved
		base.report(b, "base-")
		r.report(b, "")
		b.ReportMetric(pps, "flood-pps")
		b.ReportMetric(f.Ratio(), "flood-bytes-out/in")
		st := endpointStats(b, srv)
		b.Logf("server, during the flood: %d answers refused by the per-address limit, %d by the amplification budget; %d handshakes",
			st.DropRateLimited-st0.DropRateLimited, st.DropAmplification-st0.DropAmplification, st.HandshakesResponder-st0.HandshakesResponder)
	}
}
