package rtmfp

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// simPair returns a client and a server endpoint on a simulated network
// whose core path is link. Call it inside the synctest bubble.
func simPair(t *testing.T, link simnet.LinkConfig, seed uint64) (cli, srv *Endpoint, n *simnet.Network) {
	t.Helper()
	n, a, b := simnet.Pair(t, simnet.Config{Link: link, Seed: seed, RecvQueue: 4096})
	var err error
	srv, err = NewEndpoint(b, Config{Profile: newFlash(t), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cli, err = NewEndpoint(a, Config{Profile: newFlash(t), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
	})
	return cli, srv, n
}

func simAddr(e *Endpoint) netip.AddrPort { return netip.MustParseAddrPort(e.LocalAddr().String()) }

// connectPair opens a session from cli to srv and accepts it.
func connectPair(t *testing.T, ctx context.Context, cli, srv *Endpoint) (cs, ss *Session) {
	t.Helper()
	cs, err := cli.Connect(ctx, flash.URLEPD("rtmfp://server/app"), simAddr(srv))
	if err != nil {
		t.Fatal(err)
	}
	ss, err = srv.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cs, ss
}

// TestBulkTransferLossy sends 20 MB over 4 parallel flows across a link
// with loss, reordering and duplication, and checks every message arrives
// byte-exact and in order (RFC 7016 §3.6 reliable flows).
func TestBulkTransferLossy(t *testing.T) {
	total := 20 << 20
	if testing.Short() {
		total = 4 << 20
	}
	for _, loss := range []float64{0, 0.05, 0.15} {
		t.Run(fmt.Sprintf("loss=%v", loss), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				link := simnet.LinkConfig{Delay: 10 * time.Millisecond, Jitter: time.Millisecond,
					Loss: loss, Reorder: 0.02, Duplicate: 0.01, Bandwidth: 200e6, QueueBytes: 1 << 20}
				cli, srv, _ := simPair(t, link, 7)
				ctx := context.Background()
				cs, ss := connectPair(t, ctx, cli, srv)
				start := time.Now()
				const flows = 4
				var wg sync.WaitGroup
				var mu sync.Mutex
				var failures []string
				for i := range flows {
					r := rand.New(rand.NewPCG(uint64(i), 99))
					f, err := cs.OpenFlow([]byte{'T', 'C', 4, byte(i)}, FlowOptions{})
					if err != nil {
						t.Fatal(err)
					}
					var sent [][]byte
					for n := 0; n < total/flows; {
						m := make([]byte, 1+r.IntN(20000))
						for j := range m {
							m[j] = byte(r.Uint32())
						}
						n += len(m)
						sent = append(sent, m)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for _, m := range sent {
							for {
								err := f.Write(m)
								if err == nil {
									break
								}
								if err != ErrBufferFull {
									t.Error(err)
									return
								}
								if err := f.WaitBuffer(ctx, len(m)); err != nil {
									t.Error(err)
									return
								}
							}
						}
						f.Close()
					}()
					rf, err := ss.AcceptFlow(ctx)
					if err != nil {
						t.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := range sent {
							m, err := rf.ReadMessage(ctx)
							if err != nil || !bytes.Equal(m, sent[k]) {
								mu.Lock()
								failures = append(failures, fmt.Sprintf("flow %d message %d: err %v len %d want %d", rf.ID(), k, err, len(m), len(sent[k])))
								mu.Unlock()
								return
							}
						}
					}()
				}
				wg.Wait()
				if len(failures) > 0 {
					t.Fatal(failures)
				}
				el := time.Since(start)
				st := cs.Stats()
				t.Logf("%d MB in %v of simulated time (%.1f Mbit/s), %d packets, %d retransmits, %d timeouts",
					total>>20, el, float64(total)*8/el.Seconds()/1e6, st.PacketsOut, st.Retransmits, st.Timeouts)
			})
		})
	}
}

// TestLifetimeAbandons checks partial reliability: on a link that loses
// everything for a while, messages with a 1 s lifetime are abandoned and
// the flow goes on with fresh messages instead of stalling on old ones.
func TestLifetimeAbandons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv, n := simPair(t, simnet.LinkConfig{Delay: 20 * time.Millisecond}, 3)
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		f, err := cs.OpenFlow([]byte("TC\x04\x01"), FlowOptions{Lifetime: time.Second, TimeCritical: true})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("first"))
		rf, err := ss.AcceptFlow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rf.ReadMessage(ctx); err != nil || string(m) != "first" {
			t.Fatalf("first message %q %v", m, err)
		}
		// Black out the path for 3 s while 30 messages are written.
		n.SetDefaultLink(simnet.LinkConfig{Delay: 20 * time.Millisecond, Loss: 1})
		for i := range 30 {
			f.Write(fmt.Appendf(nil, "stale %d", i))
			time.Sleep(100 * time.Millisecond)
		}
		n.SetDefaultLink(simnet.LinkConfig{Delay: 20 * time.Millisecond})
		f.Write([]byte("fresh"))
		got := []string{}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			rctx, cancel := context.WithDeadline(ctx, deadline)
			m, err := rf.ReadMessage(rctx)
			cancel()
			if err != nil {
				break
			}
			got = append(got, string(m))
			if string(m) == "fresh" {
				break
			}
		}
		if len(got) == 0 || got[len(got)-1] != "fresh" {
			t.Fatalf("fresh message not delivered; got %q", got)
		}
		// Messages older than 1 s when the path came back were abandoned.
		if len(got) > 12 {
			t.Fatalf("%d stale messages delivered, most should have been abandoned: %q", len(got)-1, got)
		}
		t.Logf("delivered after the blackout: %q", got)
	})
}
