// Package rtmfpdproc runs rtmfpd as its own process for whole-server
// benchmarks: it builds cmd/rtmfpd once per test binary, starts it on an
// ephemeral loopback port with a given configuration, waits until it
// listens, stops it when the benchmark ends, and reads its CPU time from
// /proc so that the load generator's CPU is not counted.
package rtmfpdproc

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
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds cmd/rtmfpd once per test binary and returns its path; with
// RTMFPD_BENCH_BINARY set, it returns that rtmfpd instead (another version,
// to compare).
func Binary(tb testing.TB) string {
	if p := os.Getenv("RTMFPD_BENCH_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rtmfpd-bench")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "rtmfpd")
		cmd := exec.Command("go", "build", "-o", buildPath, "github.com/rtmfpd/rtmfpd/cmd/rtmfpd")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		tb.Fatalf("building rtmfpd: %v", buildErr)
	}
	return buildPath
}

// Proc is an rtmfpd process on loopback.
type Proc struct {
	Cmd    *exec.Cmd
	Addr   netip.AddrPort // the RTMFP endpoint
	RTMP   string         // host:port of the RTMP listener, when enabled
	Status string         // host:port of the status endpoint, when the configuration asks for "127.0.0.1:0"
	PeerID string         // the server's peer ID (hex), from its start-up log line
}

// Start runs rtmfpd with config (JSON) and extra arguments on an ephemeral
// port of 127.0.0.1 and waits until it logs that it listens. With
// RTMFPD_BENCH_LOG set, its log goes to stderr; with RTMFPD_BENCH_CPUPROFILE,
// it writes a CPU profile there when it stops (the last server of the run
// wins).
func Start(tb testing.TB, config string, args ...string) *Proc {
	tb.Helper()
	cf := filepath.Join(tb.TempDir(), "rtmfpd.json")
	if err := os.WriteFile(cf, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	if prof := os.Getenv("RTMFPD_BENCH_CPUPROFILE"); prof != "" {
		args = append(args, "-cpuprofile", prof)
	}
	cmd := exec.Command(Binary(tb), append([]string{"-config", cf, "-listen", "127.0.0.1:0", "-log-level", "info"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	listening := make(chan netip.AddrPort, 1)
	statusAddr := make(chan string, 1)
	rtmpAddr := make(chan string, 1)
	peerID := make(chan string, 1)
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
			if strings.Contains(line, "rtmfpd started") {
				if i := strings.Index(line, "peerID="); i >= 0 {
					peerID <- strings.Fields(line[i+7:])[0]
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
	tb.Cleanup(func() { Stop(cmd, 10*time.Second) })
	select {
	case addr := <-listening:
		p := &Proc{Cmd: cmd, Addr: addr}
		if !strings.Contains(config, `"rtmp": []`) && !slices.Contains(args, "off") {
			select {
			case p.RTMP = <-rtmpAddr:
			case <-time.After(5 * time.Second):
				tb.Fatal("rtmfpd did not report its RTMP listener")
			}
		}
		if strings.Contains(config, `"status": "127.0.0.1:0"`) {
			select {
			case p.Status = <-statusAddr:
			case <-time.After(5 * time.Second):
				tb.Fatal("rtmfpd did not report its status endpoint")
			}
		}
		select {
		case p.PeerID = <-peerID:
		case <-time.After(5 * time.Second):
			tb.Fatal("rtmfpd did not report its peer ID")
		}
		return p
	case <-time.After(10 * time.Second):
		tb.Fatal("rtmfpd did not report listening within 10 s")
	}
	return nil
}

// CPU returns the process's user+system CPU time so far.
func (p *Proc) CPU(tb testing.TB) time.Duration { return CPU(tb, p.Cmd.Process.Pid) }

// CPU returns a process's user+system CPU time so far, from /proc.
func CPU(tb testing.TB, pid int) time.Duration {
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

// Stop stops a started server as an operator does (SIGINT) and waits for
// it to exit, killing it after grace.
func Stop(cmd *exec.Cmd, grace time.Duration) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}
