package rtmfp

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
)

// TestShutdownAbandonsVanishedPeer: at endpoint shutdown a session whose far
// end has vanished (every packet to it lost, data unacknowledged) is
// abandoned after about a second with ErrAbandoned, instead of holding the
// shutdown through the flow drain and the close exchange (CloseTimeout
// each); a far end that answers gets the whole close exchange.
func TestShutdownAbandonsVanishedPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		link := simnet.LinkConfig{Delay: 5 * time.Millisecond}
		n, a, b := simnet.Pair(t, simnet.Config{Link: link, Seed: 3})
		srv, err := NewEndpoint(b, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := NewEndpoint(a, Config{Profile: newFlash(t), Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer gone.Close()
		ctx := context.Background()
		_, ss := connectPair(t, ctx, gone, srv)
		sf, err := ss.OpenFlow([]byte("x"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The peer vanishes: nothing reaches it any more, and it sends
		// nothing.
		n.AddFilter(simnet.StageSend, func(*simnet.Packet) simnet.Verdict { return simnet.Drop })
		if err := sf.Write([]byte("never acknowledged")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("shutdown took %v with a vanished peer", took)
		}
		if !errors.Is(ss.Err(), ErrAbandoned) {
			t.Fatalf("session error %v, want ErrAbandoned", ss.Err())
		}
	})
}

// TestShutdownClosesAnsweringPeer: a far end that answers is closed with
// the close exchange, not abandoned.
func TestShutdownClosesAnsweringPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv, _ := simPair(t, simnet.LinkConfig{Delay: 200 * time.Millisecond}, 5)
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		sf, err := ss.OpenFlow([]byte("x"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sf.Write(make([]byte, 100<<10)); err != nil {
			t.Fatal(err)
		}
		go func() { // the client reads what it is sent
			for {
				f, err := cs.AcceptFlow(ctx)
				if err != nil {
					return
				}
				go func() {
					for {
						if _, err := f.ReadMessage(ctx); err != nil {
							return
						}
					}
				}()
			}
		}()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if errors.Is(ss.Err(), ErrAbandoned) {
			t.Fatalf("an answering peer was abandoned")
		}
		select {
		case <-cs.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("client session not closed by the server's shutdown")
		}
	})
}
