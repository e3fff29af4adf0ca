package bench

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// BenchmarkRawUDP is the baseline for BenchmarkFlowThroughput: one sender
// writing 1200-byte datagrams over loopback as fast as it can for a second
// and one receiver counting what arrives (what the kernel drops is lost).
// It reports the received rate in MB/s.
func BenchmarkRawUDP(b *testing.B) {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	rc.SetReadBuffer(4 << 20)
	sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	to := rc.LocalAddr().(*net.UDPAddr).AddrPort()
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := rc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			got.Add(int64(n))
		}
	}()
	pkt := make([]byte, 1200)
	var total time.Duration
	var bytes int64
	for b.Loop() {
		got.Store(0)
		start := time.Now()
		for time.Since(start) < time.Second {
			for range 64 {
				sc.WriteToUDPAddrPort(pkt, to)
			}
		}
		// Let the receiver drain what is queued.
		time.Sleep(20 * time.Millisecond)
		total += time.Since(start)
		bytes += got.Load()
	}
	rc.Close()
	<-done
	b.ReportMetric(float64(bytes)/total.Seconds()/1e6, "MB/s")
}

// BenchmarkFlowThroughput sends 64 MiB per iteration on one reliable RTMFP
// flow between two endpoints on loopback (Flash profile: AES-128-CBC and
// checksums, congestion control, acknowledgements) and reports MB/s of
// application data delivered.
func BenchmarkFlowThroughput(b *testing.B) {
	mk := func() *rtmfp.Endpoint {
		p, err := flash.New(flash.Config{})
		if err != nil {
			b.Fatal(err)
		}
		e, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: p, CloseTimeout: 200 * time.Millisecond,
			SendBuffer: 8 << 20, RecvWindow: 8 << 20})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	srv, cli := mk(), mk()
	defer srv.Close()
	defer cli.Close()
	ctx := context.Background()
	cs, err := cli.Connect(ctx, flash.URLEPD("rtmfp://x/bench"), netip.MustParseAddrPort(srv.LocalAddr().String()))
	if err != nil {
		b.Fatal(err)
	}
	ss, err := srv.Accept(ctx)
	if err != nil {
		b.Fatal(err)
	}
	f, err := cs.OpenFlow([]byte("bulk"), rtmfp.FlowOptions{})
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64<<10)
	const perIter = 64 << 20
	rfCh := make(chan *rtmfp.RecvFlow, 1)
	go func() {
		rf, err := ss.AcceptFlow(ctx)
		if err == nil {
			rfCh <- rf
		}
	}()
	f.Write(msg[:1])
	rf := <-rfCh
	rf.ReadMessage(ctx)
	var total time.Duration
	var bytes int64
	for b.Loop() {
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			for sent := 0; sent < perIter; sent += len(msg) {
				for {
					err := f.Write(msg)
					if err == nil {
						break
					}
					if err != rtmfp.ErrBufferFull {
						errc <- err
						return
					}
					if err := f.WaitBuffer(ctx, len(msg)); err != nil {
						errc <- err
						return
					}
				}
			}
			errc <- nil
		}()
		for n := 0; n < perIter; {
			m, err := rf.ReadMessage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(m)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		bytes += perIter
	}
	b.ReportMetric(float64(bytes)/total.Seconds()/1e6, "MB/s")
	st := cs.Stats()
	b.ReportMetric(float64(st.Retransmits), "retransmits")
}
