package rtmfp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// TestIPv6AndDualStack runs sessions over ::1 and, on a dual-stack socket
// from an IPv4 client (IPv4-mapped addresses through the batch writer).
func TestIPv6AndDualStack(t *testing.T) {
	srv, err := Listen("udp", "[::]:0", Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	port := netip.MustParseAddrPort(srv.LocalAddr().String()).Port()
	for _, c := range []struct{ network, local, server string }{
		{"udp6", "[::1]:0", "::1"},
		{"udp4", "127.0.0.1:0", "127.0.0.1"},
	} {
		cli, err := Listen(c.network, c.local, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs, err := cli.Connect(ctx, flash.URLEPD("rtmfp://x/app"), netip.AddrPortFrom(netip.MustParseAddr(c.server), port))
		if err != nil {
			t.Fatalf("%s: %v", c.network, err)
		}
		ss, err := srv.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := ss.OpenFlow([]byte("x"), FlowOptions{})
		for range 100 {
			f.Write(make([]byte, 3000))
		}
		rf, err := cs.AcceptFlow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if _, err := rf.ReadMessage(ctx); err != nil {
				t.Fatalf("%s message %d: %v", c.network, i, err)
			}
		}
		cancel()
		cli.Close()
	}
}
