package abuse

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// smallReceiveBuffer sets a socket's receive buffer to 64 KiB.
func smallReceiveBuffer(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
	})
	if err != nil {
		return err
	}
	return serr
}

// BenchmarkStickyFlood: an RTMP publisher sends a 64 KB AAC sequence
// header 50 times a second (3.2 MB/s of "codec headers", which player
// queues once kept whatever their bound) along with 25 frames/s of video.
// Two RTMP players read at 128 KB/s, one RTMFP player plays and never reads
// (its flows' windows close; its session goes on answering pings), and one
// RTMP player reads at full speed. For RTMFPD_ABUSE_SECONDS (default 60).
//
// Bound: the server's memory grows by at most 64 MB (Go heap in use when
// the server reports it, else its resident set), the three slow players
// are disconnected before the end (the default slow-consumer time is 30 s),
// and the fast player is served throughout.
func BenchmarkStickyFlood(b *testing.B) {
	dur := seconds("RTMFPD_ABUSE_SECONDS", 60*time.Second)
	for b.Loop() {
		srv := startServer(b, baseConfig(""))
		url := "rtmp://" + srv.rtmp + "/live"
		ctx, cancel := context.WithTimeout(context.Background(), dur+30*time.Second)
		defer cancel()
		time.Sleep(500 * time.Millisecond)
		base := srv.sample(b, 250*time.Millisecond)
		time.Sleep(time.Second)
		base.end()
		start := base.snapshot()

		var wg sync.WaitGroup
		var slowGone atomic.Int32
		var fastErr atomic.Value
		var fastBytes atomic.Int64
		var players []*rtmp.Client
		// The players, first: they get everything from the start.
		for i := range 3 {
			opts := &rtmp.ClientOptions{Dialer: &net.Dialer{}}
			if i < 2 {
				// The slow players' sockets buffer little, as a player
				// on a slow link would not hold megabytes in flight.
				opts.Dialer.Control = smallReceiveBuffer
			}
			p, err := rtmp.Dial(ctx, url, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			players = append(players, p)
			if err := p.Play(ctx, "s"); err != nil {
				b.Fatal(err)
			}
			rate := int64(128 << 10)
			if i == 2 {
				rate = 0 // the fast one
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				began := time.Now()
				var n int64
				for {
					m, err := p.ReadMessage()
					if err != nil {
						if rate == 0 {
							if ctx.Err() == nil {
								fastErr.Store(err)
							}
						} else {
							slowGone.Add(1)
						}
						return
					}
					n += int64(len(m.Payload))
					if rate == 0 {
						fastBytes.Add(int64(len(m.Payload)))
						continue
					}
					if ahead := time.Duration(n*int64(time.Second)/rate) - time.Since(began); ahead > 0 {
						select {
						case <-time.After(ahead):
						case <-ctx.Done():
							return
						}
					}
				}
			}()
		}
		rc, err := client.Dial(ctx, "rtmfp://"+srv.rtmfp.String()+"/live", client.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		st, err := rc.CreateStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Play(ctx, "s"); err != nil {
			b.Fatal(err)
		}
		// st.ReadMedia is never called.

		pub, err := rtmp.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer pub.Close()
		if err := pub.Publish(ctx, "s", rtmp.ModeLive); err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				if _, err := pub.ReadMessage(); err != nil {
					return
				}
			}
		}()
		sm := srv.sample(b, 500*time.Millisecond)
		aac := make([]byte, 64<<10)
		aac[0], aac[1] = 0xAF, 0x00
		avc := make([]byte, 40)
		avc[0], avc[1] = 0x17, 0x00
		if err := pub.WriteMedia(media.Message{Type: media.TypeVideo, Payload: avc}); err != nil {
			b.Fatal(err)
		}
		frame := make([]byte, 10_000)
		tick := time.NewTicker(20 * time.Millisecond)
		began := time.Now()
		for i := 0; time.Since(began) < dur; i++ {
			ts := uint32(i * 20)
			if err := pub.WriteMedia(media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: aac}); err != nil {
				b.Fatalf("publisher: %v", err)
			}
			if i%2 == 0 {
				frame[0], frame[1] = 0x27, 0x01
				if i%50 == 0 {
					frame[0] = 0x17
				}
				if err := pub.WriteMedia(media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: frame}); err != nil {
					b.Fatalf("publisher: %v", err)
				}
			}
			<-tick.C
		}
		tick.Stop()
		sm.end()
		end := sm.snapshot()
		rtmfpGone := false
		select {
		case <-rc.Done():
			rtmfpGone = true
		default:
		}
		growth, what := end.rssPeak-start.rssMin, "RSS"
		if end.hasHeap {
			growth, what = end.heapPeak-start.heapLast, "heap in use"
		}
		b.ReportMetric(growth, "MB-growth")
		b.ReportMetric(end.rssPeak, "MB-rss-peak")
		b.ReportMetric(float64(slowGone.Load()), "slow-rtmp-closed")
		b.ReportMetric(float64(fastBytes.Load())/1e6, "MB-to-fast-player")
		b.Logf("%s grew %.0f MB (RSS %.0f → peak %.0f MB); slow RTMP players closed: %d of 2; RTMFP player closed: %v",
			what, growth, start.rssMin, end.rssPeak, slowGone.Load(), rtmfpGone)
		if growth > 64 {
			b.Errorf("server memory grew by %.0f MB (bound 64 MB)", growth)
		}
		if slowGone.Load() != 2 || !rtmfpGone {
			b.Errorf("slow players still connected after %v: RTMP %d of 2 closed, RTMFP closed: %v", dur, slowGone.Load(), rtmfpGone)
		} else if !srv.waitLog(10*time.Second, 3, "clos", "reason=") {
			b.Errorf("no logged reasons for the closed players:\n%s", strings.Join(srv.find("clos"), "\n"))
		}
		if err := fastErr.Load(); err != nil {
			b.Errorf("the fast player was disconnected: %v", err)
		}
		pub.Close()
		cancel()
		for _, p := range players {
			p.Close()
		}
		wg.Wait()
	}
}
