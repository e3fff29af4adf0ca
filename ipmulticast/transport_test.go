package ipmulticast

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// family holds the addresses one IP family's tests use. All traffic stays
// on lo inside the test namespace.
type family struct {
	name           string
	groupA, groupB string // same port
	ssm            string // a group in the SSM range
	src1, src2     string // two local source addresses
	extra          []string
}

var families = []family{
	{"IPv4", "239.1.2.3:30000", "239.1.2.4:30000", "232.1.2.3:30000", "127.0.0.2", "127.0.0.3", nil},
	{"IPv6", "[ff03::ffff]:30000", "[ff03::fffe]:30000", "[ff35::8000:1]:30000", "fd00:6e73::2", "fd00:6e73::3",
		[]string{"fd00:6e73::2", "fd00:6e73::3"}},
}

// onPort returns the group of a with the port replaced, so that each test
// uses its own port.
func onPort(a string, port uint16) string {
	return netip.AddrPortFrom(netip.MustParseAddrPort(a).Addr(), port).String()
}

func TestOneSenderThreeReceivers(t *testing.T) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			isolated(t)
			const total, window, size = 300, 30, 1200
			group := onPort(fam.groupA, 31001)
			type got struct {
				seq uint32
				src netip.AddrPort
				err error
			}
			var rs [3]*Receiver
			var chs [3]chan got
			for i := range rs {
				r := newReceiver(t, group, ReceiverOptions{BatchSize: 8})
				if ifs := r.Interfaces(); !slices.Equal(ifs, []string{"lo"}) {
					t.Fatalf("joined on %v, want [lo]", ifs)
				}
				ch := make(chan got, total)
				rs[i], chs[i] = r, ch
				go func() {
					buf := make([]byte, 2048)
					for range total {
						n, src, err := r.Read(buf)
						if err != nil {
							ch <- got{err: err}
							return
						}
						seq, ok := checkPayload(buf[:n], size)
						if !ok {
							ch <- got{err: fmt.Errorf("corrupt datagram of %d bytes", n)}
							return
						}
						ch <- got{seq: seq, src: src}
					}
				}()
			}
			s := newSender(t, group, SenderOptions{Interface: "lo", BatchSize: 16})
			seen := [3]map[uint32]bool{{}, {}, {}}
			for w := 0; w < total; w += window {
				batch := make([][]byte, window)
				for k := range batch {
					batch[k] = payload(uint32(w+k), size)
				}
				// Alternate between batched and single sends.
				if (w/window)%2 == 0 {
					if n, err := s.SendBatch(batch); n != window || err != nil {
						t.Fatalf("SendBatch = %d, %v", n, err)
					}
				} else {
					for _, b := range batch {
						if err := s.Send(b); err != nil {
							t.Fatal(err)
						}
					}
				}
				// Wait for the window at every receiver before the next one,
				// so that no socket buffer can overflow.
				for i := range rs {
					for range window {
						g := <-chs[i]
						if g.err != nil {
							t.Fatalf("receiver %d: %v", i, g.err)
						}
						if seen[i][g.seq] {
							t.Fatalf("receiver %d: datagram %d twice", i, g.seq)
						}
						seen[i][g.seq] = true
						if g.src.Port() != s.LocalAddr().Port() {
							t.Fatalf("receiver %d: datagram from %v, sender is %v", i, g.src, s.LocalAddr())
						}
					}
				}
			}
			for i, r := range rs {
				if len(seen[i]) != total {
					t.Errorf("receiver %d got %d distinct datagrams, want %d", i, len(seen[i]), total)
				}
				want := ReceiverStats{Datagrams: total, Bytes: total * size}
				if st := r.Stats(); st != want {
					t.Errorf("receiver %d stats %+v, want %+v", i, st, want)
				}
			}
			if st := s.Stats(); st != (SenderStats{Datagrams: total, Bytes: total * size}) {
				t.Errorf("sender stats %+v", st)
			}
		})
	}
}

