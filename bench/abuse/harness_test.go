// Package abuse holds whole-server benchmarks that attack rtmfpd the way a
// stranger on the Internet can, on loopback: the server runs as its own
// process (cmd/rtmfpd with its default limits), the attack runs in the
// benchmark, and the server's memory (its resident set from /proc, and the
// Go heap and budget from GET /status) is sampled while it lasts. Each
// benchmark fails when the bound it states does not hold. They are not part
// of the default test run: see BENCHMARKS.md for the commands.
package abuse

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/bench/internal/rtmfpdproc"
)

// baseConfig is the server configuration of the attacks: defaults, except
// that the per-address handshake limit is lifted (every client of the
// benchmark shares 127.0.0.1) and the status endpoint listens on a port of
// the kernel's choice. extra is spliced in as more top-level fields.
func baseConfig(extra string) string {
	c := `{"status": "127.0.0.1:0", "session": {"startupRate": 1000000, "startupBurst": 1000000}`
	if extra != "" {
		c += ", " + extra
	}
	return c + "}"
}

// server is an rtmfpd process on loopback.
type server struct {
	cmd    *exec.Cmd
	pid    int
	rtmfp  netip.AddrPort
	rtmp   string // host:port
	status string // host:port
	peerID string // hex

	logBytes atomic.Int64 // bytes the server wrote to its log
	mu       sync.Mutex
	lines    []string // the log, each line cut to maxLine bytes, at most maxLines
	changed  chan struct{}
}

const (
	maxLine  = 2048
	maxLines = 100000
)

// startServer runs rtmfpd (rtmfpdproc.Binary) with config on an ephemeral
// loopback port and waits until it listens. Unlike rtmfpdproc.Start, it
// keeps the server's log: its size and its lines are what some attacks
// measure.
func startServer(tb testing.TB, config string) *server {
	tb.Helper()
	cf := filepath.Join(tb.TempDir(), "rtmfpd.json")
	if err := os.WriteFile(cf, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(rtmfpdproc.Binary(tb), "-config", cf, "-listen", "127.0.0.1:0", "-log-level", "info")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, changed: make(chan struct{})}
	ready := make(chan struct{})
	go s.readLog(stderr, ready)
	tb.Cleanup(func() { rtmfpdproc.Stop(cmd, 15*time.Second) })
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		tb.Fatal("rtmfpd did not report its listeners within 20 s")
	}
	return s
}

