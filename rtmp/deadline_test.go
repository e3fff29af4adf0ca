package rtmp

import (
	"io"
	"net"
	"testing"
)

// A connection whose reader calls the read hook only when it finds nothing
// to read still calls it every hookAfter bytes when the peer never pauses.
func TestReadHookBound(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	calls := 0
	d := &deadlineConn{nc: a, src: a, hookOnEmpty: true, beforeRead: func() { calls++ }}
	const total = 3*hookAfter + 1000
	go func() {
		b.Write(make([]byte, total))
		b.Close()
	}()
	n, err := io.Copy(io.Discard, struct{ io.Reader }{d})
	if err != nil || n != total {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if calls != 3 {
		t.Fatalf("the hook ran %d times for %d bytes, want 3", calls, total)
	}
}
