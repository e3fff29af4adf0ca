package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
)

// syntheticStream returns one second of a stream at rate bit/s: 25 video
// frames (a key frame each second, 4× the size of the others) and 50 audio
// frames of 3% of the rate, starting at timestamp base.
func syntheticStream(rate int, base uint32) []media.Message {
	audio := rate * 3 / 100 / 8 / 50
	videoBytes := rate/8 - audio*50
	unit := videoBytes / (24 + 4)
	var out []media.Message
	for i := range 25 {
		n, flag := unit, byte(0x27)
		if i == 0 {
			n, flag = 4*unit, 0x17
		}
		p := make([]byte, n)
		p[0], p[1] = flag, 1
		out = append(out, media.Message{Type: media.TypeVideo, Timestamp: base + uint32(i*40), Payload: p})
		for j := range 2 {
			a := make([]byte, audio)
			a[0], a[1] = 0xaf, 1
			out = append(out, media.Message{Type: media.TypeAudio, Timestamp: base + uint32(i*40+j*20), Payload: a})
		}
	}
	return out
}

// BenchmarkFanout publishes a 2 Mbit/s stream for 10 s to rtmfpd (its own
// process) and plays it with N RTMFP clients on loopback, for N from
// RTMFPD_FANOUT_N (comma separated, default 25,50,100,200). For each N it
// reports the share of media delivered to the players and the server's CPU
// time per delivered Mbit/s.
func BenchmarkFanout(b *testing.B) {
	ns := envInts("RTMFPD_FANOUT_N", []int{25, 50, 100, 200})
	for _, n := range ns {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			for b.Loop() {
				fanoutOnce(b, n, 2_000_000, 10*time.Second)
			}
		})
	}
}

// envInts is the comma-separated list of numbers in the environment
// variable name, or def when it is unset.
func envInts(name string, def []int) []int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(f))
		out = append(out, n)
	}
	return out
}

func fanoutOnce(b *testing.B, players, rate int, dur time.Duration) {
	srv := startServer(b, "")
	url := urlOf(srv.addr, "live")
	conns := dialMany(b, url, players+1)
	ctx := context.Background()
	var received atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, c := range conns[1:] {
		st, err := c.CreateStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Play(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func(st *client.Stream) {
			defer wg.Done()
			for {
				rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				m, err := st.ReadMedia(rctx)
				cancel()
				if err != nil {
					select {
					case <-stop:
						return
					default:
						continue
					}
				}
				if m.IsAudio() || m.IsVideo() {
					received.Add(int64(len(m.Payload)))
				}
			}
		}(st)
	}
	pub, err := conns[0].CreateStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := pub.Publish(ctx, "bench", "live"); err != nil {
		b.Fatal(err)
	}
	cpu0 := srv.cpu(b)
	start := time.Now()
	var sent int64
	for sec := 0; time.Duration(sec)*time.Second < dur; sec++ {
		for _, m := range syntheticStream(rate, uint32(sec*1000)) {
			due := time.Duration(m.Timestamp) * time.Millisecond
			if d := due - time.Since(start); d > 0 {
				time.Sleep(d)
			}
			if err := pub.WriteMedia(ctx, m); err != nil {
				b.Fatal(err)
			}
			sent += int64(len(m.Payload))
		}
	}
	// Let the last second drain.
	deadline := time.Now().Add(5 * time.Second)
	for received.Load() < sent*int64(players) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cpu := srv.cpu(b) - cpu0
	close(stop)
	wg.Wait()
	got := received.Load()
	share := float64(got) / float64(sent*int64(players))
	mbit := float64(got) * 8 / 1e6
	b.ReportMetric(share*100, "%delivered")
	b.ReportMetric(float64(cpu.Microseconds())/1000/mbit, "server-ms/Mbit")
	b.ReportMetric(float64(cpu)/float64(time.Since(start))*100, "server-%cpu")
}
