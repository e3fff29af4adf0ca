package rtmfp

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// maxBatch is the most datagrams a worker collects before handing them to
// the socket, and the most one receive system call takes (recvmmsg).
const maxBatch = 64

// maxGSOSegments and maxGSOBytes bound one UDP GSO send (the kernel's
// UDP_MAX_SEGMENTS, and the largest UDP payload).
const (
	maxGSOSegments = 64
	maxGSOBytes    = 65000
)

// slotSize is the buffer of one outgoing datagram: a packet is built in
// place, and a chunk may be appended past the packet's end before the
// builder sees that it does not fit.
const slotSize = 2 * maxDatagram

// batchConn sends and receives several datagrams per system call where the
// platform allows it (x/net's WriteBatch and ReadBatch: sendmmsg and
// recvmmsg on Linux, one call per datagram elsewhere).
type batchConn interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// newBatchConn returns a batch connection for conn when it is a UDP socket.
func newBatchConn(conn PacketConn) (bc batchConn, v6 bool) {
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

// outBatch collects the datagrams a worker builds, for any number of
// sessions, and sends them together: one sendmmsg per batch, and runs of
// datagrams to one address merged into one UDP GSO send where the kernel
// has it (the datagrams of one session's flush are consecutive). Nothing
// is allocated per datagram.
type outBatch struct {
	e    *Endpoint
	bufs [maxBatch][]byte // sealed datagrams, in slots of slotSize
	to   [maxBatch]netip.AddrPort
	n    int

	// Scratch of flush.
	msgs  [maxBatch]ipv4.Message
	addrs [maxBatch]net.UDPAddr
	ips   [maxBatch][16]byte
	iovs  [maxBatch][]byte
	oobs  [maxBatch][gsoControlSpace]byte
}

func (b *outBatch) init(e *Endpoint) {
	b.e = e
	for i := range b.bufs {
		b.bufs[i] = make([]byte, 0, slotSize)
	}
}

// slot returns the buffer of the next datagram, empty.
func (b *outBatch) slot() []byte { return b.bufs[b.n][:0] }

// add records the datagram built in slot(): pkt (which aliases it) to to.
// It sends the batch when it is full.
func (b *outBatch) add(pkt []byte, to netip.AddrPort) {
	b.bufs[b.n] = pkt
	b.to[b.n] = to
	b.n++
	if b.n == maxBatch {
		b.flush()
	}
}

// flush sends the collected datagrams.
func (b *outBatch) flush() {
	n := b.n
	if n == 0 {
		return
	}
	b.n = 0
	e := b.e
	if e.bc == nil {
		for i := range n {
			e.write(b.bufs[i], b.to[i])
		}
		return
	}
	gso := e.gso.Load()
	k := 0 // messages
	for i := 0; i < n; {
		j := i + 1
		if gso {
			// A run of datagrams to one address, all of the first one's
			// size but the last, which may be shorter.
			size, total := len(b.bufs[i]), len(b.bufs[i])
			for j < n && j-i < maxGSOSegments && b.to[j] == b.to[i] && len(b.bufs[j-1]) == size &&
				len(b.bufs[j]) <= size && total+len(b.bufs[j]) <= maxGSOBytes {
				total += len(b.bufs[j])
				j++
			}
		}
		m := &b.msgs[k]
		for x := i; x < j; x++ {
			b.iovs[x] = b.bufs[x]
		}
		m.Buffers = b.iovs[i:j]
		m.OOB = nil
		if j-i > 1 {
			m.OOB = putGSOControl(b.oobs[k][:], len(b.bufs[i]))
		}
		m.Addr = b.addr(k, b.to[i])
		m.N, m.NN, m.Flags = 0, 0, 0
		k++
		i = j
	}
	sent := 0
	for sent < k {
		c, err := e.bc.WriteBatch(b.msgs[sent:k], 0)
		if err == nil && c > 0 {
			for _, m := range b.msgs[sent : sent+c] {
				e.stats.packetsOut.Add(uint64(len(m.Buffers)))
			}
			e.stats.batchesOut.Add(1)
		}
		if err != nil || c <= 0 {
			if gso && isGSOError(err) {
				// The path cannot segment (no checksum offload): send
				// each datagram on its own from now on.
				e.gso.Store(false)
				e.log.Info("UDP GSO turned off: the socket refused a segmented send", "err", err)
			} else {
				e.stats.writeErrors.Add(1)
			}
			// The rest one by one.
			for _, m := range b.msgs[sent:k] {
				for _, p := range m.Buffers {
					e.write(p, addrPortOf(m.Addr))
				}
			}
			b.clear(k)
			return
		}
		sent += c
	}
	b.clear(k)
}

// clear drops the references of the first k messages.
func (b *outBatch) clear(k int) {
	for i := range k {
		b.msgs[i].Buffers = nil
	}
}

// addr returns message k's destination, to as the socket takes it, without
// allocating.
func (b *outBatch) addr(k int, to netip.AddrPort) *net.UDPAddr {
	ip := to.Addr()
	a := &b.addrs[k]
	if b.e.bc6 {
		if ip.Is4() {
			ip = netip.AddrFrom16(ip.As16()) // IPv4-mapped on a dual-stack socket
		}
		b.ips[k] = ip.As16()
		a.IP = b.ips[k][:16]
	} else {
		v4 := ip.Unmap().As4()
		copy(b.ips[k][:4], v4[:])
		a.IP = b.ips[k][:4]
	}
	a.Port = int(to.Port())
	a.Zone = ip.Zone()
	return a
}

func addrPortOf(a net.Addr) netip.AddrPort {
	ua, _ := a.(*net.UDPAddr)
	if ua == nil {
		return netip.AddrPort{}
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// write sends one datagram.
func (e *Endpoint) write(b []byte, to netip.AddrPort) {
	if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
		e.stats.writeErrors.Add(1)
		return
	}
	e.stats.packetsOut.Add(1)
}
