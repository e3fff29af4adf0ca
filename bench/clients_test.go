package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

var quiet = slog.New(slog.DiscardHandler)

// raiseFileLimit lifts the soft open-file limit to the hard one: load
// generators open one UDP socket per simulated client.
func raiseFileLimit(tb testing.TB) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

// clientEndpoint opens a loopback endpoint with its own identity (its own
// peer ID), as each simulated client needs.
func clientEndpoint(tb testing.TB) *rtmfp.Endpoint {
	p, err := flash.New(flash.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: p, Logger: quiet, CloseTimeout: 200 * time.Millisecond,
		StartupRate: 1e6, StartupBurst: 1e6, HandshakeTimeout: 60 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// dialMany connects n clients to url, 32 at a time.
func dialMany(tb testing.TB, url string, n int) []*client.Conn {
	raiseFileLimit(tb)
	conns := make([]*client.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, url, client.Options{Endpoint: clientEndpoint(tb), Logger: quiet})
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("client %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	tb.Cleanup(func() {
		for _, c := range conns {
			c.Session().Endpoint().Close()
		}
	})
	return conns
}

func urlOf(addr netip.AddrPort, app string) string { return "rtmfp://" + addr.String() + "/" + app }

func getenv(k string) string { return os.Getenv(k) }
