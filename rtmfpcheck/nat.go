package rtmfpcheck

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/natcheck"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

const (
	idNATPublic = "nat.public"
	idNATProbes = "nat.probes"
)

// connectivity is the catalogue of `rtmfp check -nat`.
func connectivity() []category {
	return []category{{name: "nat", checks: []check{
		{id: idNATPublic, title: "this client's public address as the server sees it (connect's publicAddress, the server's connectivity check, or a Redirect naming this client)",
			ref: "RFC 7016 §3.5.1.6, rtmfp-cpp conncheck", run: checkPublicAddress},
		{id: idNATProbes, title: "the server probes this client from another port, another address and through an introduction, and reports NetConnection.ConnectivityCheck.Results",
			ref: "rtmfp-cpp conncheck (RFC 7425 §5.3.3 trigger)", run: checkProbes},
		{id: "nat.mapping", title: "the NAT's mapping: does it keep this client's public address for a new destination?",
			ref: "RFC 4787 §4.1", needs: []string{idNATProbes}, run: checkMapping},
		{id: "nat.filtering", title: "the NAT's filtering: what reaches this client unasked?",
			ref: "RFC 4787 §5", needs: []string{idNATProbes}, run: checkFiltering},
	}}}
}

// natRun is the connection the connectivity checks share.
type natRun struct {
	c        *client.Conn
	t        *tap
	local    []netip.AddrPort
	results  chan client.Status // the first results event
	got      *natcheck.Results
	behavior natcheck.Behaviour
	err      error
}

// introWait bounds the self-introduction of nat.public.
const introWait = 5 * time.Second

// nat connects the client whose connectivity is checked, announces its
// addresses, and starts watching for the results.
func (e *env) nat(ctx context.Context, r *rec) (*natRun, error) {
	if e.natRun != nil {
		return e.natRun, e.natRun.err
	}
	run := &natRun{results: make(chan client.Status, 1)}
	e.natRun = run
	c, t, err := e.dial(ctx, r, client.Options{})
	if err != nil {
		run.err = fmt.Errorf("connect: %s%s", plain(err), t.summary())
		return run, run.err
	}
	run.c, run.t = c, t
	go func() {
		for st := range statusUntilDone(c) {
			if st.Code == natcheck.StatusResults {
				run.results <- st
				return
			}
		}
	}()
	run.local = e.localAddrs(c.Session().Endpoint())
	if err := c.SetPeerInfo(ctx, run.local...); err != nil {
		run.err = err
	}
	return run, run.err
}

// statusUntilDone yields a connection's status events until it ends.
func statusUntilDone(c *client.Conn) <-chan client.Status {
	out := make(chan client.Status)
	go func() {
		defer close(out)
		for {
			select {
			case st := <-c.Status():
				select {
				case out <- st:
				case <-c.Done():
					return
				}
			case <-c.Done():
				return
			}
		}
	}()
	return out
}

