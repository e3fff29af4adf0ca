package bench

import (
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/bench/internal/rtmfpdproc"
)

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
// arguments (benchConfig when config is empty) and waits until it listens.
func startServer(tb testing.TB, config string, args ...string) *server {
	tb.Helper()
	if config == "" {
		config = benchConfig
	}
	p := rtmfpdproc.Start(tb, config, args...)
	return &server{cmd: p.Cmd, addr: p.Addr, rtmp: p.RTMP, status: p.Status}
}

// cpu returns the process's user+system CPU time so far.
func (s *server) cpu(tb testing.TB) time.Duration { return procCPU(tb, s.cmd.Process.Pid) }

// procCPU returns a process's user+system CPU time so far.
func procCPU(tb testing.TB, pid int) time.Duration { return rtmfpdproc.CPU(tb, pid) }
