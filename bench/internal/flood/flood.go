// Package flood sends spoofed RTMFP startup packets at a server on
// loopback, from thousands of source addresses, and counts what comes back
// to each source, as a victim of reflection would: every 127.0.0.0/8 address
// is local on Linux, so each source is a UDP socket bound to its own
// address 127.10.x.y. Shared by the admission benchmarks and the soak.
package flood

import (
	"crypto/rand"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Source is the i-th spoofed source address, 127.10.x.y.
func Source(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 10, byte(i / 250), byte(i%250 + 1)})
}

// Tally counts datagrams and bytes (UDP payload).
type Tally struct{ Pkts, Bytes atomic.Int64 }

func (t *Tally) add(n int) { t.Pkts.Add(1); t.Bytes.Add(int64(n)) }

// Flood is a set of spoofed sources: one UDP socket bound to each address,
// sending startup packets to the server and counting what comes back, from
// the server and from anyone else (a client the server made answer them).
type Flood struct {
	server netip.AddrPort
	socks  []*net.UDPConn
	// Sent counts what the sources sent.
	Sent Tally
	// FromServer and FromOthers count what the sources received.
	FromServer, FromOthers Tally
	perSource              []atomic.Int64 // datagrams from the server to each source
	stopCollect            func()
}

// New binds n spoofed sources on loopback, aimed at server. One
// goroutine collects what comes back to all of them every 200 ms with
// non-blocking reads, so that the load generator does not spend its CPU
// waking thousands of readers.
func New(tb testing.TB, n int, server netip.AddrPort) *Flood {
	RaiseFileLimit(tb)
	f := &Flood{server: server, socks: make([]*net.UDPConn, n), perSource: make([]atomic.Int64, n)}
	raw := make([]syscall.RawConn, n)
	for i := range n {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(Source(i), 0)))
		if err != nil {
			tb.Fatalf("binding spoofed source %v: %v", Source(i), err)
		}
		f.socks[i] = c
		if raw[i], err = c.SyscallConn(); err != nil {
			tb.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			for i, rc := range raw {
				f.collect(i, rc, buf)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	f.stopCollect = func() {
		close(stop)
		<-done
	}
	tb.Cleanup(func() {
		f.stopCollect()
		for _, c := range f.socks {
			c.Close()
		}
	})
	return f
}

// collect reads what is queued at source i without waiting.
func (f *Flood) collect(i int, rc syscall.RawConn, buf []byte) {
	rc.Read(func(fd uintptr) bool {
		for {
			n, from, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			if err != nil {
				return true // EAGAIN: nothing more queued
			}
			sa, ok := from.(*syscall.SockaddrInet4)
			if ok && netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)) == f.server {
				f.FromServer.add(n)
				f.perSource[i].Add(1)
			} else {
				f.FromOthers.add(n)
			}
		}
	})
}

// Answered is how many sources received at least one datagram from the
// server.
func (f *Flood) Answered() int {
	n := 0
	for i := range f.perSource {
		if f.perSource[i].Load() > 0 {
			n++
		}
	}
	return n
}

// Run sends packets (cycled; each from the next source in turn) at pps for
// d, then waits for the last answers. It returns the packets per second
// achieved.
func (f *Flood) Run(pps int, d time.Duration, packets [][]byte) float64 {
	return f.RunUntil(nil, pps, d, packets)
}

// RunUntil is Run that also stops when stop is closed. Two senders share
// the sources; each sends what is due every few milliseconds, in batches of
// up to 32 datagrams from one source (sendmmsg), then moves to its next
// source, so that the load generator spends its CPU on few system calls.
func (f *Flood) RunUntil(stop <-chan struct{}, pps int, d time.Duration, packets [][]byte) float64 {
	const senders, batch = 2, 32
	start := time.Now()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rate := float64(pps) / senders
			pcs := make([]*ipv4.PacketConn, 0, len(f.socks)/senders+1)
			for i := g; i < len(f.socks); i += senders {
				pcs = append(pcs, ipv4.NewPacketConn(f.socks[i]))
			}
			dst := net.UDPAddrFromAddrPort(f.server)
			msgs := make([]ipv4.Message, batch)
			var n, src int
			for {
				el := time.Since(start)
				if el >= d {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				for due := int(el.Seconds() * rate); n < due; {
					k := min(batch, due-n)
					for j := range k {
						p := packets[(n+j)%len(packets)]
						msgs[j] = ipv4.Message{Buffers: [][]byte{p}, Addr: dst}
					}
					sent, err := pcs[src].WriteBatch(msgs[:k], 0)
					if err == nil {
						for j := range sent {
							f.Sent.add(len(packets[(n+j)%len(packets)]))
						}
					}
					n += k
					src = (src + 1) % len(pcs)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	time.Sleep(500 * time.Millisecond) // the last answers, collected
	return float64(f.Sent.Pkts.Load()) / el.Seconds()
}

// Ratio is the bytes the sources received (from anyone) per byte they sent.
func (f *Flood) Ratio() float64 {
	return float64(f.FromServer.Bytes.Load()+f.FromOthers.Bytes.Load()) / float64(max(f.Sent.Bytes.Load(), 1))
}

// Shape is one kind of unauthenticated startup packet.
type Shape struct {
	Name string
	// Chunks builds the chunks of one packet with a fresh tag.
	Chunks func(tag []byte) []byte
}

// Packets seals count startup packets of a shape, each with its own random
// 16-byte tag (shapes that use no tag ignore it).
func Packets(s Shape, count int) [][]byte {
	out := make([][]byte, count)
	for i := range out {
		tag := make([]byte, 16)
		rand.Read(tag)
		out[i] = rtmfptest.StartupPacket(s.Chunks(tag))
	}
	return out
}

// IHelloShapes are the IHellos a flood may use: the smallest the server
// answers, a Flash client's, one naming the server's own peer ID (answered
// with the larger peer certificate), one naming a connected client (an
// introduction), one naming nobody, and a datagram packed with minimal
// IHellos.
func IHelloShapes(url string, server, client profile.PeerID) []Shape {
	minimal := func([]byte) []byte { return wire.IHello{EPD: []byte{0x01, 0x0A}}.Append(nil) }
	peer := func(id profile.PeerID) func([]byte) []byte {
		return func(tag []byte) []byte { return wire.IHello{EPD: flash.PeerEPD(id), Tag: tag}.Append(nil) }
	}
	var nobody profile.PeerID
	rand.Read(nobody[:])
	return []Shape{
		{"minimal", minimal},
		{"flash-url", func(tag []byte) []byte { return wire.IHello{EPD: flash.URLEPD(url), Tag: tag}.Append(nil) }},
		{"server-peer-id", peer(server)},
		{"client-peer-id", peer(client)},
		{"unknown-peer-id", peer(nobody)},
		{"packed-minimal", func([]byte) []byte {
			var b []byte
			for len(b)+6 < 1100 {
				b = append(b, minimal(nil)...)
			}
			return b
		}},
	}
}

// RaiseFileLimit lifts the soft open-file limit to the hard one: a flood
// opens one socket per source.
func RaiseFileLimit(tb testing.TB) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}
