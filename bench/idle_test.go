package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// identities is a client profile that opens each handshake with the next
// of several identities, so that one endpoint can hold many sessions to
// the same server: a server takes a second session of the same peer from
// the same address for a restart of that peer and closes the first (RFC
// 7425 §4.3.7).
type identities struct {
	*flash.Profile
	ids  []*flash.Profile
	next atomic.Uint64
}

func (p *identities) NewInitiator(epd []byte) (profile.Initiator, error) {
	return p.ids[int(p.next.Add(1)%uint64(len(p.ids)))].NewInitiator(epd)
}

// serverStatus is what the idle benchmark reads of GET /status.
type serverStatus struct {
	Endpoints []struct {
		Stats struct {
			Sessions              int
			PacketsIn, PacketsOut uint64
		} `json:"stats"`
	} `json:"rtmfp"`
	NetStream struct{ Conns int } `json:"netstream"`
	Memory    struct {
		HeapLive   int64 `json:"heapLive"`
		HeapInuse  int64 `json:"heapInuse"`
		Goroutines int   `json:"goroutines"`
	} `json:"memory"`
}

func readStatus(tb testing.TB, addr string) serverStatus {
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + addr + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var st serverStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		tb.Fatal(err)
	}
	if len(st.Endpoints) == 0 {
		tb.Fatal("the status lists no RTMFP endpoint")
	}
	return st
}