func TestOtherGroupOnSamePortIsDropped(t *testing.T) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			isolated(t)
			groupA, groupB := onPort(fam.groupA, 31002), onPort(fam.groupB, 31002)
			rA := newReceiver(t, groupA, ReceiverOptions{})
			rB := newReceiver(t, groupB, ReceiverOptions{})
			sA := newSender(t, groupA, SenderOptions{})
			sB := newSender(t, groupB, SenderOptions{})
			const k = 20
			for i := range k {
				if err := sB.Send(payload(uint32(i), 100)); err != nil {
					t.Fatal(err)
				}
			}
			got := map[uint32]bool{}
			for range k {
				b, _ := mustRead(t, rB)
				seq, ok := checkPayload(b, 100)
				if !ok || got[seq] {
					t.Fatalf("group B receiver: unexpected datagram % x", b)
				}
				got[seq] = true
			}
			// All of B's datagrams have reached every socket on the port;
			// A's receiver must have dropped them all before A's marker.
			if err := sA.Send([]byte("A-marker")); err != nil {
				t.Fatal(err)
			}
			if b, _ := mustRead(t, rA); string(b) != "A-marker" {
				t.Fatalf("group A receiver read %q", b)
			}
			if st := rA.Stats(); st != (ReceiverStats{Datagrams: 1, Bytes: 8, OtherDestination: k}) {
				t.Errorf("group A receiver stats %+v, want %d dropped for the other group", st, k)
			}
			if err := sB.Send([]byte("B-final")); err != nil {
				t.Fatal(err)
			}
			if b, _ := mustRead(t, rB); string(b) != "B-final" {
				t.Fatalf("group B receiver read %q", b)
			}
			if st := rB.Stats(); st.OtherDestination != 1 || st.Datagrams != k+1 {
				t.Errorf("group B receiver stats %+v, want A's marker dropped", st)
			}
		})
	}
}

func TestPublisherFilter(t *testing.T) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			isolated(t)
			addLoopback(t, fam.extra...)
			group := onPort(fam.groupA, 31003)
			src1, src2 := netip.MustParseAddr(fam.src1), netip.MustParseAddr(fam.src2)
			s1 := newSender(t, group, SenderOptions{Source: src1})
			s2 := newSender(t, group, SenderOptions{Source: src2}) // another host
			s3 := newSender(t, group, SenderOptions{Source: src1}) // same host, other port
			byAddr := newReceiver(t, group, ReceiverOptions{Publisher: netip.AddrPortFrom(src1, 0)})
			byAddrPort := newReceiver(t, group, ReceiverOptions{Publisher: s1.LocalAddr()})
			control := newReceiver(t, group, ReceiverOptions{})
			const k = 10
			for i := range k {
				for j, s := range []*Sender{s1, s2, s3} {
					if err := s.Send(payload(uint32(100*j+i), 64)); err != nil {
						t.Fatal(err)
					}
				}
			}
			from := map[netip.AddrPort]int{}
			for range 3 * k {
				_, src := mustRead(t, control)
				from[src]++
			}
			want := map[netip.AddrPort]int{s1.LocalAddr(): k, s2.LocalAddr(): k, s3.LocalAddr(): k}
			if !mapsEqual(from, want) {
				t.Fatalf("control receiver got %v, want %v", from, want)
			}
			if err := s1.Send([]byte("final")); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				r       *Receiver
				name    string
				senders []*Sender
			}{{byAddr, "by address", []*Sender{s1, s3}}, {byAddrPort, "by address and port", []*Sender{s1}}} {
				n := 0
				for {
					b, src := mustRead(t, c.r)
					if string(b) == "final" {
						break
					}
					if !slices.ContainsFunc(c.senders, func(s *Sender) bool { return s.LocalAddr() == src }) {
						t.Fatalf("filter %s delivered a datagram from %v", c.name, src)
					}
					n++
				}
				if n != len(c.senders)*k {
					t.Errorf("filter %s delivered %d datagrams, want %d", c.name, n, len(c.senders)*k)
				}
				if st := c.r.Stats(); st.OtherSource != uint64((3-len(c.senders))*k) || st.OtherDestination != 0 {
					t.Errorf("filter %s stats %+v", c.name, st)
				}
			}
		})
	}
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSourceSpecificMulticast(t *testing.T) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			isolated(t)
			addLoopback(t, fam.extra...)
			group := onPort(fam.ssm, 31004)
			src1, src2 := netip.MustParseAddr(fam.src1), netip.MustParseAddr(fam.src2)
			ssm := newReceiver(t, group, ReceiverOptions{Source: src1})
			control := newReceiver(t, group, ReceiverOptions{})
			s1 := newSender(t, group, SenderOptions{Source: src1})
			s2 := newSender(t, group, SenderOptions{Source: src2})
			const k = 10
			for i := range k {
				if err := s1.Send(payload(uint32(i), 64)); err != nil {
					t.Fatal(err)
				}
				if err := s2.Send(payload(uint32(100+i), 64)); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 * k {
				mustRead(t, control)
			}
			if err := s1.Send([]byte("final")); err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				b, src := mustRead(t, ssm)
				if string(b) == "final" {
					break
				}
				if src.Addr() != src1 {
					t.Fatalf("SSM receiver delivered a datagram from %v", src)
				}
				n++
			}
			if n != k {
				t.Errorf("SSM receiver delivered %d datagrams, want %d", n, k)
			}
			// The kernel filters by source (the join is source-specific), so
			// the userspace source filter never sees the other sender.
			if st := ssm.Stats(); st != (ReceiverStats{Datagrams: k + 1, Bytes: 64*k + 5}) {
				t.Errorf("SSM receiver stats %+v", st)
			}
		})
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	for _, fam := range families {
		t.Run(fam.name, func(t *testing.T) {
			isolated(t)
			r := newReceiver(t, onPort(fam.groupA, 31005), ReceiverOptions{})
			started := make(chan struct{})
			done := make(chan error, 2)
			for range 2 { // one reader in the system call, one waiting for its turn
				go func() {
					started <- struct{}{}
					_, _, err := r.Read(make([]byte, 100))
					done <- err
				}()
			}
			<-started
			<-started
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				select {
				case err := <-done:
					if !errors.Is(err, net.ErrClosed) {
						t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
					}
				case <-time.After(readBound):
					t.Fatal("Close did not unblock Read")
				}
			}
			if _, _, err := r.Read(make([]byte, 100)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Read on a closed receiver: %v", err)
			}
			if st := r.Stats(); st.Errors != 0 {
				t.Fatalf("Close counted as an error: %+v", st)
			}
		})
	}
}

