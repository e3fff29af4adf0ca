package rtmfp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/cookie"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/plain"
)

// TestKeepaliveAndIdle: an idle session keeps itself alive with pings; once
// the far end vanishes it is closed after IdleTimeout.
func TestKeepaliveAndIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, a, b := simnet.Pair(t, simnet.Config{Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		mk := func(c *simnet.Conn) *Endpoint {
			e, err := NewEndpoint(c, Config{Profile: newFlash(t), Logger: testLogger(),
				KeepalivePeriod: 2 * time.Second, IdleTimeout: 10 * time.Second, CloseTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			return e
		}
		srv, cli := mk(b), mk(a)
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		time.Sleep(30 * time.Second)
		if cs.Err() != nil || ss.Err() != nil {
			t.Fatalf("idle but alive sessions closed: %v %v", cs.Err(), ss.Err())
		}
		if cs.Stats().PacketsOut < 10 {
			t.Fatalf("only %d keepalive packets in 30 s", cs.Stats().PacketsOut)
		}
		// The path dies: both ends give up after IdleTimeout.
		n.SetDefaultLink(simnet.LinkConfig{Loss: 1})
		start := time.Now()
		<-cs.Done()
		if el := time.Since(start); el < 8*time.Second || el > 13*time.Second {
			t.Fatalf("closed after %v, IdleTimeout is 10 s", el)
		}
		if !errors.Is(cs.Err(), ErrTimeout) {
			t.Fatalf("err %v", cs.Err())
		}
		<-ss.Done()
	})
}

// TestCloseExchange: Close flushes written data, then the close request and
// acknowledgement end both sides (RFC 7016 §3.5.5).
func TestCloseExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv, _ := simPair(t, simnet.LinkConfig{Delay: 10 * time.Millisecond, Loss: 0.1}, 5)
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		f, _ := cs.OpenFlow([]byte("m"), FlowOptions{})
		for range 50 {
			f.Write(make([]byte, 3000))
		}
		cs.Close()
		rf, err := ss.AcceptFlow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for {
			if _, err := rf.ReadMessage(ctx); err != nil {
				break
			}
			got++
		}
		if got != 50 {
			t.Fatalf("%d of 50 messages before the close", got)
		}
		<-cs.Done()
		<-ss.Done()
		if !errors.Is(ss.Err(), ErrFarClose) || !errors.Is(cs.Err(), ErrSessionClosed) {
			t.Fatalf("errors %v / %v", cs.Err(), ss.Err())
		}
		if _, err := cs.OpenFlow(nil, FlowOptions{}); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("OpenFlow on a closed session: %v", err)
		}
	})
}

// TestAddressMobility: the client's NAT mapping changes mid-session (its
// packets now come from another address); the server follows it.
func TestAddressMobility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := simnet.BehindNATs(t, simnet.Config{Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}}, simnet.FullCone)
		srv := endpointOn(t, setup.Server, Config{})
		cli := endpointOn(t, setup.Clients[0], Config{})
		ctx := context.Background()
		cs, err := cli.Connect(ctx, flash.URLEPD("rtmfp://s/app"), simAddr(srv))
		if err != nil {
			t.Fatal(err)
		}
		ss, _ := srv.Accept(ctx)
		before := ss.RemoteAddr()
		setup.NATs[0].FlushMappings()
		f, _ := cs.OpenFlow([]byte("x"), FlowOptions{})
		f.Write([]byte("after the move"))
		rf, err := ss.AcceptFlow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rf.ReadMessage(ctx); err != nil || string(m) != "after the move" {
			t.Fatalf("%q %v", m, err)
		}
		back, _ := ss.OpenFlow([]byte("y"), FlowOptions{})
		back.Write([]byte("reply"))
		rb, err := cs.AcceptFlow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rb.ReadMessage(ctx); err != nil || string(m) != "reply" {
			t.Fatalf("%q %v", m, err)
		}
		if ss.RemoteAddr() == before || ss.Stats().AddressChanges == 0 {
			t.Fatalf("server did not follow the client: %v → %v", before, ss.RemoteAddr())
		}
	})
}

