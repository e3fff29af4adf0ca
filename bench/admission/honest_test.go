package admission

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/bench/internal/flood"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

var quiet = slog.New(slog.DiscardHandler)

// connectTimeout bounds one honest handshake (a Flash client gives up
// after about the same).
const connectTimeout = 10 * time.Second

// hsResult is what a run of honest handshakes measured.
type hsResult struct {
	ok, failed int
	elapsed    time.Duration
	lat        []time.Duration // of the successful handshakes, sorted
}

func (r hsResult) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// pct is the p-th percentile connect time (0 < p ≤ 100), counting failed
// handshakes as connectTimeout.
func (r hsResult) pct(p float64) time.Duration {
	all := slices.Clone(r.lat)
	for range r.failed {
		all = append(all, connectTimeout)
	}
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[min(len(all)-1, int(float64(len(all))*p/100))]
}

func (r hsResult) report(b *testing.B, prefix string) {
	b.ReportMetric(r.rate(), prefix+"handshakes/s")
	b.ReportMetric(float64(r.pct(50).Microseconds())/1000, prefix+"p50-ms")
	b.ReportMetric(float64(r.pct(95).Microseconds())/1000, prefix+"p95-ms")
	b.ReportMetric(float64(r.failed), prefix+"failed")
}

// handshakes runs complete Flash handshakes (IHello, RHello, IIKeying,
// RIKeying; the session is then aborted) against server for d, with
// inflight handshakes at a time, handshake k from an endpoint bound to
// ips[k % len(ips)]. Each endpoint is its own client with its own identity,
// as a crowd behind one NAT would be.
func handshakes(tb testing.TB, server netip.AddrPort, ips []netip.Addr, inflight int, d time.Duration) hsResult {
	flood.RaiseFileLimit(tb)
	eps := make([]*rtmfp.Endpoint, inflight)
	for k := range eps {
		p, err := flash.New(flash.Config{})
		if err != nil {
			tb.Fatal(err)
		}
		eps[k], err = rtmfp.Listen("udp4", netip.AddrPortFrom(ips[k%len(ips)], 0).String(), rtmfp.Config{Profile: p, Logger: quiet,
			CloseTimeout: 200 * time.Millisecond, HandshakeTimeout: connectTimeout})
		if err != nil {
			tb.Fatal(err)
		}
	}
	defer func() {
		for _, e := range eps {
			e.Close()
		}
	}()
	epd := flash.URLEPD("rtmfp://" + server.String() + "/bench")
	var mu sync.Mutex
	var res hsResult
	start := time.Now()
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
				s, err := ep.Connect(ctx, epd, server)
				cancel()
				lat := time.Since(t0)
				mu.Lock()
				if err != nil {
					res.failed++
				} else {
					res.ok++
					res.lat = append(res.lat, lat)
				}
				mu.Unlock()
				if err == nil {
					s.Abort()
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

// sameIP is inflight copies of 127.0.0.1: every client behind one address.
func sameIP() []netip.Addr { return []netip.Addr{netip.MustParseAddr("127.0.0.1")} }

// manyIPs is n honest addresses, one per client.
func manyIPs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = honestAddr(i)
	}
	return out
}
