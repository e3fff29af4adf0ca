package ipmulticast

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/netns"
)

// readBound bounds every blocking read in the tests so that a broken
// setup fails instead of hanging; it is not used for synchronisation.
const readBound = 10 * time.Second

// isolated fails the test unless it runs in the verified namespace (it
// always should: TestMain put it there).
func isolated(t testing.TB) {
	t.Helper()
	if err := netns.Verify(); err != nil {
		t.Fatalf("not isolated: %v", err)
	}
}

func newReceiver(t testing.TB, group string, opts ReceiverOptions) *Receiver {
	t.Helper()
	r, err := NewReceiver(netip.MustParseAddrPort(group), opts)
	if err != nil {
		t.Fatalf("NewReceiver(%s): %v", group, err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.SetReadDeadline(time.Now().Add(readBound)); err != nil {
		t.Fatal(err)
	}
	return r
}

func newSender(t testing.TB, group string, opts SenderOptions) *Sender {
	t.Helper()
	s, err := NewSender(netip.MustParseAddrPort(group), opts)
	if err != nil {
		t.Fatalf("NewSender(%s): %v", group, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addLoopback gives lo the extra IPv6 addresses the source tests send from.
func addLoopback(t testing.TB, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		if err := netns.AddLoopbackAddr(netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
}

// payload returns a datagram of size bytes numbered seq: the number in the
// first 4 bytes, then a pattern derived from it.
func payload(seq uint32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, seq)
	for i := 4; i < size; i++ {
		b[i] = byte(seq) ^ byte(i)
	}
	return b
}

// checkPayload returns the number of a datagram made by payload, or false.
func checkPayload(b []byte, size int) (uint32, bool) {
	if len(b) != size || size < 4 {
		return 0, false
	}
	seq := binary.BigEndian.Uint32(b)
	for i := 4; i < size; i++ {
		if b[i] != byte(seq)^byte(i) {
			return 0, false
		}
	}
	return seq, true
}

// mustRead reads one datagram.
func mustRead(t testing.TB, r *Receiver) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 65536)
	n, src, err := r.Read(buf)
	if err != nil {
		t.Fatalf("Read on %v: %v", r.Group(), err)
	}
	return buf[:n], src
}
