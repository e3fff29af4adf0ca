package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

const introConfig = `{"status": "127.0.0.1:0", "session": {"startupRate": 1000000, "startupBurst": 1000000},
	"introducer": {"introductionRate": 1000000, "forwardRate": 1000000}}`

// BenchmarkIntroductions sends IHellos naming a connected peer to rtmfpd as
// fast as one socket can, for 2 s per iteration, and counts the Redirects
// that come back (each introduction also sends the target a Forwarded
// IHello). It reports introductions per second and the server's CPU time per
// introduction.
func BenchmarkIntroductions(b *testing.B) {
	srv := startServer(b, introConfig)
	conns := dialMany(b, urlOf(srv.addr, "live"), 1)
	target := conns[0].Session().Endpoint().PeerID()
	startup, _ := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sock.Close()
	sock.SetReadBuffer(4 << 20)
	var redirects atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := sock.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if body, err := startup.Open(buf[4:n]); err == nil {
				if _, h, err := wire.ParseHeader(body); err == nil && len(body) > h && body[h] == wire.TypeRedirect {
					redirects.Add(1)
				}
			}
		}
	}()
	epd := flash.PeerEPD(target)
	var total time.Duration
	var count int64
	cpu0 := srv.cpu(b)
	for b.Loop() {
		redirects.Store(0)
		start := time.Now()
		tag := make([]byte, 16)
		var sent int64
		for time.Since(start) < 2*time.Second {
			// Keep at most 256 introductions in flight so that the
			// count measures the server's rate, not socket drops.
			if sent-redirects.Load() > 256 {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			rand.Read(tag)
			h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp}
			body := wire.IHello{EPD: epd, Tag: tag}.Append(h.Append(nil))
			pkt := startup.Seal(make([]byte, 4), body)
			scrambleZero(pkt)
			sock.WriteToUDPAddrPort(pkt, srv.addr)
			sent++
		}
		time.Sleep(100 * time.Millisecond)
		total += time.Since(start)
		count += redirects.Load()
	}
	cpu := srv.cpu(b) - cpu0
	b.ReportMetric(float64(count)/total.Seconds(), "introductions/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(count, 1)), "server-µs/introduction")
}

// BenchmarkGroupJoins connects 10000 clients (RTMFPD_JOIN_N to change) to
// rtmfpd and has them all join one NetGroup; it reports joins per second
// from the first join to the server counting all of them, and the server's
// CPU time per join.
func BenchmarkGroupJoins(b *testing.B) {
	n := 10000
	if v := envInt("RTMFPD_JOIN_N"); v > 0 {
		n = v
	}
	for b.Loop() {
		srv := startServer(b, introConfig)
		conns := dialMany(b, urlOf(srv.addr, "live"), n)
		spec, _ := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
		ctx := context.Background()
		cpu0 := srv.cpu(b)
		start := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, c := range conns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, err := c.JoinGroup(ctx, spec.GroupID()); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		for {
			st := introStats(b, srv)
			if st.Joins >= uint64(n) {
				break
			}
			if time.Since(start) > 120*time.Second {
				b.Fatalf("only %d of %d joins after 2 minutes", st.Joins, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		el := time.Since(start)
		cpu := srv.cpu(b) - cpu0
		b.ReportMetric(float64(n)/el.Seconds(), "joins/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "server-µs/join")
	}
}

type introducerStats struct {
	Joins   uint64 `json:"joins"`
	Members int    `json:"members"`
}

func introStats(tb testing.TB, s *server) introducerStats {
	resp, err := http.Get("http://" + s.status + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Introducer introducerStats `json:"introducer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		tb.Fatal(err)
	}
	return doc.Introducer
}

func envInt(name string) int {
	var v int
	fmt.Sscan(getenv(name), &v)
	return v
}

// scrambleZero writes session ID 0 into the scrambled ID field (RFC 7016
// §2.2.1: the field is the ID XOR the first two words of the packet).
func scrambleZero(pkt []byte) {
	for i := range 4 {
		pkt[i] = pkt[4+i] ^ pkt[8+i]
	}
}
