package rtmp

import (
	"errors"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

// deadlineCounter counts the read deadlines set on a connection.
type deadlineCounter struct {
	net.Conn
	set int
}

func (c *deadlineCounter) SetReadDeadline(t time.Time) error {
	c.set++
	return c.Conn.SetReadDeadline(t)
}

// A read soon after another keeps the deadline the first armed (no timer
// update), and still waits for its own full read timeout: the kept
// deadline firing first does not end it.
func TestReadDeadlineKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		nc := &deadlineCounter{Conn: a}
		const timeout = 10 * time.Second
		d := &deadlineConn{nc: nc, src: nc, readTimeout: timeout}
		go b.Write([]byte{1})
		buf := make([]byte, 1)
		if _, err := d.Read(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		go b.Write([]byte{2})
		if _, err := d.Read(buf); err != nil {
			t.Fatal(err)
		}
		if nc.set != 1 {
			t.Fatalf("%d read deadlines set for two reads 100 ms apart, want 1", nc.set)
		}
		start := time.Now()
		_, err := d.Read(buf)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("idle read: %v", err)
		}
		if took := time.Since(start); took != timeout {
			t.Fatalf("an idle read ended after %v, want %v", took, timeout)
		}
	})
}
