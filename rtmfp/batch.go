package rtmfp

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// maxBatch is the most datagrams a session hands to the socket in one
// system call (sendmmsg on Linux).
const maxBatch = 32

// batchWriter sends several datagrams with one system call where the
// platform allows it (x/net's WriteBatch: sendmmsg on Linux, one call per
// datagram elsewhere).
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// newBatchWriter returns a batch writer for conn when it is a UDP socket.
func newBatchWriter(conn PacketConn) (bw batchWriter, v6 bool) {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return nil, false
	}
	la, ok := uc.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, false
	}
	if la.IP.To4() == nil {
		// An IPv6 (possibly dual-stack) socket.
		return ipv6.NewPacketConn(uc), true
	}
	return ipv4.NewPacketConn(uc), false
}

// outBatch collects one session's datagrams during a flush.
type outBatch struct {
	bufs [maxBatch][]byte
	msgs [maxBatch]ipv4.Message
	addr net.UDPAddr
	n    int
}

// slot returns the buffer for the next datagram.
func (b *outBatch) slot() []byte {
	if b.bufs[b.n] == nil {
		b.bufs[b.n] = make([]byte, 0, maxDatagram)
	}
	return b.bufs[b.n][:0]
}

// writeBatch sends the collected datagrams to addr.
func (e *Endpoint) writeBatch(b *outBatch, to netip.AddrPort) {
	if b.n == 0 {
		return
	}
	defer func() { b.n = 0 }()
	if e.bw == nil {
		for i := range b.n {
			e.write(b.bufs[i], to)
		}
		return
	}
	ip := to.Addr()
	if e.bw6 && ip.Is4() {
		ip = netip.AddrFrom16(ip.As16()) // IPv4-mapped on a dual-stack socket
	}
	b.addr.IP = ip.AsSlice()
	b.addr.Port = int(to.Port())
	b.addr.Zone = ip.Zone()
	for i := range b.n {
		m := &b.msgs[i]
		if m.Buffers == nil {
			m.Buffers = make([][]byte, 1)
		}
		m.Buffers[0] = b.bufs[i]
		m.Addr = &b.addr
	}
	sent := 0
	for sent < b.n {
		n, err := e.bw.WriteBatch(b.msgs[sent:b.n], 0)
		if err != nil || n <= 0 {
			// Fall back to single writes for the rest.
			for i := sent; i < b.n; i++ {
				e.write(b.bufs[i], to)
			}
			return
		}
		sent += n
	}
	e.stats.packetsOut.Add(uint64(b.n))
}

// readBatchLoop is readLoop for sockets that can receive several datagrams
// per system call (recvmmsg on Linux).
func (e *Endpoint) readBatchLoop() {
	defer close(e.readerDone)
	var pkts [maxBatch]*packet
	var msgs [maxBatch]ipv4.Message
	for i := range msgs {
		pkts[i] = getPacket()
		msgs[i].Buffers = [][]byte{pkts[i].buf[:]}
	}
	defer func() {
		for _, p := range pkts {
			putPacket(p)
		}
	}()
	for {
		n, err := e.bw.ReadBatch(msgs[:], 0)
		if err != nil {
			if e.readError(err) {
				return
			}
			continue
		}
		for i := range n {
			m := &msgs[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			from := ua.AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			p := pkts[i]
			if e.receive(p, m.N, from) {
				pkts[i] = getPacket()
				m.Buffers[0] = pkts[i].buf[:]
			}
		}
	}
}
