package rtmfpcheck

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/natcheck"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// serverAddrs are the simulated server's addresses: its own, the
// connectivity check's different address and introduction reply address.
var serverAddrs = []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3")}

// serverConfig says how the simulated rtmfpd is built, and broken.
type serverConfig struct {
	noIntroducer bool // no OnIntroduction: no Redirect, no Forwarded IHello
	redirectOnly bool // Redirect, but no Forwarded IHello
	// lateRedirect: the Forwarded IHello at once and the Redirect this
	// much later, as MonaServer2 (it sends the target's part first).
	lateRedirect time.Duration
	noGroups     bool // GC flows refused
	silentGroups bool // GC flows taken, but no member is ever named
	noMedia      bool // introduction and groups only, as Cirrus
	natCheck     bool // the connectivity-check responder, on the three addresses
	hooks        netstream.Hooks
	profile      flash.Config
}

// testServer is rtmfpd's RTMFP side, assembled as the daemon assembles it,
// on a simulated host.
type testServer struct {
	url  string
	host *simnet.Host
	ep   *rtmfp.Endpoint
}

func startTestServer(t *testing.T, n *simnet.Network, cfg serverConfig) *testServer {
	t.Helper()
	h, err := n.AddHost(serverAddrs...)
	if err != nil {
		t.Fatal(err)
	}
	in := introducer.New(introducer.Config{Logger: rtmfptest.Quiet})
	hooks := cfg.hooks
	var eps []*rtmfp.Endpoint
	if cfg.natCheck {
		listen := func(a netip.Addr, port uint16) rtmfp.PacketConn {
			c, err := h.ListenAddr(netip.AddrPortFrom(a, port))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		resp, err := natcheck.New(natcheck.Config{DifferentPort: listen(serverAddrs[0], 1936),
			DifferentAddress: listen(serverAddrs[1], 1937), IntroReply: listen(serverAddrs[2], 1938), Logger: rtmfptest.Quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Close() })
		hooks.OnPeerInfo = resp.Hook("conncheck", func(c *netstream.Conn) *rtmfp.Session { return natcheck.SessionOf(eps, c) }, hooks.OnPeerInfo)
	}
	ns := netstream.NewServer(netstream.Config{Logger: rtmfptest.Quiet, Hooks: hooks, NoMedia: cfg.noMedia})
	ncfg := rtmfpnc.Config{NS: ns, Logger: rtmfptest.Quiet, OnConn: in.AddConn, OnGroupFlow: in.HandleGroupFlow, OnGroupMessage: in.GroupMessage}
	switch {
	case cfg.noGroups:
		ncfg.OnGroupFlow, ncfg.OnGroupMessage = nil, nil
	case cfg.silentGroups:
		ncfg.OnGroupMessage = func(*rtmfp.Session, *netstream.Conn, *rtmfp.RecvFlow, []byte, error) {}
	}
	var ep *rtmfp.Endpoint
	ecfg := rtmfp.Config{StartupRate: 1e6, StartupBurst: 1e6, InOrder: func(s *rtmfp.Session) bool { return !s.PeerMode() }}
	switch {
	case cfg.noIntroducer:
	case cfg.redirectOnly:
		ecfg.OnIntroduction = func(req rtmfp.Introduction) {
			if s, ok := in.Peer(req.Target); ok {
				ep.Redirect(req, []wire.Address{{AddrPort: s.RemoteAddr(), Origin: wire.OriginObserved}})
			}
		}
	case cfg.lateRedirect > 0:
		ecfg.OnIntroduction = func(req rtmfp.Introduction) {
			s, ok := in.Peer(req.Target)
			if !ok {
				return
			}
			if err := s.ForwardIHello(req.EPD, wire.Address{AddrPort: req.From, Origin: wire.OriginObserved}, req.Tag); err != nil {
				t.Errorf("ForwardIHello: %v", err)
			}
			time.AfterFunc(cfg.lateRedirect, func() {
				ep.Redirect(req, []wire.Address{{AddrPort: s.RemoteAddr(), Origin: wire.OriginObserved}})
			})
		}
	default:
		ecfg.OnIntroduction = in.Hook(&ep)
	}
	c, err := h.Listen(1935)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := flash.New(cfg.profile)
	if err != nil {
		t.Fatal(err)
	}
	ecfg.Profile, ecfg.Logger, ecfg.CloseTimeout = prof, rtmfptest.Quiet, 300*time.Millisecond
	ep, err = rtmfp.NewEndpoint(c, ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	eps = append(eps, ep)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go rtmfpnc.New(ncfg).Serve(ctx, ep)
	return &testServer{url: fmt.Sprintf("rtmfp://%s/live", c.AddrPort()), host: h, ep: ep}
}

// newNet is the simulated network of a test: 5 ms each way.
func newNet(t *testing.T) *simnet.Network {
	n := simnet.New(simnet.Config{Seed: 7, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
	t.Cleanup(func() { n.Close() })
	return n
}

// runCheck runs rtmfp check from host h (a new public host when nil).
func runCheck(t *testing.T, n *simnet.Network, h *simnet.Host, url string, opts Options) *Report {
	t.Helper()
	if h == nil {
		var err error
		if h, err = n.NewHost(); err != nil {
			t.Fatal(err)
		}
	}
	opts.URL = url
	opts.Listen = func(string) (rtmfp.PacketConn, error) { return h.Listen(0) }
	// Every session ends before the bubble does.
	opts.waitClose = true
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// only selects checks by a pattern.
func only(pattern string) *regexp.Regexp { return regexp.MustCompile(pattern) }

// statuses maps check IDs to their status.
func statuses(rep *Report) map[string]Status {
	m := map[string]Status{}
	for _, r := range rep.Results {
		m[r.ID] = r.Status
	}
	return m
}

// failed lists the IDs of the failed checks.
func failed(rep *Report) []string {
	var out []string
	for _, r := range rep.Results {
		if r.Status == Fail {
			out = append(out, r.ID)
		}
	}
	return out
}

// result returns one check's result.
func result(t *testing.T, rep *Report, id string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s", id)
	return Result{}
}

// dump shows a report in the test log.
func dump(t *testing.T, rep *Report) {
	t.Helper()
	var b strings.Builder
	rep.WriteText(&b)
	t.Log("\n" + b.String())
}

// expectFailed checks that exactly the checks fail fail (in any order),
// the first with a detail saying detail, and notes them for TestMain.
func expectFailed(t *testing.T, rep *Report, fail []string, detail string) {
	t.Helper()
	got := failed(rep)
	if !equalSets(got, fail) {
		dump(t, rep)
		t.Fatalf("failed %v, want %v", got, fail)
	}
	if d := result(t, rep, fail[0]).Detail; !strings.Contains(d, detail) {
		t.Errorf("%s: detail %q, want it to say %q", fail[0], d, detail)
	}
	if rep.ExitCode() != 1 {
		t.Errorf("exit code %d", rep.ExitCode())
	}
	noteFailed(got)
}
