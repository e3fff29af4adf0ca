package rtmfp

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// acceptAndDrop accepts the sessions opened to e and aborts them.
func acceptAndDrop(t *testing.T, e *Endpoint) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			s, err := e.Accept(ctx)
			if err != nil {
				return
			}
			s.Abort()
		}
	}()
}

// handshakeWave has each client endpoint open rounds sessions to srv one
// after the other (all clients at once) and returns how many needed more
// than one IHello, that is took the first retransmission timeout or more.
func handshakeWave(t *testing.T, clients []*Endpoint, srv netip.AddrPort, url string, rounds int) int {
	var slow atomic.Int64
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				start := time.Now()
				s, err := c.Connect(context.Background(), flash.URLEPD(url), srv)
				if err != nil {
					t.Error(err)
					return
				}
				if time.Since(start) >= handshakeInitialRTX {
					slow.Add(1)
				}
				s.Abort()
			}
		}()
	}
	wg.Wait()
	return int(slow.Load())
}

// crowd runs, on a quiet server with the default configuration, clients
// endpoints on one host (one address) opening rounds sessions each at
// once, with url as endpoint discriminator. It returns how many handshakes
// needed a retransmission, and the server's counters.
func crowd(t *testing.T, clients int, url string, rounds int) (int, Stats) {
	n := simnet.New(simnet.Config{Seed: 1, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
	defer n.Close()
	sh, _ := n.NewHost()
	ch, _ := n.NewHost()
	srv := endpointOn(t, sh, Config{})
	acceptAndDrop(t, srv)
	eps := make([]*Endpoint, clients)
	for i := range eps {
		eps[i] = endpointOn(t, ch, Config{})
	}
	addr := netip.MustParseAddrPort(srv.LocalAddr().String())
	if url == "" {
		url = "rtmfp://" + addr.String() + "/app"
	}
	slow := handshakeWave(t, eps, addr, url, rounds)
	return slow, srv.Stats()
}

// TestAdmissionCrowdBehindOneAddress: 64 clients behind one address (a
// carrier NAT, an office) open 256 sessions to a server with the default
// configuration, 64 at a time. Every handshake completes on its first
// IHello: the per-address startup limit counts only answers whose address
// is not proven, and an IIKeying that echoes its cookie from the address it
// was minted for proves it.
func TestAdmissionCrowdBehindOneAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow, st := crowd(t, 64, "", 4)
		if slow > 0 {
			t.Errorf("%d of 256 handshakes needed a retransmission", slow)
		}
		if st.DropRateLimited > 0 || st.HandshakesResponder != 256 {
			t.Errorf("server: %d answers refused by the rate limit, %d handshakes", st.DropRateLimited, st.HandshakesResponder)
		}
	})
}

// TestAdmissionSmallIHellos: librtmfp's IHello names only the application
// path (36 bytes on the wire for a 180-byte RHello, five times more). A
// quiet server answers 512 of them at once all the same: each handshake
// that completes gives its RHello's cost back to the amplification budget.
func TestAdmissionSmallIHellos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow, st := crowd(t, 16, "live", 32)
		if slow > 0 {
			t.Errorf("%d of 512 handshakes needed a retransmission", slow)
		}
		if st.DropAmplification > 0 {
			t.Errorf("%d answers refused by the amplification budget on a quiet server", st.DropAmplification)
		}
	})
}

// startupPackets seals count startup packets, each holding the chunks
// chunks builds from a fresh tag.
func startupPackets(count int, chunks func(tag []byte) []byte) [][]byte {
	codec, _ := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})
	out := make([][]byte, count)
	for i := range out {
		tag := []byte{byte(i), byte(i >> 8), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp}
		pkt := codec.Seal(make([]byte, 4), append(h.Append(nil), chunks(tag)...))
		scramble(pkt, 0)
		out[i] = pkt
	}
	return out
}