// serverProfiles collects the server's garbage (its heap profile with
// gc=1), so that the live heap its status reports next is exact, and
// writes its heap and goroutine profiles into dir unless dir is empty.
func serverProfiles(tb testing.TB, status, dir string) {
	c := http.Client{Timeout: time.Minute}
	for _, p := range []string{"heap?gc=1", "goroutine?debug=1"} {
		resp, err := c.Get("http://" + status + "/debug/pprof/" + p)
		if err != nil {
			tb.Fatal(err)
		}
		dump, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			tb.Fatalf("%s: %s %v", p, resp.Status, err)
		}
		if dir == "" {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, p[:strings.IndexByte(p, '?')]), dump, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// rssKB is a process's resident set (VmRSS) in KB.
func rssKB(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// idleConnect opens a session from ep and runs NetConnection.connect on
// it, then leaves it idle: the rtmfp endpoints of both ends keep it alive.
func idleConnect(ctx context.Context, ep *rtmfp.Endpoint, url string, addr netip.AddrPort) error {
	s, err := ep.Connect(ctx, flash.URLEPD(url), addr)
	if err != nil {
		return err
	}
	f, err := s.OpenFlow(tcflow.Metadata(0), rtmfp.FlowOptions{Priority: 3})
	if err != nil {
		return err
	}
	m, err := netstream.EncodeCommand("connect", 1, amf.NewObject(
		amf.Property{Key: "app", Value: "live"},
		amf.Property{Key: "tcUrl", Value: url},
		amf.Property{Key: "objectEncoding", Value: 3.0}))
	if err != nil {
		return err
	}
	if err := tcflow.Write(ctx, f, m, 0); err != nil {
		return err
	}
	rf, err := s.AcceptFlow(ctx)
	if err != nil {
		return err
	}
	b, err := rf.ReadMessage(ctx)
	if err != nil {
		return err
	}
	r, err := tcflow.Decode(b)
	if err != nil {
		return err
	}
	c, err := netstream.DecodeCommand(r)
	if err != nil {
		return err
	}
	if c.Name != "_result" {
		return fmt.Errorf("connect answered with %s", c.Name)
	}
	return nil
}

// BenchmarkIdleSessions: N connected NetConnections (RTMFP handshake and
// NetConnection.connect, no stream; RTMFPD_IDLE_N, default 200,000) opened
// from A client endpoints on as many 127.0.0.0/8 addresses
// (RTMFPD_IDLE_ADDRS, default 250), then left idle with both ends' default
// keepalives (15 s) for a window (RTMFPD_IDLE_SECONDS, default 120 s: past
// the 95 s for which a responder keeps what answers a repeated IIKeying).
// rtmfpd runs as its own process; reported per session: its live heap
// (what the last collection kept), its resident set and its goroutines,
// each less the server's own before the clients came; and the server's
// CPU over the idle window. Memory: the clients hold about as much again.
// RTMFPD_IDLE_PPROF names a folder for the server's heap and goroutine
// profiles at the end of the window (go tool pprof
// -sample_index=inuse_space).
func BenchmarkIdleSessions(b *testing.B) {
	n, nAddrs, secs := 200000, 250, 120
	if v := envInt("RTMFPD_IDLE_N"); v > 0 {
		n = v
	}
	if v := envInt("RTMFPD_IDLE_ADDRS"); v > 0 {
		nAddrs = v
	}
	if v := envInt("RTMFPD_IDLE_SECONDS"); v > 0 {
		secs = v
	}
	nAddrs = min(nAddrs, n)
	raiseFileLimit(b)
	perAddr := (n + nAddrs - 1) / nAddrs
	ids := make([]*flash.Profile, perAddr)
	for i := range ids {
		p, err := flash.New(flash.Config{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = p
	}
	for b.Loop() {
		srv := startServer(b, fmt.Sprintf(`{"status": "127.0.0.1:0", "admin": {"enabled": true, "pprof": true}, "rtmp": [], "session": {"maxSessions": %d, "startupRate": 1000000, "startupBurst": 1000000}}`, n+1000))
		pid := srv.cmd.Process.Pid
		serverProfiles(b, srv.status, "")
		st0, rss0 := readStatus(b, srv.status), rssKB(b, pid)
		url := urlOf(srv.addr, "live")

		eps := make([]*rtmfp.Endpoint, nAddrs)
		for i := range eps {
			// 127.1.0.1, 127.1.0.2, ...: one source address per endpoint.
			a := netip.AddrFrom4([4]byte{127, byte(1 + i/250), byte(i % 250), 1})
			e, err := rtmfp.Listen("udp4", netip.AddrPortFrom(a, 0).String(), rtmfp.Config{
				Profile: &identities{Profile: ids[0], ids: ids}, Logger: quiet, MaxSessions: perAddr + 16,
				HandshakeTimeout: 120 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			eps[i] = e
		}
		b.Cleanup(func() {
			for _, e := range eps {
				e.Close()
			}
		})

		start, cpu0 := time.Now(), srv.cpu(b)
		var next, failed atomic.Int64
		var firstErr error
		var errOnce sync.Once
		var wg sync.WaitGroup
		for range 96 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
					err := idleConnect(ctx, eps[i%nAddrs], url, srv.addr)
					cancel()
					if err != nil {
						failed.Add(1)
						errOnce.Do(func() { firstErr = err })
					}
				}
			})
		}
		wg.Wait()
		setup, setupCPU := time.Since(start), srv.cpu(b)-cpu0
		if f := failed.Load(); f > 0 {
			b.Logf("%d of %d connects failed, the first: %v", f, n, firstErr)
		}

		stA := readStatus(b, srv.status)
		cpuA, tA := srv.cpu(b), time.Now()
		time.Sleep(time.Duration(secs) * time.Second)
		idle, window := srv.cpu(b)-cpuA, time.Since(tA)
		serverProfiles(b, srv.status, os.Getenv("RTMFPD_IDLE_PPROF"))
		stB := readStatus(b, srv.status)
		rss := rssKB(b, pid)
		open := stB.Endpoints[0].Stats.Sessions
		if open < n*99/100 {
			b.Fatalf("only %d of %d sessions open after the idle window (%d NetConnections)", open, n, stB.NetStream.Conns)
		}
		per := float64(open)
		pktsIn := float64(stB.Endpoints[0].Stats.PacketsIn-stA.Endpoints[0].Stats.PacketsIn) / window.Seconds()
		pktsOut := float64(stB.Endpoints[0].Stats.PacketsOut-stA.Endpoints[0].Stats.PacketsOut) / window.Seconds()
		b.ReportMetric(float64(open), "sessions")
		b.ReportMetric(float64(stB.NetStream.Conns), "netconnections")
		b.ReportMetric(float64(stB.Memory.HeapLive-st0.Memory.HeapLive)/per, "heap-B/session")
		b.ReportMetric(float64(stB.Memory.HeapInuse-st0.Memory.HeapInuse)/per, "heapinuse-B/session")
		b.ReportMetric(float64(rss-rss0)*1024/per, "rss-B/session")
		b.ReportMetric(float64(stB.Memory.Goroutines-st0.Memory.Goroutines)/per, "goroutines/session")
		b.ReportMetric(float64(stB.Memory.Goroutines), "goroutines")
		b.ReportMetric(float64(rss)/1024, "rss-MB")
		b.ReportMetric(idle.Seconds()/window.Seconds()*100, "idle-cpu-%")
		b.ReportMetric(pktsIn, "pkts-in/s")
		b.ReportMetric(pktsOut, "pkts-out/s")
		b.ReportMetric(setup.Seconds(), "setup-s")
		b.ReportMetric(float64(setupCPU.Microseconds())/1000/float64(n), "setup-ms/session")
		b.ReportMetric(float64(failed.Load()), "failed")
	}
}
