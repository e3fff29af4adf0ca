package natcheck

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// server runs an RTMFP NetConnection server with a responder on host h,
// whose three addresses are the server's, the different address and the
// introduction reply address. It returns the URL of app.
func server(t *testing.T, h *simnet.Host, app string, intro bool) string {
	t.Helper()
	addrs := h.Addrs()
	listen := func(a netip.Addr, port uint16) *simnet.Conn {
		c, err := h.ListenAddr(netip.AddrPortFrom(a, port))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := Config{DifferentPort: listen(addrs[0], 1936), DifferentAddress: listen(addrs[1], 1937), Logger: rtmfptest.Quiet}
	if intro {
		cfg.IntroReply = listen(addrs[2], 1938)
	}
	resp, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Close() })
	var eps []*rtmfp.Endpoint
	ns := netstream.NewServer(netstream.Config{Logger: rtmfptest.Quiet, Hooks: netstream.Hooks{
		OnPeerInfo: resp.Hook(app, func(c *netstream.Conn) *rtmfp.Session { return SessionOf(eps, c) }, nil)}})
	ep := rtmfptest.Endpoint(t, h, 1935, rtmfp.Config{})
	eps = append(eps, ep)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: rtmfptest.Quiet}).Serve(ctx, ep)
	return fmt.Sprintf("rtmfp://%s/%s", ep.LocalAddr(), app)
}

// results connects from h, announces its address and waits for the
// results.
func results(t *testing.T, h *simnet.Host, url string) (Results, bool) {
	t.Helper()
	ep := rtmfptest.Endpoint(t, h, 0, rtmfp.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Options{Endpoint: ep, Logger: rtmfptest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local, _ := netip.ParseAddrPort(ep.LocalAddr().String())
	if err := c.SetPeerInfo(ctx, local); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case st := <-c.Status():
			if st.Code != StatusResults {
				continue
			}
			r, err := ParseResults(st.Info)
			if err != nil {
				t.Fatal(err)
			}
			return r, true
		case <-ctx.Done():
			return Results{}, false
		}
	}
}

// TestNATBehaviours checks a client on a public address and behind each
// kind of NAT, and reads back the behaviour simnet implements.
func TestNATBehaviours(t *testing.T) {
	for _, c := range []struct {
		nat                simnet.NATType
		public             bool
		mapping, filtering string
	}{
		{public: true, mapping: EndpointIndependent, filtering: EndpointIndependent},
		{nat: simnet.FullCone, mapping: EndpointIndependent, filtering: EndpointIndependent},
		{nat: simnet.AddressRestricted, mapping: EndpointIndependent, filtering: AddressDependent},
		{nat: simnet.PortRestricted, mapping: EndpointIndependent, filtering: AddressAndPortDependent},
		{nat: simnet.Symmetric, mapping: AddressAndPortDependent, filtering: AddressAndPortDependent},
	} {
		name := c.nat.String()
		if c.public {
			name = "public"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := simnet.New(simnet.Config{Seed: 4, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond}})
				defer n.Close()
				sh, err := n.AddHost(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.3"))
				if err != nil {
					t.Fatal(err)
				}
				url := server(t, sh, "conncheck", true)
				var ch *simnet.Host
				if c.public {
					ch, err = n.NewHost()
				} else {
					var nat *simnet.NAT
					if nat, err = n.AddNAT(simnet.NATConfig{Type: c.nat}); err == nil {
						ch, err = nat.NewHost()
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				r, ok := results(t, ch, url)
				if !ok {
					t.Fatal("no results")
				}
				b := Infer(r)
				if b.Translated == nil || *b.Translated == c.public {
					t.Errorf("translated %v, results %+v", b.Translated, r)
				}
				if b.Mapping != c.mapping || b.Filtering != c.filtering {
					t.Errorf("mapping %q, filtering %q; want %q, %q", b.Mapping, b.Filtering, c.mapping, c.filtering)
				}
				if b.P2P == "" {
					t.Error("no P2P estimate")
				}
			})
		})
	}
}

// TestOnlyTheApplication: clients of another application are not probed,
// and without the introduction socket its findings are null.
func TestOnlyTheApplication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 5, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.AddHost(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2"))
		url := server(t, sh, "conncheck", false)
		ch, _ := n.NewHost()
		r, ok := results(t, ch, url)
		if !ok {
			t.Fatal("no results")
		}
		if r.SendAfterIntroductionAllowed != nil || r.ReceiveDifferentAddressDifferentPortAllowed == nil || !r.ReceiveSameAddressDifferentPortAllowed {
			t.Errorf("results %+v", r)
		}
		if b := Infer(r); b.Mapping != "" || b.P2P == "" {
			t.Errorf("behaviour %+v", b)
		}
		other := url[:len(url)-len("conncheck")] + "live"
		if _, ok := results(t, ch, other); ok {
			t.Error("a client of another application was checked")
		}
	})
}
