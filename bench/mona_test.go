package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
)

// Whole-server comparisons with MonaServer2 (its MonaTiny server) under
// librtmfp's load generator: a server and a client nobody on this project
// wrote, measured in the same run as rtmfpd. Both programs are built
// outside the repository (/work/shared/tools/rtmfp-load/README.md for
// rtmfp-load and librtmfp; MonaServer2's MonaBase, MonaCore and MonaTiny
// with make) and found through RTMFPD_RTMFP_LOAD and RTMFPD_MONATINY.

// monaTiny is a MonaTiny process with RTMFP and RTMP on loopback ports.
type monaTiny struct {
	cmd         *exec.Cmd
	rtmfp, rtmp string // host:port
}

// startMonaTiny runs MonaServer2's MonaTiny (RTMFPD_MONATINY) with a
// loopback-only configuration in a temporary folder and waits until it
// logs that its RTMFP and RTMP servers started.
func startMonaTiny(b *testing.B) *monaTiny {
	bin := testtools.External(b, "RTMFPD_MONATINY", "MonaServer2's MonaTiny (build MonaBase, MonaCore and MonaTiny "+
		"of MonaSolutions/MonaServer2 outside the repository with make)")
	dir := b.TempDir()
	m := &monaTiny{
		rtmfp: "127.0.0.1:" + strconv.Itoa(freeUDPPort(b)),
		rtmp:  "127.0.0.1:" + strconv.Itoa(testtools.FreePort(b)),
	}
	ini := fmt.Sprintf("[RTMFP]\nhost = 127.0.0.1\nport = %s\n[RTMP]\nhost = 127.0.0.1\nport = %s\n"+
		"[HTTP=false]\n[HTTPS=false]\n[RTMPS=false]\n[WS=false]\n[WSS=false]\n",
		m.rtmfp[len("127.0.0.1:"):], m.rtmp[len("127.0.0.1:"):])
	if err := os.WriteFile(filepath.Join(dir, "MonaTiny.ini"), []byte(ini), 0o644); err != nil {
		b.Fatal(err)
	}
	m.cmd = exec.Command(bin, filepath.Join(dir, "MonaTiny.ini"))
	m.cmd.Dir = dir
	if err := m.cmd.Start(); err != nil {
		b.Fatalf("MonaTiny: %v", err)
	}
	b.Cleanup(func() {
		m.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { m.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			m.cmd.Process.Kill()
		}
	})
	log := filepath.Join(dir, "MonaTiny.log", "0.log")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if t, err := os.ReadFile(log); err == nil && strings.Contains(string(t), "RTMFP server started") &&
			strings.Contains(string(t), "RTMP server started") {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t, _ := os.ReadFile(log)
	b.Fatalf("MonaTiny did not report its RTMFP and RTMP servers within 10 s; its log:\n%s", t)
	return nil
}

func (m *monaTiny) cpu(b *testing.B) time.Duration { return procCPU(b, m.cmd.Process.Pid) }

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(b *testing.B) int {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// loadOutput runs rtmfp-load with args and returns its key=value fields
// (the last value of each key); it fails the benchmark when the program
// printed no mode line. rtmfp-load exits 1 when some connection failed,
// which its fields say.
func loadOutput(b *testing.B, args ...string) (map[string]float64, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, testtools.RTMFPLoad(b), args...).CombinedOutput()
	if ctx.Err() != nil || !strings.Contains(string(out), "mode=") {
		b.Fatalf("rtmfp-load %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	kv := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		prefix := ""
		if len(fields) > 0 && !strings.Contains(fields[0], "=") {
			prefix = fields[0] + "."
		}
		for _, f := range fields {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if x, err := strconv.ParseFloat(strings.TrimSuffix(v, "s"), 64); err == nil {
				kv[prefix+k] = x
			}
		}
	}
	return kv, string(out)
}

// handshakeRun is one rtmfp-load handshakes run against one server.
type handshakeRun struct {
	cpuPer         time.Duration // server CPU per connect+close
	rate, p50, p95 float64
	failed         int
}

// handshakesOnce runs n librtmfp connect+close cycles (NetConnection
// connect included), c in flight, against url; cpu reads the server's CPU.
func handshakesOnce(b *testing.B, url string, cpu func() time.Duration, n, c int) handshakeRun {
	c0 := cpu()
	kv, out := loadOutput(b, "-b", "127.0.0.1", "handshakes", "-n", strconv.Itoa(n), "-c", strconv.Itoa(c), url)
	used := cpu() - c0
	r := handshakeRun{
		rate:   kv["handshakes_per_s"],
		p50:    kv["connect_latency_ms.p50"],
		p95:    kv["connect_latency_ms.p95"],
		failed: int(kv["failed"]),
	}
	done := int(kv["completed"])
	if done == 0 {
		b.Fatalf("no handshake completed against %s:\n%s", url, out)
	}
	r.cpuPer = used / time.Duration(done)
	return r
}

// BenchmarkMonaHandshakes: librtmfp's load generator runs 1,000
// connect+close cycles (RTMFP handshake, NetConnection connect and its
// result, session close), 64 in flight, against rtmfpd (its per-address
// startup limit lifted: every client is 127.0.0.1) and against MonaTiny,
// one after the other in the same run. Reported: server CPU per cycle for
// each, and the ratio rtmfpd/MonaTiny (RTMFPD_HANDSHAKES_N changes N).
func BenchmarkMonaHandshakes(b *testing.B) {
	n := 1000
	if v := envInt("RTMFPD_HANDSHAKES_N"); v > 0 {
		n = v
	}
	testtools.RTMFPLoad(b)
	for b.Loop() {
		srv := startServer(b, `{"status": "off", "rtmp": [], "session": {"startupRate": 1000000, "startupBurst": 1000000}}`)
		ours := handshakesOnce(b, "rtmfp://"+srv.addr.String()+"/live", func() time.Duration { return srv.cpu(b) }, n, 64)
		m := startMonaTiny(b)
		theirs := handshakesOnce(b, "rtmfp://"+m.rtmfp+"/live", func() time.Duration { return m.cpu(b) }, n, 64)
		for _, r := range []struct {
			name string
			v    handshakeRun
		}{{"rtmfpd", ours}, {"mona", theirs}} {
			b.ReportMetric(float64(r.v.cpuPer.Microseconds())/1000, r.name+"-ms/handshake")
			b.ReportMetric(r.v.rate, r.name+"-handshakes/s")
			b.ReportMetric(r.v.p95, r.name+"-p95-ms")
			b.ReportMetric(float64(r.v.failed), r.name+"-failed")
		}
		b.ReportMetric(float64(ours.cpuPer)/float64(theirs.cpuPer), "cpu-ratio")
	}
}

// fanoutRun is one rtmfp-load players run against one server.
type fanoutRun struct {
	msPerMbit float64 // server CPU per delivered Mbit
	delivered float64 // share of what the publisher sent, per player
	mbits     float64
	minBytes  float64 // the worst player's
}

var (
	monaFileOnce sync.Once
	monaFilePath string
)

// monaFile makes (once per run) a 30 s FLV file of about 1 Mbit/s with
// ffmpeg: 640x360 H.264 at 25 frames/s with a key frame every second, and
// AAC audio.
func monaFile(b *testing.B) string {
	monaFileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rtmfpd-mona-bench")
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "stream.flv")
		testtools.FFmpeg(b, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "30", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "900k", "-maxrate", "1000k", "-bufsize", "1000k",
			"-g", "25", "-c:a", "aac", "-b:a", "64k", "-f", "flv", out)
		monaFilePath = out
	})
	if monaFilePath == "" {
		b.Fatal("no stream file")
	}
	return monaFilePath
}

