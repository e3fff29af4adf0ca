package rtmfp

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// PacketConn is the datagram socket an Endpoint runs on. *net.UDPConn
// satisfies it, and so does the in-memory network the tests use.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	SetReadDeadline(t time.Time) error
	Close() error
}

// maxDatagram is the largest datagram read. Startup packets may reach 4 KiB
// in principle (RFC 7016 allows large certificates); the largest seen in the
// wild is about 1.2 KiB (rtmfp-cpp's 908-byte certificate in IIKeying).
const maxDatagram = 4096

// packet is one received datagram in a pooled buffer.
type packet struct {
	buf  [maxDatagram]byte
	n    int
	from netip.AddrPort
	// body is set when the receive goroutine already opened a startup
	// packet (in place) before handing it to a session.
	body []byte
}

func (p *packet) data() []byte { return p.buf[:p.n] }

var packetPool = sync.Pool{New: func() any { return new(packet) }}

func getPacket() *packet { return packetPool.Get().(*packet) }

func putPacket(p *packet) {
	p.n = 0
	p.body = nil
	packetPool.Put(p)
}

// unscramble recovers the session ID from the first 12 bytes of a datagram
// (RFC 7016 §2.2.1).
func unscramble(d []byte) uint32 { return wire.SessionID(d) }

// scramble writes the session ID field of a datagram whose encrypted part is
// already in place from byte 4 on.
func scramble(d []byte, ssid uint32) { wire.ScrambleSessionID(d, ssid) }

// timestampPeriod is the unit of the 16-bit packet timestamps (RFC 7016
// §2.2.4): 4 ms.
const timestampPeriod = 4 * time.Millisecond

// timestamp16 returns the 16-bit timestamp of now relative to epoch.
func timestamp16(epoch, now time.Time) uint16 {
	return uint16(now.Sub(epoch) / timestampPeriod)
}
