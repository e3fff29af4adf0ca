package rtmfp

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

func testLogger() *slog.Logger {
	if os.Getenv("RTMFP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newFlash(t testing.TB) *flash.Profile {
	t.Helper()
	p, err := flash.New(flash.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func udpEndpoint(t testing.TB, cfg Config) *Endpoint {
	t.Helper()
	if cfg.Profile == nil {
		cfg.Profile = newFlash(t)
	}
	cfg.Logger = testLogger()
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = 300 * time.Millisecond
	}
	e, err := Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func addrOf(e *Endpoint) netip.AddrPort {
	return netip.MustParseAddrPort(e.LocalAddr().String())
}

func TestLoopbackConnectAndExchange(t *testing.T) {
	srv := udpEndpoint(t, Config{})
	cli := udpEndpoint(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	cs, err := cli.Connect(ctx, flash.URLEPD("rtmfp://127.0.0.1/live"), addrOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := srv.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ss.FarPeerID() != cli.PeerID() {
		t.Fatalf("server sees peer %v, client is %v", ss.FarPeerID(), cli.PeerID())
	}
	f, err := cs.OpenFlow([]byte("TC\x04\x00"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 200 {
		m := bytes.Repeat([]byte{byte(i)}, 1+i*37%5000)
		want = append(want, m)
		if err := f.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	rf, err := ss.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(rf.Metadata()) != "TC\x04\x00" {
		t.Fatalf("metadata %q", rf.Metadata())
	}
	for i := range want {
		m, err := rf.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(m, want[i]) {
			t.Fatalf("message %d differs: %d bytes, want %d", i, len(m), len(want[i]))
		}
	}
	// A return flow associated with the received one.
	back, err := ss.OpenFlow([]byte("TC\x04\x00"), FlowOptions{ReturnFor: rf})
	if err != nil {
		t.Fatal(err)
	}
	back.Write([]byte("reply"))
	rb, err := cs.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Association() != f {
		t.Fatalf("association %v, want the client's flow", rb.Association())
	}
	if m, err := rb.ReadMessage(ctx); err != nil || string(m) != "reply" {
		t.Fatalf("reply %q %v", m, err)
	}
	f.Close()
	if _, err := rf.ReadMessage(ctx); err != io.EOF {
		t.Fatalf("after the last message: %v", err)
	}
	t.Log("flow closed", time.Now())
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("closed flow never finished")
	}
	t.Log("flow done", time.Now())
	cs.Close()
	select {
	case <-ss.Done():
	case <-ctx.Done():
		t.Fatal("server session did not see the close")
	}
	t.Log("session done", time.Now())
	t.Logf("client %+v", cli.Stats())
	t.Logf("server %+v", srv.Stats())
}
