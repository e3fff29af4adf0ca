package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/bench/internal/flood"
	"github.com/rtmfpd/rtmfpd/bench/internal/rtmfpdproc"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

const (
	// defaultConfig is rtmfpd's default configuration (RTMP and the
	// status endpoint off).
	defaultConfig = `{"status": "off", "rtmp": []}`
	// defaultStatusConfig is defaultConfig with the status endpoint on.
	defaultStatusConfig = `{"status": "127.0.0.1:0", "rtmp": []}`
	// liftedConfig lifts the per-address startup limit: the baseline of
	// an honest crowd with nothing to admit.
	liftedConfig = `{"status": "off", "rtmp": [], "session": {"startupRate": 1000000, "startupBurst": 1000000}}`
)

// endpointStats reads the counters of the server's RTMFP endpoint from its
// status endpoint.
func endpointStats(b *testing.B, srv *rtmfpdproc.Proc) rtmfp.Stats {
	resp, err := http.Get("http://" + srv.Status + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Endpoints []struct {
			Stats rtmfp.Stats `json:"stats"`
		} `json:"rtmfp"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Endpoints) == 0 {
		b.Fatalf("status: %v", err)
	}
	return doc.Endpoints[0].Stats
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func seconds() time.Duration {
	return time.Duration(envInt("RTMFPD_ADMISSION_SECONDS", 5)) * time.Second
}

func floodPPS() int { return envInt("RTMFPD_FLOOD_PPS", 50000) }

func floodSources() int { return envInt("RTMFPD_FLOOD_SOURCES", 2000) }

// honestRun starts a server with config and runs honest handshakes against
// it, reporting the server's CPU per handshake too.
func honestRun(b *testing.B, config string, ips []netip.Addr, inflight int, d time.Duration) (hsResult, time.Duration) {
	srv := rtmfpdproc.Start(b, config)
	cpu0 := srv.CPU(b)
	r := handshakes(b, srv.Addr, ips, inflight, d)
	return r, (srv.CPU(b) - cpu0) / time.Duration(max(r.ok, 1))
}

// BenchmarkAdmissionOneAddress: 64 handshakes in flight from one address
// (127.0.0.1), as a crowd behind one NAT, with the default configuration;
// the baseline, in the same run, is the same load with the per-address
// startup limit lifted.
func BenchmarkAdmissionOneAddress(b *testing.B) {
	for b.Loop() {
		base, _ := honestRun(b, liftedConfig, sameIP(), 64, seconds())
		r, cpu := honestRun(b, defaultConfig, sameIP(), 64, seconds())
		base.report(b, "base-")
		r.report(b, "")
		b.ReportMetric(r.rate()/base.rate(), "rate-vs-base")
		b.ReportMetric(float64(cpu.Microseconds())/1000, "server-ms/handshake")
	}
}

// BenchmarkAdmissionManyAddresses: 64 handshakes in flight, each client on
// its own address, default configuration against the lifted baseline.
func BenchmarkAdmissionManyAddresses(b *testing.B) {
	for b.Loop() {
		base, _ := honestRun(b, liftedConfig, manyIPs(64), 64, seconds())
		r, cpu := honestRun(b, defaultConfig, manyIPs(64), 64, seconds())
		base.report(b, "base-")
		r.report(b, "")
		b.ReportMetric(r.rate()/base.rate(), "rate-vs-base")
		b.ReportMetric(float64(cpu.Microseconds())/1000, "server-ms/handshake")
	}
}

// serverPeerID is the peer ID the server logged.
func serverPeerID(b *testing.B, srv *rtmfpdproc.Proc) profile.PeerID {
	id, err := profile.ParsePeerID(srv.PeerID)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// target connects a client that spoofed IHellos will ask for by peer ID.
func target(b *testing.B, server netip.AddrPort) *client.Conn {
	p, err := flash.New(flash.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ep, err := rtmfp.Listen("udp4", netip.AddrPortFrom(netip.MustParseAddr("127.30.0.1"), 0).String(),
		rtmfp.Config{Profile: p, Logger: quiet, CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	c, err := client.Dial(ctx, "rtmfp://"+server.String()+"/live", client.Options{Endpoint: ep, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); ep.Close() })
	return c
}

// BenchmarkAdmissionUnderFlood: honest handshakes (8 in flight, each from
// its own address) while spoofed sources flood the server with IHellos
// (RTMFPD_FLOOD_PPS from RTMFPD_FLOOD_SOURCES addresses, minimal IHellos
// unless RTMFPD_FLOOD_SHAPE names another shape), default configuration.
// The baseline is the same honest load without the flood, in the same run.
// It also reports the bytes the spoofed addresses received per byte sent.
func BenchmarkAdmissionUnderFlood(b *testing.B) {
	shapeName := os.Getenv("RTMFPD_FLOOD_SHAPE")
	if shapeName == "" {
		shapeName = "minimal"
	}
	for b.Loop() {
		base, _ := honestRun(b, defaultConfig, manyIPs(8), 8, seconds())
		srv := rtmfpdproc.Start(b, defaultConfig)
		var sh *flood.Shape
		for _, s := range flood.IHelloShapes("rtmfp://"+srv.Addr.String()+"/live", serverPeerID(b, srv), target(b, srv.Addr).Session().Endpoint().PeerID()) {
			if s.Name == shapeName {
				sh = &s
			}
		}
		if sh == nil {
			b.Fatalf("RTMFPD_FLOOD_SHAPE %q: no such shape", shapeName)
		}
		f := flood.New(b, floodSources(), srv.Addr)
		pkts := flood.Packets(*sh, 4096)
		drops0 := udpRcvbufErrors()
		cpu0 := srv.CPU(b)
		done := make(chan float64)
		go func() { done <- f.Run(floodPPS(), seconds()+time.Second, pkts) }()
		time.Sleep(500 * time.Millisecond) // the flood is on
		r := handshakes(b, srv.Addr, manyIPs(8), 8, seconds())
		pps := <-done
		cpu := srv.CPU(b) - cpu0
		base.report(b, "base-")
		r.report(b, "")
		b.ReportMetric(pps, "flood-pps")
		b.ReportMetric(f.Ratio(), "flood-bytes-out/in")
		b.ReportMetric(cpu.Seconds()/(seconds()+time.Second).Seconds()*100, "server-cpu-%")
		b.ReportMetric(float64(udpRcvbufErrors()-drops0), "kernel-drops")
	}
}

// BenchmarkAdmissionAmplification floods a fresh server (default
// configuration, one connected client) with each shape of IHello from
// RTMFPD_FLOOD_SOURCES spoofed addresses at RTMFPD_FLOOD_PPS and reports
// what came back to those addresses per byte sent: from the server, and
// from the connected client when the server forwards IHellos to it.
func BenchmarkAdmissionAmplification(b *testing.B) {
	names := flood.IHelloShapes("rtmfp://x/live", profile.PeerID{}, profile.PeerID{})
	for i := range names {
		b.Run(names[i].Name, func(b *testing.B) {
			for b.Loop() {
				srv := rtmfpdproc.Start(b, defaultConfig)
				tc := target(b, srv.Addr)
				sh := flood.IHelloShapes("rtmfp://"+srv.Addr.String()+"/live", serverPeerID(b, srv), tc.Session().Endpoint().PeerID())[i]
				f := flood.New(b, floodSources(), srv.Addr)
				pkts := flood.Packets(sh, 4096)
				drops0 := udpRcvbufErrors()
				cpu0 := srv.CPU(b)
				pps := f.Run(floodPPS(), seconds(), pkts)
				b.ReportMetric((srv.CPU(b)-cpu0).Seconds()/seconds().Seconds()*100, "server-cpu-%")
				b.ReportMetric(float64(udpRcvbufErrors()-drops0), "kernel-drops")
				b.ReportMetric(float64(socketDrops(srv.Addr)), "server-socket-drops")
				b.ReportMetric(pps, "flood-pps")
				b.ReportMetric(float64(len(pkts[0])), "bytes/packet")
				b.ReportMetric(f.Ratio(), "bytes-out/in")
				b.ReportMetric(float64(f.FromServer.Bytes.Load())/float64(max(f.Sent.Bytes.Load(), 1)), "server-bytes-out/in")
				b.ReportMetric(float64(f.FromOthers.Bytes.Load())/float64(max(f.Sent.Bytes.Load(), 1)), "client-bytes-out/in")
			}
		})
	}
}

// BenchmarkAdmissionReflection: spoofed sources (RTMFPD_FLOOD_SOURCES)
// ask for one connected client's peer ID, 10 IHellos per second each, for
// 10 s, default configuration. It reports the Forwarded IHellos the client
// received per second (each makes it send an RHello to the spoofed
// address), the bytes it sent them, and how many sources got their
// Redirect from the server. The baseline is the IHellos sent per second.
func BenchmarkAdmissionReflection(b *testing.B) {
	for b.Loop() {
		srv := rtmfpdproc.Start(b, defaultConfig)
		tc := target(b, srv.Addr)
		id := tc.Session().Endpoint().PeerID()
		sh := flood.IHelloShapes("", profile.PeerID{}, id)[3]
		n := floodSources()
		f := flood.New(b, n, srv.Addr)
		fi0 := tc.Session().Endpoint().Stats().FIHellosIn
		const d = 10 * time.Second
		pps := f.Run(10*n, d, flood.Packets(sh, 4096))
		fi := tc.Session().Endpoint().Stats().FIHellosIn - fi0
		b.ReportMetric(pps, "ihellos/s")
		b.ReportMetric(float64(fi)/d.Seconds(), "fihellos/s")
		b.ReportMetric(float64(fi), "fihellos")
		b.ReportMetric(float64(f.FromOthers.Bytes.Load())/d.Seconds(), "client-reflected-B/s")
		b.ReportMetric(float64(f.Answered())/float64(n), "sources-redirected")
		b.Logf("%d sources, %.0f IHellos/s for %v: the client got %d Forwarded IHellos (%.0f/s) and sent %d bytes to the spoofed addresses; %d of %d sources got a Redirect",
			n, pps, d, fi, float64(fi)/d.Seconds(), f.FromOthers.Bytes.Load(), f.Answered(), n)
	}
}
