package bench

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
)

// serverBinary builds cmd/rtmfpd once per test binary.
func serverBinary(tb testing.TB) string {
	return testtools.GoBinary(tb, "github.com/rtmfpd/rtmfpd/cmd/rtmfpd")
}

// benchConfig lifts the per-address handshake rate limit: every load
// generator client shares 127.0.0.1.
const benchConfig = `{"status": "off", "session": {"startupRate": 1000000, "startupBurst": 1000000}}`

// server is an rtmfpd process on loopback.
type server struct {
	cmd    *exec.Cmd
	addr   netip.AddrPort
	rtmp   string // host:port of the RTMP listener
	status string // host:port of the status endpoint, when enabled
}

// startServer runs rtmfpd on an ephemeral loopback port with extra
// arguments and waits until it logs that it listens.
func startServer(tb testing.TB, config string, args ...string) *server {
	tb.Helper()
	if config == "" {
		config = benchConfig
	}
	cf := filepath.Join(tb.TempDir(), "rtmfpd.json")
	if err := os.WriteFile(cf, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	if prof := os.Getenv("RTMFPD_BENCH_CPUPROFILE"); prof != "" {
		// go tool pprof the file: the server's profile, written at its
		// shutdown (the last server of the run wins).
		args = append(args, "-cpuprofile", prof)
	}
	cmd := exec.Command(serverBinary(tb), append([]string{"-config", cf, "-listen", "127.0.0.1:0", "-log-level", "info"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	listening := make(chan netip.AddrPort, 1)
	statusAddr := make(chan string, 1)
	rtmpAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if os.Getenv("RTMFPD_BENCH_LOG") != "" {
				fmt.Fprintln(os.Stderr, "rtmfpd:", line)
			}
			if strings.Contains(line, "status endpoint listening") {
				if i := strings.Index(line, "address=http://"); i >= 0 {
					statusAddr <- strings.TrimSuffix(strings.Fields(line[i+15:])[0], "/status")
				}
			}
			if strings.Contains(line, "RTMP listening") {
				if i := strings.Index(line, "address="); i >= 0 {
					rtmpAddr <- strings.Fields(line[i+8:])[0]
				}
			}
			if strings.Contains(line, "RTMFP endpoint listening") {
				if i := strings.Index(line, "address="); i >= 0 {
					if ap, err := netip.ParseAddrPort(strings.Fields(line[i+8:])[0]); err == nil {
						listening <- ap
					}
				}
			}
		}
	}()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	select {
	case addr := <-listening:
		s := &server{cmd: cmd, addr: addr}
		if !strings.Contains(config, `"rtmp": []`) && !slices.Contains(args, "off") {
			select {
			case s.rtmp = <-rtmpAddr:
			case <-time.After(5 * time.Second):
				tb.Fatal("rtmfpd did not report its RTMP listener")
			}
		}
		if strings.Contains(config, `"status": "127.0.0.1:0"`) {
			select {
			case s.status = <-statusAddr:
			case <-time.After(5 * time.Second):
				tb.Fatal("rtmfpd did not report its status endpoint")
			}
		}
		return s
	case <-time.After(10 * time.Second):
		tb.Fatal("rtmfpd did not report listening within 10 s")
	}
	return nil
}

// cpu returns the process's user+system CPU time so far.
func (s *server) cpu(tb testing.TB) time.Duration { return procCPU(tb, s.cmd.Process.Pid) }

// procCPU returns a process's user+system CPU time so far.
func procCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("reading server CPU time: %v", err)
	}
	// Fields after the command name (which is in parentheses).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz
}
