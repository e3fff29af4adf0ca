package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// BenchmarkServerHandshake measures complete RTMFP handshakes (Flash form,
// DH group 2: IHello, RHello, IIKeying, RIKeying, then an immediate session
// close) against an rtmfpd process on loopback, from 1, 8 and 32
// concurrent clients (RTMFPD_HS_CLIENTS=n for one count). It reports
// handshakes per second and the server's CPU time per handshake, read from
// /proc (client CPU is not counted). The more concurrent handshakes, the
// more each socket read and wake-up serves: 32 clients saturate the server.
func BenchmarkServerHandshake(b *testing.B) {
	counts := []int{1, 8, 32}
	if v := envInt("RTMFPD_HS_CLIENTS"); v > 0 {
		counts = []int{v}
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { serverHandshakes(b, n) })
	}
}

func serverHandshakes(b *testing.B, clients int) {
	srv := startServer(b, "")
	eps := make([]*rtmfp.Endpoint, clients)
	for i := range eps {
		p, err := flash.New(flash.Config{})
		if err != nil {
			b.Fatal(err)
		}
		eps[i], err = rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: p, CloseTimeout: 200 * time.Millisecond,
			StartupRate: 1e6, StartupBurst: 1e6})
		if err != nil {
			b.Fatal(err)
		}
		defer eps[i].Close()
	}
	epd := flash.URLEPD("rtmfp://127.0.0.1/bench")
	ctx := context.Background()
	// Warm up.
	if s, err := eps[0].Connect(ctx, epd, srv.addr); err != nil {
		b.Fatal(err)
	} else {
		s.Abort()
	}
	var next atomic.Int64
	var failed atomic.Int64
	cpu0 := srv.cpu(b)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				s, err := ep.Connect(cctx, epd, srv.addr)
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				s.Abort()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	cpu := srv.cpu(b) - cpu0
	if failed.Load() > int64(b.N)/100 {
		b.Fatalf("%d of %d handshakes failed", failed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "handshakes/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "server-ms/handshake")
}

// BenchmarkDHGroup2 is the Diffie-Hellman arithmetic alone of one server
// handshake (RFC 7425 group 2: key generation and shared secret, two modular
// exponentiations with big.Int.Exp), with the exponent length rtmfpd uses
// (160 bits) and with full-length (1024-bit) exponents, for comparison in
// the same run. The server generates its key from a fixed-base table
// instead (rtmfp/profile/flash), so exp160 bounds its DH work from above.
func BenchmarkDHGroup2(b *testing.B) {
	p, _ := new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF", 16)
	g := big.NewInt(2)
	peer, _ := rand.Int(rand.Reader, p)
	for _, bits := range []int{160, 1024} {
		b.Run(fmt.Sprintf("exp%d", bits), func(b *testing.B) {
			for b.Loop() {
				x, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
				new(big.Int).Exp(g, x, p)
				new(big.Int).Exp(peer, x, p)
			}
		})
	}
}