// TestHMACAndSequenceNumbers runs a session where the initiator asks for
// HMAC authentication and session sequence numbers (RFC 7425 §4.6), as
// rtmfp-cpp does: both directions use them.
func TestHMACAndSequenceNumbers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := simnet.Pair(t, simnet.Config{Link: simnet.LinkConfig{Delay: 5 * time.Millisecond, Loss: 0.05, Duplicate: 0.05}, Seed: 3})
		// Both ends ask, as rtmfp-cpp's do: each then sends HMACs and
		// sequence numbers.
		pc, err := flash.New(flash.Config{RequestHMAC: true, RequestSequence: true, HMACLength: 16})
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := flash.New(flash.Config{RequestHMAC: true, RequestSequence: true})
		cli, _ := NewEndpoint(a, Config{Profile: pc, Logger: testLogger(), CloseTimeout: time.Second})
		srv, _ := NewEndpoint(b, Config{Profile: ps, Logger: testLogger(), CloseTimeout: time.Second})
		t.Cleanup(func() { cli.Close(); srv.Close() })
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		if o := cs.Crypto().Send.Overhead(); o < 16+16 {
			t.Fatalf("client codec overhead %d: no HMAC", o)
		}
		if o := ss.Crypto().Send.Overhead(); o < 10+16 {
			t.Fatalf("server codec overhead %d: no HMAC", o)
		}
		f, _ := cs.OpenFlow([]byte("x"), FlowOptions{})
		for i := range 100 {
			f.Write([]byte{byte(i)})
		}
		rf, _ := ss.AcceptFlow(ctx)
		for i := range 100 {
			m, err := rf.ReadMessage(ctx)
			if err != nil || m[0] != byte(i) {
				t.Fatalf("message %d: %v %v", i, m, err)
			}
		}
		if ss.Stats().BadPackets != 0 {
			t.Fatalf("%d packets failed (duplicates must be dropped as replays quietly)", ss.Stats().BadPackets)
		}
	})
}

