// Package rtmfpcheck checks an RTMFP server against what Flash Player,
// AIR, librtmfp and rtmfp-cpp expect of it, and measures the connectivity
// of this host through it: the engine of `rtmfp check`.
//
// A run is a sequence of checks in categories: handshakes (both initiator
// layouts in the wild, Diffie-Hellman groups, packet protection modes,
// cookie and certificate forms), the session (ping, both ways of closing),
// NetConnection, NetStream, peer introduction, NetGroups, and, with
// Options.NAT, connectivity (the public address and NAT behaviour, with
// rtmfp-cpp's conncheck protocol, package natcheck). Each check names the
// RFC section or the Flash behaviour it tests, has its own deadline, and
// ends passed, failed (with what was seen on the wire) or skipped (what it
// needs is missing); checks that need an earlier one skip when it did not
// pass. A server that answers garbage, nothing, or floods gets a bounded
// report line, never a hang.
package rtmfpcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// Status is how a check ended.
type Status string

// Check outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Fact is one thing a check saw (what the server chose, a count, a time).
type Fact struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Result is the outcome of one check.
type Result struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	// Title says what is tested; Ref the RFC section or the behaviour of
	// Flash (or of another implementation) it comes from.
	Title    string        `json:"title"`
	Ref      string        `json:"ref"`
	Status   Status        `json:"status"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for JSON.
	DurationMS float64 `json:"duration_ms"`
	// Detail is one line: what was found, or why it failed or skipped.
	Detail string `json:"detail,omitempty"`
	Facts  []Fact `json:"facts,omitempty"`
	// Wire lists what was seen on the wire, kept for failures only.
	Wire []string `json:"wire,omitempty"`
}

// Options configure a run.
type Options struct {
	// URL is the server: rtmfp://host[:port]/app[/instance].
	URL string
	// NAT runs the connectivity checks (category "nat") instead of the
	// conformance checks.
	NAT bool
	// Run, when set, selects the checks whose ID it matches.
	Run *regexp.Regexp
	// Timeout is each check's deadline. Default 10 s (20 s for the
	// connectivity checks, whose probes take several round trips).
	Timeout time.Duration
	// Listen opens the sockets of the checker's endpoints and raw
	// handshakes; network is "udp4" or "udp6". Default: a UDP socket on an
	// ephemeral port of every address.
	Listen func(network string) (rtmfp.PacketConn, error)
	// LocalAddrs are the addresses announced with setPeerInfo, given the
	// socket's port. Default: the host's interface addresses (as Flash
	// announces), or the socket's own address when it is bound to one.
	LocalAddrs func(port uint16) []netip.AddrPort
	// Stream is the stream name published and played. Default a random
	// "rtmfpcheck-…" name.
	Stream string
	// GroupSpec is the NetGroup joined. Default a group of its own with
	// multicast and the server channel (G:…).
	GroupSpec string
	// Logger receives the client's logs (default: none).
	Logger *slog.Logger
	// Progress, when set, is called as each check ends.
	Progress func(Result)

	// closeWait bounds the closing of the checker's sessions at the end
	// of the run: default 2 s; tests wait until they have closed.
	closeWait time.Duration
	waitClose bool
}

// Report is the outcome of a run.
type Report struct {
	URL        string        `json:"url"`
	Server     string        `json:"server"`
	Started    time.Time     `json:"started"`
	Duration   time.Duration `json:"-"`
	DurationMS float64       `json:"duration_ms"`
	Results    []Result      `json:"checks"`
	Passed     int           `json:"passed"`
	Failed     int           `json:"failed"`
	Skipped    int           `json:"skipped"`
}

// ExitCode is the exit status of `rtmfp check`: 0 when nothing failed, 1
// otherwise.
func (r *Report) ExitCode() int {
	if r.Failed > 0 {
		return 1
	}
	return 0
}

// ErrUsage wraps the errors of Run that are the caller's mistake (a URL
// that does not parse, a host that does not resolve).
var ErrUsage = errors.New("usage")

// check is one check of the catalogue.
type check struct {
	id, title, ref string
	// needs lists checks that must have passed; otherwise this one skips.
	needs []string
	run   func(ctx context.Context, e *env, r *rec)
}

// category is a group of checks run in order.
type category struct {
	name   string
	checks []check
}

// Run runs the checks against opts.URL. Its error is for what prevents a
// run (ErrUsage); what the server does is in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || u.Scheme != "rtmfp" || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an rtmfp://host[:port]/app URL", ErrUsage, opts.URL)
	}
	addrs, _, err := client.ParseURL(ctx, opts.URL)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s: %v", ErrUsage, opts.URL, err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
		if opts.NAT {
			opts.Timeout = 20 * time.Second
		}
	}
	if opts.Listen == nil {
		opts.Listen = listenUDP
	}
	if opts.LocalAddrs == nil {
		opts.LocalAddrs = interfaceAddrs
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.closeWait == 0 && !opts.waitClose {
		opts.closeWait = 2 * time.Second
	}
	if opts.Stream == "" {
		opts.Stream = "rtmfpcheck-" + randomHex(4)
	}
	if opts.GroupSpec == "" {
		opts.GroupSpec = defaultGroupSpec(opts.Stream)
	}
	e := &env{opts: opts, url: u, server: addrs[0], results: map[string]*Result{}}
	defer e.close()
	rep := &Report{URL: opts.URL, Server: e.server.String(), Started: time.Now()}
	cats := conformance()
	if opts.NAT {
		cats = connectivity()
	}
	selected := selection(cats, opts.Run)
	for _, cat := range cats {
		for _, c := range cat.checks {
			if !selected[c.id] {
				continue
			}
			if ctx.Err() != nil {
				break
			}
			res := e.runCheck(ctx, cat.name, c)
			rep.Results = append(rep.Results, res)
			switch res.Status {
			case Pass:
				rep.Passed++
			case Fail:
				rep.Failed++
			default:
				rep.Skipped++
			}
			if opts.Progress != nil {
				opts.Progress(res)
			}
		}
	}
	rep.Duration = time.Since(rep.Started)
	rep.DurationMS = msFloat(rep.Duration)
	return rep, ctx.Err()
}

// selection returns the checks run matches, with the checks they need.
func selection(cats []category, run *regexp.Regexp) map[string]bool {
	needs := map[string][]string{}
	sel := map[string]bool{}
	for _, cat := range cats {
		for _, c := range cat.checks {
			needs[c.id] = c.needs
			sel[c.id] = run == nil || run.MatchString(c.id)
		}
	}
	var add func(id string)
	add = func(id string) {
		for _, n := range needs[id] {
			if !sel[n] {
				sel[n] = true
				add(n)
			}
		}
	}
	for id, on := range sel {
		if on {
			add(id)
		}
	}
	return sel
}

// grace is how long a check may overrun its deadline before it is given
// up on (its goroutine is left to end on its own).
const grace = 2 * time.Second

// runCheck runs one check under its deadline.
func (e *env) runCheck(ctx context.Context, cat string, c check) Result {
	res := Result{ID: c.id, Category: cat, Title: c.title, Ref: c.ref}
	for _, n := range c.needs {
		if p := e.results[n]; p == nil || p.Status != Pass {
			why := "was not run"
			if p != nil {
				why = "did not pass"
			}
			res.Status, res.Detail = Skip, fmt.Sprintf("needs %s, which %s", n, why)
			e.results[c.id] = &res
			return res
		}
	}
	cctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	r := &rec{wire: newWireLog()}
	e.cur.Store(r.wire)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				r.failf("internal error: %v", v)
			}
		}()
		c.run(cctx, e, r)
	}()
	select {
	case <-done:
	case <-time.After(e.opts.Timeout + grace):
		r.mu.Lock()
		r.status, r.detail = Fail, fmt.Sprintf("did not finish within %v", e.opts.Timeout)
		r.mu.Unlock()
	}
	res.Duration = time.Since(start)
	res.DurationMS = msFloat(res.Duration)
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Status, res.Detail, res.Facts = r.status, r.detail, r.facts
	switch {
	case res.Status == "" && cctx.Err() != nil:
		res.Status, res.Detail = Fail, fmt.Sprintf("no answer within %v", e.opts.Timeout)
	case res.Status == "":
		res.Status = Pass
	}
	if res.Status == Fail {
		res.Wire = r.wire.lines()
	}
	e.results[c.id] = &res
	return res
}

// listenUDP opens a UDP socket on an ephemeral port.
func listenUDP(network string) (rtmfp.PacketConn, error) {
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// interfaceAddrs returns the host's unicast addresses, not link-local, with
// port: what Flash announces with setPeerInfo.
func interfaceAddrs(port uint16) []netip.AddrPort {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.AddrPort
	for _, a := range ifas {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, port))
		if len(out) == 16 {
			break
		}
	}
	return out
}

// plain is an error's text without package prefixes.
func plain(err error) string {
	s := err.Error()
	for _, p := range []string{"rtmfp: ", "client: ", "flash: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}
