package simnet

import (
	"testing"
	"time"
)

// BenchmarkPlainLink measures one datagram written and read through a
// perfect link (the inline path, no timer).
func BenchmarkPlainLink(b *testing.B) {
	n, a, c := Pair(b, Config{})
	_ = n
	payload := make([]byte, 1200)
	buf := make([]byte, 1500)
	dst := c.AddrPort()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := a.WriteToUDPAddrPort(payload, dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNATPath is BenchmarkPlainLink from behind a port-restricted NAT
// (mapping lookup and translation on every datagram).
func BenchmarkNATPath(b *testing.B) {
	s := BehindNATs(b, Config{}, PortRestricted)
	srv := MustListen(b, s.Server, 1)
	cl := MustListen(b, s.Clients[0], 1)
	payload := make([]byte, 1200)
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := cl.WriteToUDPAddrPort(payload, srv.AddrPort()); err != nil {
			b.Fatal(err)
		}
		if _, _, err := srv.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLossyDelayedLink measures datagrams through a link with delay,
// jitter and loss (the timer-scheduled path), in real time: bursts of 256
// are written, then read back. ns/op is per datagram written.
func BenchmarkLossyDelayedLink(b *testing.B) {
	const burst = 256
	n, a, c := Pair(b, Config{Seed: 1, RecvQueue: burst, Link: LinkConfig{Delay: 20 * time.Microsecond, Jitter: 10 * time.Microsecond, Loss: 0.01}})
	payload := make([]byte, 1200)
	buf := make([]byte, 1500)
	dst := c.AddrPort()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	var read uint64
	flush := func() {
		// Loss is decided when a datagram is written, so every datagram
		// not yet dropped will arrive.
		st := n.Stats()
		for ; read < st.Sent-st.TotalDropped(); read++ {
			if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	i := 0
	for b.Loop() {
		if _, err := a.WriteToUDPAddrPort(payload, dst); err != nil {
			b.Fatal(err)
		}
		if i++; i%burst == 0 {
			flush()
		}
	}
	flush()
}
