package rtmfp

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
)

// budgetPair returns a client and a server endpoint with their own
// configurations on a simulated network. Call it inside the synctest bubble.
func budgetPair(t *testing.T, ccfg, scfg Config) (cli, srv *Endpoint) {
	t.Helper()
	link := simnet.LinkConfig{Delay: 5 * time.Millisecond, Bandwidth: 100e6, QueueBytes: 1 << 20}
	_, a, b := simnet.Pair(t, simnet.Config{Link: link, Seed: 3, RecvQueue: 4096})
	scfg.Profile, scfg.Logger = newFlash(t), testLogger()
	ccfg.Profile, ccfg.Logger = newFlash(t), testLogger()
	var err error
	if srv, err = NewEndpoint(b, scfg); err != nil {
		t.Fatal(err)
	}
	if cli, err = NewEndpoint(a, ccfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
	})
	return cli, srv
}

// waitDone waits (in fake time) for a session to end, failing after limit.
func waitDone(t *testing.T, s *Session, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-s.Done():
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("session still open after %v", limit)
		return 0
	}
}

// TestRecvBudgetClosesHoarder: a far end that opens flow after flow, each
// with a message larger than the flow's window (so it can never complete),
// fills the session's receive budget and is closed; the memory it held is
// given back to the server's pool. Without a session budget each flow held
// its whole window: 256 flows × 1 MiB by default.
func TestRecvBudgetClosesHoarder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := budget.NewPool(0)
		const window, sessionBudget = 64 << 10, 256 << 10
		cli, srv := budgetPair(t, Config{}, Config{RecvWindow: window, SessionRecvBudget: sessionBudget, Memory: pool})
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		go func() { // the flows are accepted, never completed
			for {
				if _, err := ss.AcceptFlow(ctx); err != nil {
					return
				}
			}
		}()
		msg := make([]byte, 100<<10)
		for i := range 16 {
			f, err := cs.OpenFlow([]byte{'T', 'C', 4, byte(i + 1)}, FlowOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
		waitDone(t, ss, time.Minute)
		if err := ss.Err(); !errors.Is(err, ErrRecvBudget) {
			t.Fatalf("session ended with %v", err)
		}
		if n := srv.Stats().ClosedRecvBudget; n != 1 {
			t.Fatalf("ClosedRecvBudget = %d", n)
		}
		synctest.Wait()
		time.Sleep(10 * time.Second) // the close exchange ends
		if st := pool.Stats(); st.Used != 0 || st.Accounts != 0 || st.Peak > sessionBudget*5/4+64<<10 {
			t.Fatalf("pool after the session: %+v", st)
		}
	})
}

// TestRecvBudgetShared: flows whose windows together exceed the session's
// budget (the sender first assumes 64 KiB for each) still deliver
// everything when the application reads, as long as the messages in
// progress at once fit the budget: each flow's window is cut to what the
// session has left, and a fragment filling a gap is always taken.
func TestRecvBudgetShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window, sessionBudget = 64 << 10, 128 << 10
		cli, srv := budgetPair(t, Config{}, Config{RecvWindow: window, SessionRecvBudget: sessionBudget})
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		const flows, msgs = 8, 20
		for i := range flows {
			f, err := cs.OpenFlow([]byte{'T', 'C', 4, byte(i + 1)}, FlowOptions{})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for range msgs {
					m := make([]byte, 12<<10)
					for f.Write(m) == ErrBufferFull {
						f.WaitBuffer(ctx, len(m))
					}
				}
			}()
		}
		got := make(chan int, flows)
		for range flows {
			rf, err := ss.AcceptFlow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				n := 0
				for n < msgs {
					if _, err := rf.ReadMessage(ctx); err != nil {
						break
					}
					n++
				}
				got <- n
			}()
		}
		for range flows {
			select {
			case n := <-got:
				if n != msgs {
					t.Fatalf("a flow delivered %d of %d messages (session: %v)", n, msgs, ss.Err())
				}
			case <-time.After(time.Minute):
				t.Fatalf("transfer stalled (session: %v)", ss.Err())
			}
		}
		if ss.Err() != nil {
			t.Fatalf("session closed: %v", ss.Err())
		}
	})
}

// TestStalledFarEndClosed: a far end that stops taking data but keeps its
// session alive (it answers pings) is closed once RetransmitLimit passes
// without acknowledged progress — whether it stops acknowledging
// altogether or acknowledges with a closed window because it stopped
// reading.
func TestStalledFarEndClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		cli  Config
	}{
		{"no acknowledgements", Config{noAcks: true}},
		{"closed window", Config{RecvWindow: 32 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const limit = 10 * time.Second
				tc.cli.KeepalivePeriod = time.Second
				cli, srv := budgetPair(t, tc.cli, Config{RetransmitLimit: limit, KeepalivePeriod: time.Second, IdleTimeout: time.Hour})
				ctx := context.Background()
				cs, ss := connectPair(t, ctx, cli, srv)
				go func() { // accepted, never read
					for {
						if _, err := cs.AcceptFlow(ctx); err != nil {
							return
						}
					}
				}()
				f, err := ss.OpenFlow([]byte("TC\x04\x01"), FlowOptions{Lifetime: 2 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				stop := make(chan struct{})
				defer close(stop)
				go func() { // live media: written whatever happens to it
					tick := time.NewTicker(40 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-tick.C:
							f.Write(make([]byte, 4000))
						case <-stop:
							return
						}
					}
				}()
				took := waitDone(t, ss, 5*time.Minute)
				if err := ss.Err(); !errors.Is(err, ErrStalled) {
					t.Fatalf("session ended with %v after %v", err, took)
				}
				if took < limit || took > limit+5*time.Second {
					t.Fatalf("closed after %v (limit %v)", took, limit)
				}
				if srv.Stats().ClosedStalled != 1 {
					t.Fatalf("stats %+v", srv.Stats())
				}
				if cs.Err() != nil && !errors.Is(cs.Err(), ErrSessionClosed) && !errors.Is(cs.Err(), ErrFarClose) {
					t.Fatalf("far end: %v", cs.Err())
				}
			})
		})
	}
}
