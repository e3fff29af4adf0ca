package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

var (
	vodFileOnce sync.Once
	vodFileDir  string
)

// vodFile makes (once per run) a long FLV file with ffmpeg: 90 s of
// 320x240 video at 25 frames/s and about 500 kbit/s, with AAC audio,
// under dir/vod/streams/_definst_/long.flv; it returns dir and the file's
// media bytes per second.
func vodFile(b *testing.B) (string, float64) {
	vodFileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rtmfpd-vod-bench")
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "vod", "streams", "_definst_", "long.flv")
		os.MkdirAll(filepath.Dir(out), 0o755)
		testtools.FFmpeg(b, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "90", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "500k", "-g", "50",
			"-c:a", "aac", "-b:a", "64k", "-f", "flv", out)
		vodFileDir = dir
	})
	fi, err := os.Stat(filepath.Join(vodFileDir, "vod", "streams", "_definst_", "long.flv"))
	if err != nil {
		b.Fatal(err)
	}
	return vodFileDir, float64(fi.Size()) / 90
}

// BenchmarkVODPlayers plays one long file (90 s, about 560 kbit/s) to N
// RTMP players at once from rtmfpd (its own process) and, in the same run,
// from nginx with the RTMP module (application vod { play ...; }), for N
// from RTMFPD_VOD_N (default 10,100,500). After the players started (each
// asks for a 3 s buffer), the servers' CPU time and resident memory are
// read over RTMFPD_VOD_SECONDS seconds (default 10). Reported per server:
// the share of real time delivered, server CPU ms per delivered Mbit/s,
// resident memory per player (above the server's own before the players);
// then the ratios rtmfpd/nginx.
func BenchmarkVODPlayers(b *testing.B) {
	ns := envInts("RTMFPD_VOD_N", []int{10, 100, 500})
	dur := 10 * time.Second
	if n := envInt("RTMFPD_VOD_SECONDS"); n > 0 {
		dur = time.Duration(n) * time.Second
	}
	raiseFileLimit(b)
	dir, rate := vodFile(b)
	for _, n := range ns {
		b.Run(fmt.Sprintf("players=%d", n), func(b *testing.B) {
			for b.Loop() {
				cfg := fmt.Sprintf(`{"status": "off", "media": {"root": %q, "apps": [{"app": "vod", "maxLead": "3s"}]}}`, dir)
				srv := startServer(b, cfg)
				pid := srv.cmd.Process.Pid
				ours, err := vodOnce(b, "rtmp://"+srv.rtmp+"/vod", pid, n, rate, dur)
				if err != nil {
					b.Fatalf("rtmfpd: %v", err)
				}
				ng := testtools.StartNginxRTMP(b, "application vod { play "+filepath.Join(dir, "vod", "streams", "_definst_")+"; }")
				theirs, err := vodOnce(b, ng.URL("vod"), ng.Pid(), n, rate, dur)
				if err != nil {
					// The baseline could not take that many players: say so
					// and report rtmfpd's figures alone.
					b.Logf("nginx: %v", err)
					b.ReportMetric(ours.realtime*100, "rtmfpd-%realtime")
					b.ReportMetric(ours.msPerMbit, "rtmfpd-ms/Mbit")
					b.ReportMetric(ours.kbPerPlayer, "rtmfpd-KB/player")
					b.ReportMetric(float64(theirs.players), "nginx-players")
					continue
				}
				for _, r := range []struct {
					name string
					v    vodResult
				}{{"rtmfpd", ours}, {"nginx", theirs}} {
					b.ReportMetric(r.v.realtime*100, r.name+"-%realtime")
					b.ReportMetric(r.v.msPerMbit, r.name+"-ms/Mbit")
					b.ReportMetric(r.v.kbPerPlayer, r.name+"-KB/player")
				}
				b.ReportMetric(ours.msPerMbit/theirs.msPerMbit, "cpu-ratio")
				b.ReportMetric(ours.kbPerPlayer/theirs.kbPerPlayer, "rss-ratio")
			}
		})
	}
}

type vodResult struct {
	players     int     // players that started
	realtime    float64 // media delivered over the window / real time × players
	msPerMbit   float64 // server CPU ms per delivered Mbit
	kbPerPlayer float64 // resident memory per player, KB
}

// vodOnce plays the file to n players from the application at url; pid is
// the server's process.
func vodOnce(b *testing.B, url string, pid, n int, rate float64, dur time.Duration) (vodResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	rss0 := procRSS(b, pid)
	var received atomic.Int64
	var started sync.WaitGroup
	var wg sync.WaitGroup
	players := make([]*rtmp.Client, 0, n)
	closeAll := func() {
		for _, p := range players {
			p.Close()
		}
		wg.Wait()
	}
	// Generous timeouts: the machine is shared, and the point is what a
	// server does once its players play.
	opts := &rtmp.ClientOptions{Config: &rtmp.Config{HandshakeTimeout: time.Minute, ReadTimeout: 2 * time.Minute}}
	for range n {
		p, err := rtmp.Dial(ctx, url, opts)
		if err == nil {
			err = p.Play(ctx, "long")
		}
		if err != nil {
			closeAll()
			return vodResult{players: len(players)}, fmt.Errorf("player %d of %d: %w", len(players)+1, n, err)
		}
		players = append(players, p)
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for {
				m, err := p.ReadMessage()
				if err != nil {
					if first {
						started.Done()
					}
					return
				}
				if m.Type != media.TypeAudio && m.Type != media.TypeVideo {
					continue
				}
				if first {
					first = false
					started.Done()
				}
				received.Add(int64(len(m.Payload)) + 11) // as in the file: with the tag header
			}
		}()
	}
	started.Wait()
	// Past the first buffers' burst, in real time.
	time.Sleep(4 * time.Second)
	cpu0, got0, t0 := procCPU(b, pid), received.Load(), time.Now()
	time.Sleep(dur)
	cpu1, got1, took := procCPU(b, pid), received.Load(), time.Since(t0)
	rss := procRSS(b, pid)
	closeAll()
	bytes := float64(got1 - got0)
	mbits := bytes * 8 / 1e6
	return vodResult{
		players:     n,
		realtime:    bytes / (rate * took.Seconds() * float64(n)),
		msPerMbit:   float64((cpu1 - cpu0).Microseconds()) / 1000 / mbits,
		kbPerPlayer: float64(rss-rss0) / 1024 / float64(n),
	}, nil
}

// procRSS returns a process's resident memory in bytes.
func procRSS(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("reading server memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}
