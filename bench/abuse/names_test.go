package abuse

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// BenchmarkLongNames: an RTMP client sends 50 play commands with a 4 MiB
// stream name, then 50 calls of a 1 MiB method name, and reads every answer.
// Bound: the server writes at most 1 MB of log and at most 1 MB of answers
// for them (a name is refused at parse time with a status or _error that
// quotes only a short prefix of it).
func BenchmarkLongNames(b *testing.B) {
	for b.Loop() {
		srv := startServer(b, baseConfig(""))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", srv.rtmp)
		if err != nil {
			b.Fatal(err)
		}
		nc := &countConn{Conn: raw}
		defer nc.Close()
		c := rtmp.NewClientConn(nc, nil)
		call := func(txn float64, name string, obj any) *rtmp.Command {
			if err := c.WriteCommand(0, &rtmp.Command{Name: name, TxnID: txn, Object: obj}); err != nil {
				b.Fatal(err)
			}
			for {
				m, err := c.ReadMessage()
				if err != nil {
					b.Fatal(err)
				}
				if m.Command != nil && m.Command.TxnID == txn {
					return m.Command
				}
			}
		}
		call(1, "connect", amf.NewObject(amf.Property{Key: "app", Value: "live"},
			amf.Property{Key: "tcUrl", Value: "rtmp://" + srv.rtmp + "/live"}))
		res := call(2, "createStream", nil)
		id, _ := amf.Number(res.Arg(0))
		logBefore, inBefore := srv.logBytes.Load(), nc.n.Load()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		name := strings.Repeat("n", 4<<20)
		method := strings.Repeat("m", 1<<20)
		sent := 0
		for i := range 100 {
			var err error
			if i < 50 {
				err = c.WriteCommand(uint32(id), &rtmp.Command{Name: "play", Args: []any{name}})
			} else {
				err = c.WriteCommand(0, &rtmp.Command{Name: method, TxnID: float64(10 + i)})
			}
			if err != nil {
				break
			}
			sent++
		}
		// Let the answers and logs come out.
		time.Sleep(5 * time.Second)
		logGrowth := float64(srv.logBytes.Load()-logBefore) / 1e6
		answers := float64(nc.n.Load()-inBefore) / 1e6
		nc.Close()
		<-done
		b.ReportMetric(logGrowth, "MB-log")
		b.ReportMetric(answers, "MB-answers")
		b.Logf("%d commands sent (%.0f MB): server log +%.2f MB, answers %.2f MB", sent, float64(50*(4<<20)+50*(1<<20))/1e6, logGrowth, answers)
		if logGrowth > 1 || answers > 1 {
			b.Errorf("long names: %.1f MB of log and %.1f MB of answers (bound 1 MB each)", logGrowth, answers)
		}
	}
}
