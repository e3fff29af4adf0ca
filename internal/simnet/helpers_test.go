package simnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// packetConn is the socket interface the RTMFP engine is written against;
// both *net.UDPConn and *Conn must satisfy it.
type packetConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	Close() error
	SetReadDeadline(t time.Time) error
}

var (
	_ packetConn = (*Conn)(nil)
	_ packetConn = (*net.UDPConn)(nil)
)

func send(t testing.TB, c *Conn, dst netip.AddrPort, payload string) {
	t.Helper()
	n, err := c.WriteToUDPAddrPort([]byte(payload), dst)
	if err != nil || n != len(payload) {
		t.Fatalf("write to %v: n=%d err=%v", dst, n, err)
	}
}

func recv(t testing.TB, c *Conn) (string, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 70000)
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read on %v: %v", c.AddrPort(), err)
	}
	return string(buf[:n]), src
}

// tryRecv reads with a deadline d from now and reports whether a datagram
// came.
func tryRecv(t testing.TB, c *Conn, d time.Duration) (string, netip.AddrPort, bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 70000)
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", netip.AddrPort{}, false
	}
	if err != nil {
		t.Fatalf("read on %v: %v", c.AddrPort(), err)
	}
	return string(buf[:n]), src, true
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
