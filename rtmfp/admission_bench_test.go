package rtmfp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// discardConn is a PacketConn that never receives and drops what is sent.
type discardConn struct{ closed chan struct{} }

func (c discardConn) ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error) {
	<-c.closed
	return 0, netip.AddrPort{}, net.ErrClosed
}
func (discardConn) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }
func (discardConn) LocalAddr() net.Addr                                        { return &net.UDPAddr{} }
func (discardConn) SetReadDeadline(time.Time) error                            { return nil }
func (c discardConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

// BenchmarkStartupFlood is the receive goroutine's work for one spoofed
// IHello of a flood (socket I/O excluded): a minimal one, mostly refused by
// the amplification budget once it is under pressure, and a Flash client's,
// which pays for its RHello.
func BenchmarkStartupFlood(b *testing.B) {
	for _, c := range []struct {
		name string
		epd  []byte
		tag  []byte
	}{
		{"minimal", []byte{0x01, 0x0A}, nil},
		{"flash-url", append([]byte{0x1d, 0x0A}, "rtmfp://example.com:1935/app"...), make([]byte, 16)},
	} {
		b.Run(c.name, func(b *testing.B) {
			e, err := NewEndpoint(discardConn{make(chan struct{})}, Config{Profile: newFlash(b), Logger: testLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			pkts := startupPackets(1024, func(tag []byte) []byte {
				t := c.tag
				if t != nil {
					t = tag
				}
				return wire.IHello{EPD: c.epd, Tag: t}.Append(nil)
			})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := getPacket()
				pkt := pkts[i%len(pkts)]
				copy(p.buf[:], pkt)
				// A new source every time, as in a flood from many addresses.
				from := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1935)
				if !e.receive(p, len(pkt), from) {
					putPacket(p)
				}
				i++
			}
			st := e.Stats()
			b.ReportMetric(float64(st.RHellosSent)/float64(b.N), "answered/op")
		})
	}
}
