package ipmulticast

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

const (
	benchSize  = 1200 // bytes per datagram, an RTMFP-sized packet
	benchBatch = 32   // datagrams per SendBatch in the batched mode
	benchRate  = 10e6 // bit/s of the paced mode
)

// BenchmarkSend sends 1200-byte datagrams through loopback multicast inside
// the test namespace (TestMain re-executes the binary there, so
// `go test -run=^$ -bench=. ./ipmulticast/` is isolated) to one Receiver
// draining in another goroutine. Modes: "flat" (Send as fast as possible),
// "flat-batch" (SendBatch of 32; one op = 32 datagrams) and "paced" (Send at
// a 10 Mbit/s rate, one datagram every 960 µs). Besides ns/op and allocs/op
// (process-wide, so including the receiving side) it reports dgrams/s and
// Mbit/s sent, recv% (the share the receiver delivered; the rest overflowed
// its socket buffer) and, for the paced mode, cpu-ns/dgram (process CPU
// time per datagram, both sides).
func BenchmarkSend(b *testing.B) {
	isolated(b)
	for i, fam := range families {
		for j, mode := range []string{"flat", "flat-batch", "paced"} {
			port := uint16(31100 + 10*i + j)
			b.Run(fam.name+"/"+mode, func(b *testing.B) {
				benchSend(b, onPort(fam.groupA, port), mode)
			})
		}
	}
}

func benchSend(b *testing.B, group, mode string) {
	r := newReceiver(b, group, ReceiverOptions{BatchSize: 64, ReadBuffer: 4 << 20})
	r.SetReadDeadline(time.Time{})
	s := newSender(b, group, SenderOptions{BatchSize: benchBatch})
	var delivered atomic.Uint64
	end := make(chan struct{})
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := r.Read(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					b.Error(err)
				}
				return
			}
			if n == 1 {
				close(end)
				return
			}
			delivered.Add(1)
		}
	}()

	dgram := payload(1, benchSize)
	batch := make([][]byte, benchBatch)
	for i := range batch {
		batch[i] = dgram
	}
	interval := time.Duration(float64(benchSize*8) / benchRate * float64(time.Second))
	perOp := 1
	if mode == "flat-batch" {
		perOp = benchBatch
	}
	b.SetBytes(int64(perOp * benchSize))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	ops := 0
	next := time.Now()
	for b.Loop() {
		var err error
		switch mode {
		case "flat", "paced":
			err = s.Send(dgram)
		case "flat-batch":
			_, err = s.SendBatch(batch)
		}
		if err != nil {
			b.Fatal(err)
		}
		ops++
		if mode == "paced" {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	elapsed := b.Elapsed()
	cpu := cpuTime(b) - cpu0
	if err := s.Send([]byte{0xFF}); err != nil {
		b.Fatal(err)
	}
	select {
	case <-end:
	case <-time.After(readBound):
		b.Fatal("the end marker did not arrive")
	}
	sent := float64(ops * perOp)
	b.ReportMetric(sent/elapsed.Seconds(), "dgrams/s")
	b.ReportMetric(sent*benchSize*8/elapsed.Seconds()/1e6, "Mbit/s")
	b.ReportMetric(100*float64(delivered.Load())/sent, "recv%")
	if mode == "paced" {
		b.ReportMetric(float64(cpu.Nanoseconds())/sent, "cpu-ns/dgram")
	}
}
