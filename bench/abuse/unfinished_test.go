package abuse

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// heldMB is what the server held for its peers, in MB: the memory budget's
// peak (exact: every addition is counted) when the server reports it, else
// the growth of its resident set over base.
func heldMB(srv *server, tb testing.TB, baseRSS float64) (float64, string) {
	if ms, ok := srv.memory(); ok {
		return float64(ms.Peak) / 1e6, "budget peak"
	}
	return srv.rssMB(tb) - baseRSS, "RSS growth"
}

// BenchmarkUnfinishedRTMFP: three RTMFP sessions (connected
// NetConnections) each open 255 NetStream flows and write a 1.5 MiB message
// on each, which the server's receive window never lets complete, then
// keep their sessions alive. Bound: the server holds at most 3 × 4 MiB
// (the default per-session receive budget) plus 16 MB for them, and closes
// the sessions.
func BenchmarkUnfinishedRTMFP(b *testing.B) {
	hold := seconds("RTMFPD_ABUSE_SECONDS", 20*time.Second)
	for b.Loop() {
		srv := startServer(b, baseConfig(""))
		time.Sleep(time.Second)
		baseRSS := srv.rssMB(b)
		ctx, cancel := context.WithTimeout(context.Background(), hold+60*time.Second)
		defer cancel()
		var sessions []*client.Conn
		msg := make([]byte, 3<<19)
		for range 3 {
			c, err := client.Dial(ctx, "rtmfp://"+srv.rtmfp.String()+"/live", client.Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			sessions = append(sessions, c)
			s := c.Session()
			for i := range 255 {
				f, err := s.OpenFlow(tcflow.Metadata(uint32(i+1)), rtmfp.FlowOptions{})
				if err != nil {
					break // the server closed the session already
				}
				if err := f.Write(msg); err != nil {
					break // the server closed the session already
				}
			}
		}
		sm := srv.sample(b, 500*time.Millisecond)
		var peak float64
		var how string
		deadline := time.Now().Add(hold)
		for time.Now().Before(deadline) {
			h, w := heldMB(srv, b, baseRSS)
			peak, how = max(peak, h), w
			time.Sleep(500 * time.Millisecond)
		}
		sm.end()
		end := sm.snapshot()
		closed := 0
		for _, c := range sessions {
			select {
			case <-c.Done():
				closed++
			default:
			}
		}
		b.ReportMetric(peak, "MB-held-peak")
		b.ReportMetric(end.rssPeak-baseRSS, "MB-rss-growth")
		b.ReportMetric(float64(closed), "sessions-closed")
		b.Logf("held (%s) peak %.0f MB; RSS %.0f → peak %.0f MB (heap in use peak %.0f MB); sessions closed by the server: %d of 3",
			how, peak, baseRSS, end.rssPeak, end.heapPeak, closed)
		if peak > 3*4.2+16 {
			b.Errorf("the server held %.0f MB for three sessions (bound %.0f MB)", peak, 3*4.2+16)
		}
		if closed != 3 {
			b.Errorf("%d of 3 sessions holding unfinished messages were closed", closed)
		} else if lines := srv.find("session closed", "receive budget"); len(lines) < 3 {
			b.Errorf("%d logged reasons for 3 closed sessions", len(lines))
		} else {
			b.Logf("%s", lines[0])
		}
	}
}

// rtmpAttacker is a raw RTMP client: connected through the rtmp package,
// then writing chunks by hand.
type rtmpAttacker struct {
	nc     *lockConn
	closed atomic.Bool
}

// lockConn makes each Write whole: the rtmp package's own writes (its
// answers to the server's control messages) never land inside a chunk
// written by hand.
type lockConn struct {
	net.Conn
	mu sync.Mutex
}

func (c *lockConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

// dialAttacker connects to app on addr and sets its chunk size to
// chunkSize.
func dialAttacker(ctx context.Context, addr, app string, chunkSize int) (*rtmpAttacker, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	nc := &lockConn{Conn: raw}
	c := rtmp.NewClientConn(nc, nil)
	if err := c.WriteCommand(0, &rtmp.Command{Name: "connect", TxnID: 1, Object: amf.NewObject(
		amf.Property{Key: "app", Value: app}, amf.Property{Key: "tcUrl", Value: "rtmp://" + addr + "/" + app})}); err != nil {
		nc.Close()
		return nil, err
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			nc.Close()
			return nil, err
		}
		if m.Command != nil && m.Command.TxnID == 1 {
			if m.Command.Name != "_result" {
				nc.Close()
				return nil, fmt.Errorf("connect answered %s", m.Command.Name)
			}
			break
		}
	}
	if err := c.SetChunkSize(chunkSize); err != nil {
		nc.Close()
		return nil, err
	}
	a := &rtmpAttacker{nc: nc}
	nc.SetDeadline(time.Time{}) // the rtmp package's read deadlines no longer apply
	go func() {
		io.Copy(io.Discard, nc)
		a.closed.Store(true)
	}()
	return a, nil
}

// partial writes one chunk of n bytes starting a message of length bytes
// (type video, stream 1) on chunk stream csid (3..63), leaving it
// unfinished.
func (a *rtmpAttacker) partial(csid byte, length, n int) error {
	chunk := make([]byte, 12+n)
	copy(chunk, []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), 9, 1, 0, 0, 0})
	_, err := a.nc.Write(chunk)
	return err
}

