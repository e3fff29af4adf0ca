package rtmfp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// TestBatchDatagrams sends one batch of datagrams of several sizes to two
// receivers, as a worker does: runs to one address of equal sizes (UDP GSO
// where the kernel has it) and single ones, with and without GSO. Every
// datagram arrives whole and in order.
func TestBatchDatagrams(t *testing.T) {
	for _, noGSO := range []bool{false, true} {
		p, _ := flash.New(flash.Config{})
		e, err := Listen("udp4", "127.0.0.1:0", Config{Profile: p, Logger: testLogger(), NoGSO: noGSO})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if !noGSO {
			t.Logf("UDP GSO: %v", e.gso.Load())
		}
		var rcv [2]*net.UDPConn
		var to [2]netip.AddrPort
		for i := range rcv {
			rcv[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer rcv[i].Close()
			to[i] = rcv[i].LocalAddr().(*net.UDPAddr).AddrPort()
		}
		// Sizes per receiver, in the order sent: runs of equal sizes
		// ending with a shorter one, and a longer one that starts a run.
		sent := [2][][]byte{}
		var b outBatch
		b.init(e)
		plan := []struct {
			to   int
			size int
		}{{0, 1204}, {0, 1204}, {0, 1204}, {0, 300}, {0, 1204}, {1, 100}, {1, 100}, {0, 64}, {0, 1204}, {0, 1204}}
		for k, x := range plan {
			pkt := b.slot()[:x.size]
			for i := range pkt {
				pkt[i] = byte(k + i)
			}
			sent[x.to] = append(sent[x.to], bytes.Clone(pkt))
			b.add(pkt, to[x.to])
		}
		b.flush()
		for i := range rcv {
			buf := make([]byte, 4096)
			for k, want := range sent[i] {
				rcv[i].SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := rcv[i].Read(buf)
				if err != nil {
					t.Fatalf("gso=%v receiver %d datagram %d: %v", !noGSO, i, k, err)
				}
				if !bytes.Equal(buf[:n], want) {
					t.Fatalf("gso=%v receiver %d datagram %d: got %d bytes, want %d", !noGSO, i, k, n, len(want))
				}
			}
		}
		st := e.Stats()
		if st.PacketsOut != uint64(len(plan)) {
			t.Errorf("gso=%v: %d datagrams counted, want %d", !noGSO, st.PacketsOut, len(plan))
		}
	}
}
