package rtmfpcheck

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/natcheck"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// dropBetweenClients drops the datagrams clients send each other directly
// (not through the server) that fn selects.
func dropBetweenClients(n *simnet.Network, fn func(p *simnet.Packet) bool) {
	n.AddFilter(simnet.StageSend, func(p *simnet.Packet) simnet.Verdict {
		if slices.Contains(serverAddrs, p.Src.Addr()) || slices.Contains(serverAddrs, p.Dst.Addr()) || !fn(p) {
			return simnet.Pass
		}
		return simnet.Drop
	})
}

// TestBrokenIntroductionsAndGroups: the introduction and group checks fail
// against servers that do not do their part, and on paths where the peers
// cannot reach each other.
func TestBrokenIntroductionsAndGroups(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    serverConfig
		drop   func(p *simnet.Packet) bool
		fail   []string
		detail string
	}{
		{name: "no introducer", cfg: serverConfig{noIntroducer: true},
			fail: []string{"introduction.redirect", "introduction.forward", "introduction.direct", "group.neighbours"}, detail: "no Redirect"},
		{name: "Redirect without Forwarded IHello", cfg: serverConfig{redirectOnly: true},
			fail: []string{"introduction.forward"}, detail: "no Forwarded IHello"},
		{name: "introducer only (no media relay)", cfg: serverConfig{noMedia: true},
			fail: []string{"netstream.publish"}, detail: netstream.PublishFailed},
		{name: "no NetGroups", cfg: serverConfig{noGroups: true},
			fail: []string{"group.join"}, detail: "refused the group control flow"},
		{name: "no bootstrap", cfg: serverConfig{silentGroups: true},
			fail: []string{"group.bootstrap"}, detail: "named no member"},
		{name: "peers cut off", drop: func(*simnet.Packet) bool { return true },
			fail: []string{"introduction.direct", "group.neighbours"}, detail: "no direct session"},
		{name: "media lost between peers", drop: func(p *simnet.Packet) bool { return len(p.Payload) > 600 },
			fail: []string{"introduction.media", "group.multicast"}, detail: "frames"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				srv := startTestServer(t, n, c.cfg)
				if c.drop != nil {
					dropBetweenClients(n, c.drop)
				}
				rep := runCheck(t, n, nil, srv.url, Options{Run: only("^introduction|^group|netstream.publish")})
				expectFailed(t, rep, c.fail, c.detail)
			})
		})
	}
}

// TestLateRedirect: a Redirect that trails the direct session's handshake
// (MonaServer2 sends the Forwarded IHello first; on loopback the peer's
// RHello can beat the Redirect) still counts, within redirectGrace.
func TestLateRedirect(t *testing.T) {
	for _, c := range []struct {
		late time.Duration
		want Status
	}{
		{late: 100 * time.Millisecond, want: Pass},
		{late: 3 * redirectGrace, want: Fail},
	} {
		t.Run(c.late.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				srv := startTestServer(t, n, serverConfig{lateRedirect: c.late})
				rep := runCheck(t, n, nil, srv.url, Options{Run: only("^introduction")})
				if got := result(t, rep, "introduction.direct"); got.Status != Pass {
					dump(t, rep)
					t.Fatalf("introduction.direct %s: %s", got.Status, got.Detail)
				}
				got := result(t, rep, idRedirect)
				if got.Status != c.want {
					dump(t, rep)
					t.Fatalf("introduction.redirect %s (%s), want %s", got.Status, got.Detail, c.want)
				}
				if c.want == Fail && !strings.Contains(got.Detail, "no Redirect within") {
					t.Errorf("detail %q does not say the Redirect was missing", got.Detail)
				}
			})
		})
	}
}

// TestNATAgainstRtmfpd runs rtmfp check -nat against rtmfpd's
// connectivity check from a public host and from behind NATs, and reads
// back the NAT simnet implements.
func TestNATAgainstRtmfpd(t *testing.T) {
	for _, c := range []struct {
		nat                simnet.NATType
		public             bool
		mapping, filtering string
	}{
		{public: true, mapping: natcheck.EndpointIndependent, filtering: natcheck.EndpointIndependent},
		{nat: simnet.FullCone, mapping: natcheck.EndpointIndependent, filtering: natcheck.EndpointIndependent},
		{nat: simnet.PortRestricted, mapping: natcheck.EndpointIndependent, filtering: natcheck.AddressAndPortDependent},
		{nat: simnet.Symmetric, mapping: natcheck.AddressAndPortDependent, filtering: natcheck.AddressAndPortDependent},
	} {
		name := c.nat.String()
		if c.public {
			name = "public"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				srv := startTestServer(t, n, serverConfig{natCheck: true})
				var h *simnet.Host
				var public netip.Addr
				if !c.public {
					nat, err := n.AddNAT(simnet.NATConfig{Type: c.nat})
					if err != nil {
						t.Fatal(err)
					}
					if h, err = nat.NewHost(); err != nil {
						t.Fatal(err)
					}
					public = nat.PublicAddr()
				}
				url := strings.Replace(srv.url, "/live", "/conncheck", 1)
				rep := runCheck(t, n, h, url, Options{NAT: true})
				if got := failed(rep); len(got) != 0 {
					dump(t, rep)
					t.Fatalf("failed %v", got)
				}
				if d := result(t, rep, "nat.mapping").Detail; d != c.mapping {
					t.Errorf("mapping %q, want %q", d, c.mapping)
				}
				if d := result(t, rep, "nat.filtering").Detail; d != c.filtering {
					t.Errorf("filtering %q, want %q", d, c.filtering)
				}
				pub := result(t, rep, "nat.public")
				if pub.Status != Pass || (public.IsValid() && !strings.HasPrefix(pub.Detail, public.String()+":")) {
					t.Errorf("public address %s %q, want %v", pub.Status, pub.Detail, public)
				}
			})
		})
	}
}
