package rtmp

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// The raw read path reads what the peer wrote, and fails as net.Conn.Read
// does: a "read" *net.OpError wrapping os.ErrDeadlineExceeded when the
// deadline passes, io.EOF when the peer closes.
func TestRawReader(t *testing.T) {
	server, client := tcpPair(t, nil)
	r, ok := server.dc.src.(*rawReader)
	if !ok {
		t.Fatalf("a TCP connection reads through %T, not the raw path", server.dc.src)
	}
	if n, err := r.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	want := []byte("0123456789")
	if _, err := client.nc.Write(want); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, len(want))
	buf := make([]byte, 4)
	for len(got) < len(want) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != string(want) {
		t.Fatalf("read %q, want %q", got, want)
	}

	server.nc.SetReadDeadline(time.Unix(1, 0))
	_, err := r.Read(buf)
	var op *net.OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &op) || op.Op != "read" {
		t.Fatalf("read past the deadline: %v", err)
	}
	server.nc.SetReadDeadline(time.Time{})

	client.nc.Close()
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v", n, err)
	}
	server.nc.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}