func checkPublicAddress(ctx context.Context, e *env, r *rec) {
	run, err := e.nat(ctx, r)
	if err != nil {
		r.failf("%s", err)
		return
	}
	var found []string
	if s, ok := run.c.ConnectResult.Info.GetString("publicAddress"); ok {
		r.fact("connect's publicAddress", "%s", s)
		a, err := natcheck.ParseAddress(s)
		if err != nil {
			r.failf("connect's _result has a publicAddress that does not parse: %q", s)
			return
		}
		found = append(found, a.String())
	}
	r.fact("announced", "%v", run.local)
	// A second client asks for the first by peer ID: the Redirect lists
	// the first one's address as the server observes it.
	// A server that does not introduce is given little time.
	ictx, cancel := context.WithTimeout(ctx, introWait)
	defer cancel()
	b, tb, err := e.dial(ictx, r, client.Options{})
	if err == nil {
		b.SetPeerInfo(ictx, e.localAddrs(b.Session().Endpoint())...)
		barrier(ictx, b)
		barrier(ictx, run.c)
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.ConnectPeer(ictx, run.c.Session().Endpoint().PeerID())
		}()
		until(ictx, func() bool { return len(tb.allRedirects()) > 0 || isClosed(done) })
		cancel()
		<-done
		for _, rd := range tb.allRedirects() {
			if a, ok := observedAddress(rd.Addresses); ok {
				r.fact("observed in a Redirect", "%s", a)
				found = append(found, a.String())
			}
			r.fact("Redirect", "%s", describeAddrs(rd.Addresses))
		}
	} else {
		r.fact("second client", "could not connect: %s", plain(err))
	}
	found = dedup(found)
	switch {
	case len(found) == 0:
		r.skipf("the server reports no public address (no publicAddress in connect's _result, no observed address in a Redirect)")
	case len(found) > 1:
		r.failf("the server reports different public addresses for one socket: %s", strings.Join(found, ", "))
	default:
		r.passf("%s", found[0])
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func dedup(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func checkProbes(ctx context.Context, e *env, r *rec) {
	run, err := e.nat(ctx, r)
	if err != nil {
		r.failf("%s", err)
		return
	}
	var st client.Status
	select {
	case st = <-run.results:
	case <-ctx.Done():
		seen := probesSeen(run)
		if seen != "" {
			seen = "; probes received here: " + seen
		}
		r.skipf("no %s within %v: the server runs no connectivity check for this application (rtmfpd: natCheck; rtmfp-cpp: conncheck)%s",
			natcheck.StatusResults, e.opts.Timeout, seen)
		return
	}
	res, err := natcheck.ParseResults(st.Info)
	if err != nil {
		r.failf("malformed results: %s", err)
		return
	}
	run.got = &res
	run.behavior = natcheck.Infer(res)
	for _, k := range infoKeys(st.Info) {
		if k == "code" || k == "level" || k == "description" {
			continue
		}
		v, _ := st.Info.Get(k)
		r.fact(k, "%s", short(v))
	}
	if s := probesSeen(run); s != "" {
		r.fact("probes received here", "%s", s)
	}
	r.passf("public address %s", res.PublicAddress)
}

// probesSeen says which probe IHellos reached this client ("" for none).
// The Forwarded IHello probe is not told apart from those of nat.public's
// introduction; the results say whether it got through.
func probesSeen(run *natRun) string {
	if run.t == nil {
		return ""
	}
	var from []string
	run.t.mu.Lock()
	for _, a := range run.t.ihellos {
		from = append(from, a.String())
	}
	run.t.mu.Unlock()
	if len(from) == 0 {
		return ""
	}
	return "IHellos from " + strings.Join(dedup(from), ", ")
}

func checkMapping(_ context.Context, e *env, r *rec) {
	res, b := e.natRun.got, e.natRun.behavior
	if b.Translated != nil {
		r.fact("address translation", "%v", *b.Translated)
	}
	if res.SendAfterIntroductionAllowed != nil && !*res.SendAfterIntroductionAllowed &&
		(isTrue(res.SendAfterIntroductionPreservesSourceAddress) || isTrue(res.SendAfterIntroductionPreservesSourcePort)) {
		r.failf("inconsistent results: the answer to the introduction did not arrive, yet its source is said to be kept")
		return
	}
	if b.Mapping == "" {
		r.skipf("the server made no introduction probe (it has no third address)")
		return
	}
	r.passf("%s", b.Mapping)
}

func isTrue(b *bool) bool { return b != nil && *b }

func checkFiltering(_ context.Context, e *env, r *rec) {
	run := e.natRun
	res, b := run.got, run.behavior
	r.fact("direct sessions", "%s", b.P2P)
	// What arrived here from the server's probes must agree with what
	// the server reports: its IP on another port, or another IP.
	server := e.server.Addr()
	var samePort, otherAddr bool
	run.t.mu.Lock()
	for _, a := range run.t.ihellos {
		switch {
		case a.Addr() == server && a.Port() != e.server.Port():
			samePort = true
		case a.Addr() != server:
			otherAddr = true
		}
	}
	run.t.mu.Unlock()
	switch {
	case res.ReceiveSameAddressDifferentPortAllowed && !samePort:
		r.failf("the server reports that its probe from another port got through, but none arrived here")
	case isTrue(res.ReceiveDifferentAddressDifferentPortAllowed) && !otherAddr:
		r.failf("the server reports that its probe from another address got through, but none arrived here")
	default:
		if !res.ReceiveSameAddressDifferentPortAllowed && samePort {
			r.fact("note", "a probe from the server's address on another port arrived here, but the server saw no answer (lost on the way back?)")
		}
		r.passf("%s", b.Filtering)
	}
}

// observedAddress is the address a Redirect gives as the server's own view
// of the peer: the one marked observed (origin 2), or else the first one
// not marked reported (rtmfp-cpp's tcserver puts it first with origin 0).
func observedAddress(as []wire.Address) (netip.AddrPort, bool) {
	for _, a := range as {
		if a.Origin&3 == wire.OriginObserved {
			return a.AddrPort, true
		}
	}
	for _, a := range as {
		if a.Origin&3 != wire.OriginReported {
			return a.AddrPort, true
		}
	}
	return netip.AddrPort{}, false
}
