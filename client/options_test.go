package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// TestConnectOptions: objectEncoding 0 is announced and echoed, commands go
// as AMF3 messages when asked and are answered, OnMessage sees the server's
// Set Keepalive Timers event, and setPeerInfo reaches the server.
func TestConnectOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 3, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		sc, _ := sh.Listen(1935)
		ns := startServer(t, newEndpoint(t, sc))
		url := fmt.Sprintf("rtmfp://%s/live", sc.AddrPort())
		ch, _ := n.NewHost()
		cc, _ := ch.Listen(0)
		var mu sync.Mutex
		var types []uint8
		var keepalive []byte
		c, err := Dial(context.Background(), url, Options{Endpoint: newEndpoint(t, cc), Logger: quiet, AMF0: true, CommandsAMF3: true,
			OnMessage: func(id uint32, m media.Message) {
				mu.Lock()
				defer mu.Unlock()
				types = append(types, m.Type)
				if m.Type == media.TypeUserControl && len(m.Payload) == 10 && m.Payload[1] == byte(netstream.EventSetKeepalive) {
					keepalive = append([]byte(nil), m.Payload...)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if oe, _ := c.ConnectResult.Info.GetNumber("objectEncoding"); oe != 0 || c.ConnectResult.Code != netstream.ConnectSuccess {
			t.Fatalf("connect answered %v, objectEncoding %v", c.ConnectResult, oe)
		}
		ctx := context.Background()
		// An AMF3 command message is understood (createStream answered).
		if _, err := c.CreateStream(ctx); err != nil {
			t.Fatal(err)
		}
		addr := netip.MustParseAddrPort("[2001:db8::1]:1935")
		if err := c.SetPeerInfo(ctx, netip.MustParseAddrPort("10.0.0.1:5000"), addr); err != nil {
			t.Fatal(err)
		}
		// Ordered on the NetConnection flow: once this call is answered the
		// setPeerInfo before it was handled.
		var se *StatusError
		if _, err := c.Call(ctx, "noSuchMethod", 1.0); !errors.As(err, &se) || se.Status.Code != netstream.CallFailed {
			t.Fatalf("unknown call: %v", err)
		}
		var got []string
		for _, sc := range ns.Conns() {
			got = append(got, sc.PeerAddresses()...)
		}
		if len(got) != 2 || got[0] != "10.0.0.1:5000" || got[1] != "[2001:db8::1]:1935" {
			t.Errorf("server has peer addresses %q", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if keepalive == nil {
			t.Errorf("no Set Keepalive Timers event among %v", types)
		}
	})
}