// readLog reads the server's log: it counts its bytes, keeps its lines
// (cut) and picks the addresses out of the start-up lines.
func (s *server) readLog(r io.Reader, ready chan struct{}) {
	br := bufio.NewReaderSize(r, 64<<10)
	started := false
	for {
		line, err := readLine(br, &s.logBytes)
		if err != nil {
			return
		}
		if os.Getenv("RTMFPD_ABUSE_LOG") != "" {
			fmt.Fprintln(os.Stderr, "rtmfpd:", line)
		}
		s.mu.Lock()
		if len(s.lines) < maxLines {
			s.lines = append(s.lines, line)
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		if started {
			continue
		}
		field := func(key string) string {
			if i := strings.Index(line, key+"="); i >= 0 {
				return strings.Fields(line[i+len(key)+1:])[0]
			}
			return ""
		}
		switch {
		case strings.Contains(line, "RTMFP endpoint listening"):
			s.rtmfp, _ = netip.ParseAddrPort(field("address"))
		case strings.Contains(line, "RTMP listening"):
			s.rtmp = field("address")
		case strings.Contains(line, "status endpoint listening"):
			s.status = strings.TrimSuffix(strings.TrimPrefix(field("address"), "http://"), "/status")
		case strings.Contains(line, "rtmfpd started"):
			s.peerID = field("peerID")
			started = true
			close(ready)
		}
	}
}

// readLine reads one log line, keeping at most maxLine bytes of it and
// counting all of them in n.
func readLine(br *bufio.Reader, n *atomic.Int64) (string, error) {
	var keep []byte
	for {
		frag, err := br.ReadSlice('\n')
		n.Add(int64(len(frag)))
		if len(keep) < maxLine {
			keep = append(keep, frag[:min(len(frag), maxLine-len(keep))]...)
		}
		switch err {
		case nil:
			return strings.TrimRight(string(keep), "\n"), nil
		case bufio.ErrBufferFull:
			continue
		default:
			return "", err
		}
	}
}

// find returns the log lines holding every one of subs.
func (s *server) find(subs ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
next:
	for _, l := range s.lines {
		for _, sub := range subs {
			if !strings.Contains(l, sub) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// waitLog waits until n lines hold every one of subs.
func (s *server) waitLog(timeout time.Duration, n int, subs ...string) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if len(s.find(subs...)) >= n {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// rssMB is the server's resident set size in MB (VmRSS).
func (s *server) rssMB(tb testing.TB) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		tb.Fatalf("reading the server's memory: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// memStatus is the memory part of GET /status, when the server has one.
type memStatus struct {
	Limit      int64 `json:"limit"`
	Used       int64 `json:"used"`
	Peak       int64 `json:"peak"`
	Shed       int64 `json:"shed"`
	OverPeer   int64 `json:"overPeer"`
	HeapInuse  int64 `json:"heapInuse"`
	HeapAlloc  int64 `json:"heapAlloc"`
	Sys        int64 `json:"sys"`
	Accounts   int   `json:"accounts"`
	SlowClosed int64 `json:"slowConsumers"`
}

// memory reads the server's memory status; ok is false when the server
// reports none (a server from before the budget existed).
func (s *server) memory() (memStatus, bool) {
	if s.status == "" {
		return memStatus{}, false
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.status + "/status")
	if err != nil {
		return memStatus{}, false
	}
	defer resp.Body.Close()
	var doc struct {
		Memory *memStatus `json:"memory"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.Memory == nil {
		return memStatus{}, false
	}
	return *doc.Memory, true
}

// sampler samples the server's RSS (and Go heap, when reported) every
// period until stopped.
type sampler struct {
	mu              sync.Mutex
	rssPeak, rssMin float64
	rssLast         float64
	heapPeak        float64 // MB in use, when reported
	heapLast        float64
	budgetPeak      float64 // MB of the memory budget used
	hasHeap         bool
	stop            chan struct{}
	done            chan struct{}
}

func (s *server) sample(tb testing.TB, period time.Duration) *sampler {
	sm := &sampler{rssMin: 1e18, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			rss := s.rssMB(tb)
			ms, ok := s.memory()
			sm.mu.Lock()
			sm.rssLast = rss
			sm.rssPeak = max(sm.rssPeak, rss)
			sm.rssMin = min(sm.rssMin, rss)
			if ok {
				sm.hasHeap = true
				sm.heapLast = float64(ms.HeapInuse) / 1e6
				sm.heapPeak = max(sm.heapPeak, sm.heapLast)
				sm.budgetPeak = max(sm.budgetPeak, float64(ms.Peak)/1e6)
			}
			sm.mu.Unlock()
			select {
			case <-t.C:
			case <-sm.stop:
				return
			}
		}
	}()
	return sm
}

func (sm *sampler) end() {
	close(sm.stop)
	<-sm.done
}

func (sm *sampler) snapshot() sampler {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sampler{rssPeak: sm.rssPeak, rssMin: sm.rssMin, rssLast: sm.rssLast, heapPeak: sm.heapPeak,
		heapLast: sm.heapLast, budgetPeak: sm.budgetPeak, hasHeap: sm.hasHeap}
}

// seconds reads a duration in seconds from an environment variable.
func seconds(env string, def time.Duration) time.Duration {
	if s := os.Getenv(env); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return def
}

// raiseFileLimit lifts the soft open-file limit to the hard one.
func raiseFileLimit() {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

var quiet = slog.New(slog.DiscardHandler)