// librtmfpFanoutOnce publishes the stream file over RTMP to rtmpAddr with
// ffmpeg (in real time, looped) and plays it with n librtmfp players for
// dur from rtmfpURL; cpu reads the server's CPU over the players' run.
// rate is the file's bit rate.
func librtmfpFanoutOnce(b *testing.B, rtmpAddr, rtmfpURL string, cpu func() time.Duration, n int, rate float64, dur time.Duration) fanoutRun {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ff := testtools.FFmpegCommand(ctx, b, "-re", "-stream_loop", "-1", "-i", monaFile(b), "-c", "copy",
		"-f", "flv", "rtmp://"+rtmpAddr+"/live/bench")
	if err := ff.Start(); err != nil {
		b.Fatal(err)
	}
	defer ff.Wait()
	defer cancel()
	time.Sleep(1500 * time.Millisecond) // past the first key frame
	c0 := cpu()
	kv, out := loadOutput(b, "-b", "127.0.0.1", "-T", "30", "players", "-n", strconv.Itoa(n), "-t",
		strconv.Itoa(int(dur/time.Second)), rtmfpURL)
	used := cpu() - c0
	if int(kv["received_media"]) != n {
		b.Logf("only %v of %d players received media:\n%s", kv["received_media"], n, out)
	}
	bytes := kv["total_bytes"]
	if bytes == 0 {
		b.Fatalf("the players received nothing from %s:\n%s", rtmfpURL, out)
	}
	mbits := bytes * 8 / 1e6
	return fanoutRun{
		msPerMbit: float64(used.Microseconds()) / 1000 / mbits,
		delivered: bytes * 8 / rate / dur.Seconds() / float64(n),
		mbits:     mbits,
		minBytes:  kv["bytes.min"],
	}
}

// BenchmarkMonaFanout: one ~1 Mbit/s stream published over RTMP (ffmpeg,
// in real time) and played by 150 librtmfp players
// for 15 s (RTMFPD_MONA_PLAYERS, RTMFPD_MONA_SECONDS), from rtmfpd and
// then from MonaTiny in the same run. Reported: server CPU per delivered
// Mbit (over the load generator's whole run: connects, plays, closes), the
// share of the stream each player got on average, and the ratio
// rtmfpd/MonaTiny.
func BenchmarkMonaFanout(b *testing.B) {
	n, secs := 150, 15
	if v := envInt("RTMFPD_MONA_PLAYERS"); v > 0 {
		n = v
	}
	if v := envInt("RTMFPD_MONA_SECONDS"); v > 0 {
		secs = v
	}
	testtools.RTMFPLoad(b)
	raiseFileLimit(b)
	dur := time.Duration(secs) * time.Second
	file := monaFile(b)
	fi, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	rate := float64(fi.Size()) * 8 / 30
	for b.Loop() {
		srv := startServer(b, "")
		ours := librtmfpFanoutOnce(b, srv.rtmp, "rtmfp://"+srv.addr.String()+"/live/bench",
			func() time.Duration { return srv.cpu(b) }, n, rate, dur)
		m := startMonaTiny(b)
		theirs := librtmfpFanoutOnce(b, m.rtmp, "rtmfp://"+m.rtmfp+"/live/bench",
			func() time.Duration { return m.cpu(b) }, n, rate, dur)
		for _, r := range []struct {
			name string
			v    fanoutRun
		}{{"rtmfpd", ours}, {"mona", theirs}} {
			b.ReportMetric(r.v.msPerMbit, r.name+"-ms/Mbit")
			b.ReportMetric(r.v.delivered*100, r.name+"-%delivered")
			b.ReportMetric(r.v.mbits, r.name+"-Mbit")
		}
		b.ReportMetric(ours.msPerMbit/theirs.msPerMbit, "cpu-ratio")
	}
}
