package bench

import (
	"encoding/binary"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The physical floor of the RTMFP data path on this machine: what the
// system calls alone cost, with no protocol work at all. A server that
// fans a stream out sends full-size datagrams to many addresses and
// receives small ones (acknowledgements) from them; on loopback the kernel
// delivers each datagram to its receiver in the sender's system call, so
// the sending thread's CPU time is the whole kernel path.

// threadCPU returns the calling thread's CPU time (user + system).
func threadCPU(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floorReceivers opens n loopback sockets that drain what they receive
// until the returned stop function is called.
func floorReceivers(b *testing.B, n int) ([]*net.UDPConn, func()) {
	var conns []*net.UDPConn
	var wg sync.WaitGroup
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadBuffer(4 << 20)
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := ipv4.NewPacketConn(c)
			ms := make([]ipv4.Message, 64)
			for i := range ms {
				ms[i].Buffers = [][]byte{make([]byte, 2048)}
			}
			for {
				if _, err := pc.ReadBatch(ms, 0); err != nil {
					return
				}
			}
		}()
	}
	return conns, func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}
}

// BenchmarkPacketFloor sends 1,204-byte datagrams (a full RTMFP packet) to
// 64 loopback receivers in turn, as a fan-out server does, from one locked
// thread whose CPU time is measured: one sendto per datagram, sendmmsg
// batches of 64 (one per receiver), and sendmmsg batches where each
// receiver gets 4 datagrams in one UDP GSO send (a video frame of about
// 4.8 KB). Reported: CPU per datagram and per Mbit of datagrams; the
// receive side (recvmmsg of 64-byte datagrams, an acknowledgement's size,
// batches of up to 64) is BenchmarkPacketFloorReceive.
func BenchmarkPacketFloor(b *testing.B) {
	const receivers, size = 64, 1204
	for _, mode := range []struct {
		name    string
		perDest int  // datagrams per receiver per round
		batch   bool // sendmmsg
		gso     bool
	}{{"sendto", 1, false, false}, {"sendmmsg", 1, true, false}, {"sendmmsg-gso4", 4, true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			conns, stop := floorReceivers(b, receivers)
			defer stop()
			sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer sc.Close()
			sc.SetWriteBuffer(4 << 20)
			pc := ipv4.NewPacketConn(sc)
			payload := make([]byte, size*mode.perDest)
			addrs := make([]*net.UDPAddr, receivers)
			msgs := make([]ipv4.Message, receivers)
			oob := gsoControl(size)
			for i, c := range conns {
				addrs[i] = c.LocalAddr().(*net.UDPAddr)
				msgs[i].Buffers = [][]byte{payload}
				msgs[i].Addr = addrs[i]
				if mode.gso {
					msgs[i].OOB = oob
				}
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			datagrams := 0
			c0 := threadCPU(b)
			for b.Loop() {
				switch {
				case !mode.batch:
					for _, a := range addrs {
						if _, err := sc.WriteToUDP(payload, a); err != nil {
							b.Fatal(err)
						}
					}
				default:
					for sent := 0; sent < len(msgs); {
						n, err := pc.WriteBatch(msgs[sent:], 0)
						if err != nil {
							b.Fatal(err)
						}
						sent += n
					}
				}
				datagrams += receivers * mode.perDest
			}
			cpu := threadCPU(b) - c0
			mbit := float64(datagrams) * size * 8 / 1e6
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(datagrams), "ns/datagram")
			b.ReportMetric(float64(cpu.Microseconds())/1000/mbit, "ms/Mbit")
		})
	}
}

// BenchmarkPacketFloorReceive: 64-byte datagrams (an acknowledgement's
// size) from 64 loopback senders, received with recvmmsg (batches of up
// to 64) on one locked thread whose CPU time is measured.
func BenchmarkPacketFloorReceive(b *testing.B) {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	rc.SetReadBuffer(4 << 20)
	to := rc.LocalAddr().(*net.UDPAddr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var senders []*ipv4.PacketConn
			for range 32 {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					return
				}
				defer c.Close()
				senders = append(senders, ipv4.NewPacketConn(c))
			}
			ms := make([]ipv4.Message, 16)
			for i := range ms {
				ms[i].Buffers = [][]byte{make([]byte, 64)}
				ms[i].Addr = to
			}
			for {
				for _, s := range senders {
					select {
					case <-stop:
						return
					default:
					}
					s.WriteBatch(ms, 0)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	pc := ipv4.NewPacketConn(rc)
	ms := make([]ipv4.Message, 64)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	got, calls := 0, 0
	c0 := threadCPU(b)
	for b.Loop() {
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			b.Fatal(err)
		}
		got += n
		calls++
	}
	cpu := threadCPU(b) - c0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(got), "ns/datagram")
	b.ReportMetric(float64(got)/float64(calls), "datagrams/call")
}

// gsoControl is the control message of a UDP GSO send cut into datagrams
// of size bytes.
func gsoControl(size int) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}
