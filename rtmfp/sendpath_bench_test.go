package rtmfp

import (
	"net"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// sendPathRig is one open session of a loopback endpoint whose far end is
// a socket that drains what it receives; the benchmark plays the far end's
// acknowledgements, sealed with its key, through the session's receive
// path.
type sendPathRig struct {
	e    *Endpoint
	s    *Session
	w    *worker
	f    *SendFlow
	far  *flash.Codec // seals what the far end sends
	sink *net.UDPConn
}

func newSendPathRig(b *testing.B) *sendPathRig {
	p, err := flash.New(flash.Config{})
	if err != nil {
		b.Fatal(err)
	}
	e, err := Listen("udp4", "127.0.0.1:0", Config{Profile: p, Logger: testLogger(), SendBuffer: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	sink.SetReadBuffer(4 << 20)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { sink.Close(); e.Close() })
	keyA, keyB := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	send, _ := flash.NewCodec(keyA, flash.Integrity{})
	recv, _ := flash.NewCodec(keyB, flash.Integrity{})
	far, _ := flash.NewCodec(keyB, flash.Integrity{})
	r := &sendPathRig{e: e, far: far, sink: sink, w: &worker{e: e}}
	r.w.out.init(e)
	// A session the benchmark runs itself (never started: no other
	// worker touches it).
	r.s = e.newSession(0x1234, false, sink.LocalAddr().(*net.UDPAddr).AddrPort())
	r.s.setOpen(0x99, &profile.SessionCrypto{Send: send, Recv: recv}, time.Now())
	r.f, err = r.s.OpenFlow([]byte("media"), FlowOptions{TimeCritical: true, Lifetime: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// run runs the session at now as its worker does and sends what it
// built.
func (r *sendPathRig) run(now time.Time) {
	r.w.out.flush()
	r.s.w = r.w
	r.s.step(now)
	r.e.timers.set(r.s, r.s.nextDeadline(now), now)
	r.s.w = nil
	r.w.out.flush()
}

// ack delivers the far end's acknowledgement of everything the flow sent,
// as a sealed datagram through the session's receive path; its timestamp
// echo makes a 4 ms round trip of it.
func (r *sendPathRig) ack(buf []byte, p *packet, now time.Time) {
	a := wire.Ack{FlowID: r.f.id, CumulativeAck: r.s.stats.fragmentsOut.Load(), BufferBlocksAvailable: 1 << 12}
	h := wire.Header{Flags: wire.ModeInitiator | wire.HeaderTimestamp | wire.HeaderTimestampEcho,
		Timestamp: 1, Echo: timestamp16(r.e.epoch, now) - 1}
	body := a.AppendRanges(h.Append(buf[:0]))
	pkt := r.far.Seal(p.buf[:4], body)
	scramble(pkt, r.s.nearID)
	p.n, p.from, p.body = len(pkt), r.s.RemoteAddr(), nil
	r.s.mu.Lock()
	r.s.inbox = append(r.s.inbox, p)
	r.s.mu.Unlock()
}

// BenchmarkSendPath measures what one media message of 4,500 bytes (four
// datagrams: a video frame of a 1 Mbit/s stream) costs from
// SendFlow.WriteShared to the socket — queueing, packet building,
// sealing in place, the batch and its sendmmsg — together with the
// acknowledgement that comes back, received, opened and applied. The
// session's clock advances 40 ms per message (25 frames a second), so
// the pacer never holds data back. In steady state nothing is allocated.
func BenchmarkSendPath(b *testing.B) {
	r := newSendPathRig(b)
	msg := make([]byte, 4500)
	buf := make([]byte, 256)
	now := time.Now()
	op := func() {
		if err := r.f.WriteShared(msg, 0); err != nil {
			b.Fatal(err)
		}
		now = now.Add(40 * time.Millisecond)
		r.run(now)
		p := getPacket()
		r.ack(buf, p, now)
		r.run(now)
	}
	for range 64 { // warm up: slices and maps at their working size
		op()
	}
	out0 := r.s.stats.packetsOut.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		op()
	}
	b.StopTimer()
	pkts := float64(r.s.stats.packetsOut.Load() - out0)
	b.ReportMetric(pkts/float64(b.N), "datagrams/op")
	if r.s.state != stateOpen {
		b.Fatalf("session %v", r.s.state)
	}
	if n := r.f.q.Buffered(); n > len(msg) {
		b.Fatalf("%d bytes wait to be sent: the session does not keep up", n)
	}
}