// keepalive writes a complete Acknowledgement message on chunk stream 2.
func (a *rtmpAttacker) keepalive() error {
	m := []byte{2, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[12:], uint32(time.Now().Unix()))
	_, err := a.nc.Write(m)
	return err
}

// BenchmarkUnfinishedRTMP: RTMP clients connect, leave messages unfinished
// (messages declared 16 MiB long, 2 MiB of each sent) and then send a small
// complete message every 5 s to stay alive. Two rounds:
//
//   - per connection: 20 clients with 15 unfinished messages each (30 MiB,
//     what the chunk layer alone allowed). Bound: each is closed.
//   - global: 40 clients with 6 unfinished messages each (12 MiB, within a
//     connection's budget; 480 MiB together). Bound: the largest holders
//     are closed first.
//
// In both the server holds at most the global budget (256 MiB by default)
// plus a quarter: a holder closed for the budget keeps its memory for the
// moment it takes to close, and growth already under way on other
// connections lands first.
func BenchmarkUnfinishedRTMP(b *testing.B) {
	hold := seconds("RTMFPD_ABUSE_SECONDS", 20*time.Second)
	raiseFileLimit()
	rounds := []struct {
		name          string
		clients, msgs int
		bound         float64 // MB held
		allClosed     bool
	}{
		{"per-connection", 20, 15, 1.25 * 256 * (1 << 20) / 1e6, true},
		{"global", 40, 6, 1.25 * 256 * (1 << 20) / 1e6, false},
	}
	for _, r := range rounds {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				srv := startServer(b, baseConfig(""))
				time.Sleep(time.Second)
				baseRSS := srv.rssMB(b)
				ctx, cancel := context.WithTimeout(context.Background(), hold+60*time.Second)
				defer cancel()
				sm := srv.sample(b, 500*time.Millisecond)
				var attackers []*rtmpAttacker
				var mu sync.Mutex
				var wg sync.WaitGroup
				var refused atomic.Int32
				for range r.clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						a, err := dialAttacker(ctx, srv.rtmp, "live", 2<<20)
						if err != nil {
							refused.Add(1)
							return
						}
						mu.Lock()
						attackers = append(attackers, a)
						mu.Unlock()
						for i := range r.msgs {
							if a.partial(byte(3+i), 16<<20-1, 2<<20) != nil {
								return
							}
						}
					}()
				}
				wg.Wait()
				var peak float64
				var how string
				deadline := time.Now().Add(hold)
				for i := 0; time.Now().Before(deadline); i++ {
					h, w := heldMB(srv, b, baseRSS)
					peak, how = max(peak, h), w
					if i%10 == 0 {
						for _, a := range attackers {
							a.keepalive()
						}
					}
					time.Sleep(500 * time.Millisecond)
				}
				sm.end()
				end := sm.snapshot()
				closed := 0
				for _, a := range attackers {
					if a.closed.Load() {
						closed++
					}
					a.nc.Close()
				}
				b.ReportMetric(peak, "MB-held-peak")
				b.ReportMetric(end.rssPeak-baseRSS, "MB-rss-growth")
				b.ReportMetric(float64(closed), "closed")
				b.Logf("%d clients × %d MiB: held (%s) peak %.0f MB; RSS %.0f → peak %.0f MB (heap in use peak %.0f MB); closed by the server: %d (refused %d)",
					r.clients, 2*r.msgs, how, peak, baseRSS, end.rssPeak, end.heapPeak, closed, refused.Load())
				if peak > r.bound {
					b.Errorf("the server held %.0f MB (bound %.0f MB)", peak, r.bound)
				}
				if r.allClosed && closed+int(refused.Load()) != r.clients {
					b.Errorf("%d of %d connections over their budget were closed", closed, r.clients)
				}
				if !r.allClosed && closed == 0 {
					b.Errorf("nothing was shed")
				}
			}
		})
	}
}