// TestGarbageAndFloods sends every kind of bad datagram and a flood of
// IHellos from many addresses: nothing panics, startup replies stay within
// the rate limits, and no state is kept for unanswered cookies.
func TestGarbageAndFloods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 9})
		t.Cleanup(func() { n.Close() })
		sh, _ := n.NewHost()
		srv := endpointOn(t, sh, Config{StartupRate: 10, StartupBurst: 20})
		srvAddr := simAddr(srv)
		attacker, _ := n.NewHost()
		ac, _ := attacker.Listen(0)
		r := rand.New(rand.NewPCG(1, 1))
		startup, _ := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})
		ihello := startupBody([]byte{0x30, 0x00, 0x17, 0x06, 0x05, 0x0a, 'l', 'i', 'v', 'e',
			0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
		for i := range 2000 {
			var pkt []byte
			switch i % 4 {
			case 0: // random bytes of random length
				pkt = make([]byte, r.IntN(1500))
				for j := range pkt {
					pkt[j] = byte(r.Uint32())
				}
			case 1: // a valid IHello
				pkt = startup.Seal(make([]byte, 4), ihello)
				scramble(pkt, 0)
			case 2: // truncated IHello
				pkt = startup.Seal(make([]byte, 4), ihello)
				scramble(pkt, 0)
				pkt = pkt[:4+r.IntN(len(pkt)-4)]
			case 3: // a random session ID
				pkt = startup.Seal(make([]byte, 4), ihello)
				scramble(pkt, r.Uint32()|1)
			}
			ac.WriteToUDPAddrPort(pkt, srvAddr)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st := srv.Stats()
		if st.RHellosSent > 40 {
			t.Fatalf("%d RHellos to one address in about a second (limit 10/s, burst 20)", st.RHellosSent)
		}
		if st.DropRateLimited == 0 || st.DropShort+st.DropBadStartup+st.DropUnknownSession == 0 {
			t.Fatalf("drops not counted: %+v", st)
		}
		srv.mu.Lock()
		kept := len(srv.sessions) + len(srv.byCookie) + len(srv.inProgress)
		srv.mu.Unlock()
		if kept != 0 {
			t.Fatalf("%d entries of state kept for unanswered handshakes", kept)
		}
		// The endpoint still serves a real client.
		ch, _ := n.NewHost()
		cli := endpointOn(t, ch, Config{})
		if _, err := cli.Connect(context.Background(), flash.URLEPD("rtmfp://s/app"), srvAddr); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzEndpointReceive feeds arbitrary datagrams to an endpoint: as startup
// packets, and as packets of an open session (sealed with the session's key
// so they reach the chunk parsers, flows, acks and the send path).
func FuzzEndpointReceive(f *testing.F) {
	f.Add([]byte{0x0b, 0x00, 0x01, 0x30, 0x00, 0x03, 0x01, 0x00, 0x00}, false)
	f.Add([]byte{0x09, 0x00, 0x01, 0x10, 0x00, 0x0a, 0x80, 0x02, 0x01, 0x01, 0x03, 0x02, 0x00, 0x54, 0x00, 0x41}, true)
	f.Add([]byte{0x09, 0x00, 0x01, 0x51, 0x00, 0x05, 0x01, 0x10, 0x05, 0x00, 0x02}, true)
	f.Add([]byte{0x09, 0x00, 0x01, 0x18, 0x00, 0x01, 0x02, 0x5e, 0x00, 0x02, 0x01, 0x00}, true)
	f.Add([]byte{0x09, 0x00, 0x01, 0x0f, 0x00, 0x2b, 0x22, 0x21, 0x0f}, true)
	srvP, _ := flash.New(flash.Config{})
	srv, err := Listen("udp4", "127.0.0.1:0", Config{Profile: srvP, Logger: testLogger(), CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	// A session that is never started: the fuzz goroutine plays its
	// worker. Its far end is a loopback port nobody listens on.
	far := netip.MustParseAddrPort("127.0.0.1:9")
	sess := srv.newSession(0x1234, false, far)
	sess.w = &worker{e: srv}
	sess.w.out.init(srv)
	sess.setOpen(0x99, &profile.SessionCrypto{Send: plain.NewCodec(7), Recv: plain.NewCodec(7)}, time.Now())
	seal := plain.NewCodec(7)
	startup, _ := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})
	f.Fuzz(func(t *testing.T, body []byte, session bool) {
		var pkt []byte
		if session {
			pkt = seal.Seal(make([]byte, 4), body)
			scramble(pkt, sess.nearID)
		} else {
			pkt = startup.Seal(make([]byte, 4), body)
			scramble(pkt, 0)
		}
		if len(pkt) > maxDatagram {
			return
		}
		p := getPacket()
		p.n = copy(p.buf[:], pkt)
		p.from = far
		if session {
			now := time.Now()
			sess.handlePacket(p, now)
			putPacket(p)
			sess.onTimers(now)
			if sess.state == stateOpen || sess.state == stateFarClose {
				sess.flush(now)
			}
			sess.w.out.flush()
		} else {
			srv.handleStartup(p)
		}
	})
}

// TestRIKeyingForgotten: a responder keeps its RIKeying (to answer a
// repeated IIKeying) only while the IIKeying's cookie is valid.
func TestRIKeyingForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := simnet.Pair(t, simnet.Config{Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		srv, _ := NewEndpoint(b, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: time.Second})
		cli, _ := NewEndpoint(a, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: time.Second})
		t.Cleanup(func() { cli.Close(); srv.Close() })
		_, ss := connectPair(t, context.Background(), cli, srv)
		held := func() (bool, int) {
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return ss.rikeying != nil, len(srv.byCookie)
		}
		if r, n := held(); !r || n != 1 {
			t.Fatalf("after the handshake: RIKeying kept %v, %d sessions by cookie; want true, 1", r, n)
		}
		time.Sleep(cookie.Lifetime + 2*DefaultKeepalivePeriod)
		synctest.Wait()
		if r, n := held(); r || n != 0 {
			t.Fatalf("after the cookie's lifetime: RIKeying kept %v, %d sessions by cookie; want false, 0", r, n)
		}
	})
}
