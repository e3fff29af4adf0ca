package ipmc_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

const (
	groupAddr = "224.0.0.254:30000"
	rate      = 10_000_000 // bit/s of media
	fps       = 25
)

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func seconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("RTMFPD_IPMC_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 5 * time.Second
}

// frame returns video frame i of a rate bit/s stream at fps, a key frame
// each second.
func frame(i int) media.Message {
	p := make([]byte, rate/8/fps)
	p[0], p[1] = 0x27, 1
	if i%fps == 0 {
		p[0] = 0x17
	}
	return media.Message{Type: media.TypeVideo, Timestamp: uint32(i * 1000 / fps), Payload: p}
}

// counter drains a receiver on the group and counts datagrams.
func counter(b *testing.B) *atomic.Uint64 {
	r, err := ipmulticast.NewReceiver(netip.MustParseAddrPort(groupAddr), ipmulticast.ReceiverOptions{Interfaces: []string{"lo"}, ReadBuffer: 8 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	var n atomic.Uint64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := r.Read(buf); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					b.Error(err)
				}
				return
			}
			n.Add(1)
		}
	}()
	return &n
}

// BenchmarkPublishIPMulticast publishes a 10 Mbit/s stream (25 video
// frames a second) into a group with IP multicast on, over loopback in the
// namespace, with a receiver counting the datagrams.
//
//   - "paced": in real time for RTMFPD_IPMC_SECONDS; reports fragments/s
//     (datagrams), the process CPU as % of one core and per fragment, and
//     recv% (what the receiver got).
//   - "raw-paced": the baseline, the same number of datagrams of the same
//     size sent by ipmulticast.Sender in the same bursts (one per frame);
//     cpu-ratio is paced/raw-paced CPU: what fragmenting, the engine and
//     sealing each datagram add to the bare system calls.
//   - "flat": media as fast as the group takes it; the most fragments/s
//     one publication sends and the CPU per fragment.
func BenchmarkPublishIPMulticast(b *testing.B) {
	dur := seconds()
	var paced struct {
		frags, bytes uint64
		cpu          time.Duration
	}
	b.Run("paced", func(b *testing.B) {
		for b.Loop() {
			got := counter(b)
			pub := publication(b)
			frames := int(dur.Seconds() * fps)
			cpu0, start := cpuTime(b), time.Now()
			for i := range frames {
				if d := time.Duration(i)*time.Second/fps - time.Since(start); d > 0 {
					time.Sleep(d)
				}
				if err := pub.WriteMedia(context.Background(), frame(i)); err != nil {
					b.Fatal(err)
				}
			}
			el, cpu := time.Since(start), cpuTime(b)-cpu0
			st := pub.IPMulticastStats()
			paced.frags, paced.bytes, paced.cpu = st.Datagrams, st.Bytes, cpu
			report(b, st, el, cpu)
			b.ReportMetric(100*float64(got.Load())/float64(max(st.Datagrams, 1)), "recv%")
		}
	})
	b.Run("raw-paced", func(b *testing.B) {
		for b.Loop() {
			if paced.frags == 0 {
				b.Fatal("the paced run sent nothing")
			}
			counter(b)
			s, err := ipmulticast.NewSender(netip.MustParseAddrPort(groupAddr), ipmulticast.SenderOptions{Interface: "lo", Loopback: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			// The group sends each frame's fragments together: so does
			// the baseline, 25 bursts a second.
			dgram := make([]byte, paced.bytes/paced.frags)
			frames := int(dur.Seconds() * fps)
			perFrame := int(paced.frags) / frames
			cpu0, start := cpuTime(b), time.Now()
			for i := range frames {
				if d := time.Duration(i)*time.Second/fps - time.Since(start); d > 0 {
					time.Sleep(d)
				}
				for range perFrame {
					if err := s.Send(dgram); err != nil {
						b.Fatal(err)
					}
				}
			}
			el, cpu := time.Since(start), cpuTime(b)-cpu0
			report(b, s.Stats(), el, cpu)
			b.ReportMetric(float64(paced.cpu)/float64(cpu), "cpu-ratio")
		}
	})
	b.Run("flat", func(b *testing.B) {
		for b.Loop() {
			counter(b)
			pub := publication(b)
			frames := int(dur.Seconds() * fps)
			cpu0, start := cpuTime(b), time.Now()
			for i := range frames {
				if err := pub.WriteMedia(context.Background(), frame(i)); err != nil {
					b.Fatal(err)
				}
			}
			// The group's goroutine publishes the frames and sends their
			// datagrams as it does: wait until it has published them all
			// (bounded).
			deadline := time.Now().Add(30 * time.Second)
			for pub.Stats().MessagesPublished < uint64(frames) {
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d frames published", pub.Stats().MessagesPublished, frames)
				}
				time.Sleep(time.Millisecond)
			}
			report(b, pub.IPMulticastStats(), time.Since(start), cpuTime(b)-cpu0)
		}
	})
}

func publication(b *testing.B) *groupstream.Publication {
	g := groupstream.New(slog.New(slog.DiscardHandler))
	b.Cleanup(g.Close)
	pub, err := g.Publish("cam", multicast.Config{}, groupstream.IPMulticastPublishAddress(groupAddr, "", groupstream.IPMulticastOptions{Interface: "lo", Loopback: true}))
	if err != nil {
		b.Fatal(err)
	}
	return pub
}

func report(b *testing.B, st ipmulticast.SenderStats, el, cpu time.Duration) {
	b.ReportMetric(float64(st.Datagrams)/el.Seconds(), "fragments/s")
	b.ReportMetric(float64(st.Bytes)*8/el.Seconds()/1e6, "Mbit/s")
	b.ReportMetric(100*float64(cpu)/float64(el), "%cpu")
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(st.Datagrams, 1)), "cpu-µs/fragment")
}