func TestTruncatedAndShortBuffer(t *testing.T) {
	isolated(t)
	group := "239.1.2.3:31006"
	r := newReceiver(t, group, ReceiverOptions{MaxDatagram: 100})
	s := newSender(t, group, SenderOptions{})
	for _, n := range []int{200, 50, 100} {
		if err := s.Send(payload(uint32(n), n)); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := mustRead(t, r); len(b) != 50 {
		t.Fatalf("read %d bytes, want the 50-byte datagram", len(b))
	}
	buf := make([]byte, 10)
	n, _, err := r.Read(buf)
	if n != 10 || !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("short read = %d, %v", n, err)
	}
	if !bytes.Equal(buf, payload(100, 100)[:10]) {
		t.Fatalf("short read returned % x", buf)
	}
	if st := r.Stats(); st.Truncated != 1 || st.Datagrams != 2 {
		t.Fatalf("stats %+v, want one truncated datagram", st)
	}
}

func TestSendBatchOneByOne(t *testing.T) {
	isolated(t)
	group := "[ff03::ffff]:31007"
	r := newReceiver(t, group, ReceiverOptions{})
	s := newSender(t, group, SenderOptions{BatchSize: 3})
	s.noBatch = true // as after the kernel refused sendmmsg
	bufs := [][]byte{payload(0, 40), payload(1, 40), payload(2, 40), payload(3, 40)}
	if n, err := s.SendBatch(bufs); n != 4 || err != nil {
		t.Fatalf("SendBatch = %d, %v", n, err)
	}
	seen := map[uint32]bool{}
	for range 4 {
		b, _ := mustRead(t, r)
		seq, ok := checkPayload(b, 40)
		if !ok {
			t.Fatalf("corrupt % x", b)
		}
		seen[seq] = true
	}
	if len(seen) != 4 {
		t.Fatalf("got %v", seen)
	}
	s.Close()
	if err := s.Send([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if n, err := s.SendBatch(bufs); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SendBatch after Close: %d, %v", n, err)
	}
	if st := s.Stats(); st.Datagrams != 4 || st.Bytes != 160 || st.Errors != 2 || !strings.Contains(st.LastError, "closed") {
		t.Fatalf("sender stats %+v", st)
	}
}
