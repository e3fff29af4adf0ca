package rtmfp

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// introducer is the smallest Config.OnIntroduction: forward the IHello to
// the target's session and redirect the initiator to the target's observed
// address (the real introducer lives in package group/introducer).
func introducer(srv **Endpoint) func(Introduction) {
	return func(in Introduction) {
		target, ok := (*srv).Session(in.Target)
		if !ok {
			return
		}
		target.ForwardIHello(in.EPD, wire.Address{AddrPort: in.From, Origin: wire.OriginObserved}, in.Tag)
		(*srv).Redirect(in, []wire.Address{{AddrPort: target.RemoteAddr(), Origin: wire.OriginObserved}})
	}
}

func endpointOn(t *testing.T, h *simnet.Host, cfg Config) *Endpoint {
	t.Helper()
	c, err := h.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Profile == nil {
		cfg.Profile = newFlash(t)
	}
	cfg.Logger = testLogger()
	cfg.CloseTimeout = 300 * time.Millisecond
	e, err := NewEndpoint(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestIntroductionThroughNATs has two clients behind NATs connect to a
// public server, then one open a direct session to the other by peer ID
// through the server (IHello by peer ID → Forwarded IHello + Redirect →
// RHello straight from the target, RFC 7016 §3.5.1.4–§3.5.1.5). Hole
// punching works unless both NATs are symmetric; then Connect fails with
// ErrNoSuchPeer within the handshake timeout.
func TestIntroductionThroughNATs(t *testing.T) {
	cases := []struct {
		a, b simnet.NATType
		ok   bool
	}{
		{simnet.FullCone, simnet.FullCone, true},
		{simnet.AddressRestricted, simnet.AddressRestricted, true},
		{simnet.PortRestricted, simnet.PortRestricted, true},
		{simnet.Symmetric, simnet.FullCone, true},
		{simnet.Symmetric, simnet.AddressRestricted, true},
		{simnet.Symmetric, simnet.Symmetric, false},
	}
	for _, c := range cases {
		t.Run(c.a.String()+"-"+c.b.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				setup := simnet.BehindNATs(t, simnet.Config{Seed: 1, Link: simnet.LinkConfig{Delay: 15 * time.Millisecond}}, c.a, c.b)
				var srv *Endpoint
				srv = endpointOn(t, setup.Server, Config{OnIntroduction: introducer(&srv)})
				a := endpointOn(t, setup.Clients[0], Config{HandshakeTimeout: 10 * time.Second})
				b := endpointOn(t, setup.Clients[1], Config{})
				ctx := context.Background()
				srvAddr := simAddr(srv)
				for _, e := range []*Endpoint{a, b} {
					if _, err := e.Connect(ctx, flash.URLEPD("rtmfp://server/app"), srvAddr); err != nil {
						t.Fatal(err)
					}
					if _, err := srv.Accept(ctx); err != nil {
						t.Fatal(err)
					}
				}
				start := time.Now()
				s, err := a.Connect(ctx, flash.PeerEPD(b.PeerID()), srvAddr)
				if !c.ok {
					if !errors.Is(err, ErrNoSuchPeer) {
						t.Fatalf("symmetric to symmetric: %v, want ErrNoSuchPeer", err)
					}
					if el := time.Since(start); el > 11*time.Second {
						t.Fatalf("failure reported after %v", el)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if s.FarPeerID() != b.PeerID() {
					t.Fatal("connected to the wrong peer")
				}
				if s.RemoteAddr().Addr() == srvAddr.Addr() {
					t.Fatal("the session runs through the server")
				}
				bs, err := b.Accept(ctx)
				if err != nil {
					t.Fatal(err)
				}
				f, _ := s.OpenFlow([]byte("TC\x04\xfa\x89\x01"), FlowOptions{})
				f.Write([]byte("direct"))
				rf, err := bs.AcceptFlow(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if m, err := rf.ReadMessage(ctx); err != nil || string(m) != "direct" {
					t.Fatalf("%q %v", m, err)
				}
				if st := srv.Stats(); st.RedirectsSent == 0 || st.IntroductionRequests == 0 || b.Stats().FIHellosIn == 0 {
					t.Fatalf("introduction not used: server %+v", st)
				}
			})
		})
	}
}