// ihelloShapes are unauthenticated startup datagrams a flood may use: the
// smallest IHello the server answers (20 bytes on the wire), a Flash
// client's with a short URL, one naming the server's own peer ID (answered
// with the larger static certificate), and a datagram packed with minimal
// IHellos.
func ihelloShapes(self profile.PeerID) map[string]func([]byte) []byte {
	minimal := func([]byte) []byte { return wire.IHello{EPD: []byte{0x01, 0x0A}}.Append(nil) }
	return map[string]func([]byte) []byte{
		"minimal":   minimal,
		"short-url": func(tag []byte) []byte { return wire.IHello{EPD: flash.URLEPD("rtmfp://h/a"), Tag: tag}.Append(nil) },
		"own-peer-id": func(tag []byte) []byte {
			return wire.IHello{EPD: flash.PeerEPD(self), Tag: tag}.Append(nil)
		},
		"packed": func([]byte) []byte {
			var b []byte
			for len(b) < 1100 {
				b = append(b, minimal(nil)...)
			}
			return b
		},
	}
}

// TestAdmissionAmplification: floods of unauthenticated startup datagrams
// of every shape, from 300 spoofed addresses, get back at most 3 times
// their bytes (plus the budget's fixed credit): a spoofed flood gains
// little by reflecting off the server. Packed datagrams come slowly (two
// per address), to catch answers to every IHello of a datagram.
func TestAdmissionAmplification(t *testing.T) {
	for name, chunks := range ihelloShapes(profile.PeerID{}) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := simnet.New(simnet.Config{Seed: 2, RecvQueue: 1 << 16, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
				defer n.Close()
				sh, _ := n.NewHost()
				srv := endpointOn(t, sh, Config{})
				if name == "own-peer-id" {
					chunks = ihelloShapes(srv.PeerID())[name]
				}
				sp := simnet.NewSources(t, n, 300)
				pps := 10000
				if name == "packed" {
					pps = 300
				}
				sp.Flood(netip.MustParseAddrPort(srv.LocalAddr().String()), startupPackets(4096, chunks), pps, 2*time.Second)
				in, back := sp.Sent(), sp.Back()
				t.Logf("%s: %d bytes in, %d back (%.2f×)", name, in, back, float64(back)/float64(in))
				if back > 3*in+amplificationCredit {
					t.Errorf("%s: %d bytes sent back for %d received (%.2f×)", name, back, in, float64(back)/float64(in))
				}
			})
		})
	}
}

// TestAdmissionUnderFlood: while 2,000 spoofed addresses flood the server
// with minimal IHellos (50,000 per second), clients on other addresses
// still connect on their first IHello, with a long URL (an IHello that
// pays for its answer), a short one or only the application path as
// librtmfp sends (the budget keeps a reserve for answers that amplify less
// than the flood's).
func TestAdmissionUnderFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 3, RecvQueue: 1 << 16, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		srv := endpointOn(t, sh, Config{})
		acceptAndDrop(t, srv)
		addr := netip.MustParseAddrPort(srv.LocalAddr().String())
		sp := simnet.NewSources(t, n, 2000)
		var clients []*Endpoint
		for range 24 {
			h, _ := n.NewHost()
			clients = append(clients, endpointOn(t, h, Config{}))
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			sp.Flood(addr, startupPackets(4096, ihelloShapes(profile.PeerID{})["minimal"]), 50000, 1600*time.Millisecond)
		}()
		time.Sleep(800 * time.Millisecond) // the budget is under pressure
		long := handshakeWave(t, clients[:8], addr, "rtmfp://"+addr.String()+"/application/instance", 4)
		short := handshakeWave(t, clients[8:16], addr, "rtmfp://h/a", 4)
		path := handshakeWave(t, clients[16:], addr, "live", 4)
		<-done
		if long > 0 || short > 0 || path > 0 {
			t.Errorf("during the flood, of 32 handshakes each, %d with a long URL, %d with a short one and %d with a path needed a retransmission", long, short, path)
		}
		t.Logf("flood: %d bytes in, %d back (%.2f×)", sp.Sent(), sp.Back(), float64(sp.Back())/float64(sp.Sent()))
	})
}
