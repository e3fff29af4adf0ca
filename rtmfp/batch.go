package rtmfp

import (
	"errors"
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
	runs  [maxBatch][2]int // datagrams [i, j) of each message
	raw   rawScratch
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

// flush sends the collected datagrams: raw (rawSocket) where it can, the
// rest through the poller.
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
	k := b.cut(n, gso)
	sent := 0
	if e.raw != nil {
		c, err := e.raw.sendBatch(b, k)
		b.sent(c)
		sent = c
		if err != nil && !isRetryPoller(err) {
			b.failed(sent, k, gso, err)
			return
		}
	}
	if sent == k {
		return
	}
	for m := sent; m < k; m++ {
		i, j := b.runs[m][0], b.runs[m][1]
		msg := &b.msgs[m]
		for x := i; x < j; x++ {
			b.iovs[x] = b.bufs[x]
		}
		msg.Buffers = b.iovs[i:j]
		msg.OOB = nil
		if j-i > 1 {
			msg.OOB = putGSOControl(b.oobs[m][:], len(b.bufs[i]))
		}
		msg.Addr = b.addr(m, b.to[i])
		msg.N, msg.NN, msg.Flags = 0, 0, 0
	}
	for sent < k {
		c, err := e.bc.WriteBatch(b.msgs[sent:k], 0)
		if err != nil || c <= 0 {
			b.failed(sent, k, gso, err)
			return
		}
		b.sent(c)
		sent += c
	}
	b.clear(k)
}

// cut groups the first n datagrams into messages, b.runs[m] being the
// datagrams of message m: with UDP GSO a run of datagrams to one address,
// all of the first one's size but the last, which may be shorter, is one
// message. It returns the number of messages.
func (b *outBatch) cut(n int, gso bool) int {
	k := 0
	for i := 0; i < n; {
		j := i + 1
		if gso {
			size, total := len(b.bufs[i]), len(b.bufs[i])
			for j < n && j-i < maxGSOSegments && b.to[j] == b.to[i] && len(b.bufs[j-1]) == size &&
				len(b.bufs[j]) <= size && total+len(b.bufs[j]) <= maxGSOBytes {
				total += len(b.bufs[j])
				j++
			}
		}
		b.runs[k] = [2]int{i, j}
		k++
		i = j
	}
	return k
}

// sent counts c messages sent with one system call.
func (b *outBatch) sent(c int) {
	if c <= 0 {
		return
	}
	var pkts uint64
	for m := range c {
		pkts += uint64(b.runs[m][1] - b.runs[m][0])
	}
	b.e.stats.packetsOut.Add(pkts)
	b.e.stats.batchesOut.Add(1)
}

// failed handles a send of messages sent..k that failed with err: the rest
// goes one datagram at a time, and a path that refused a segmented send
// gets none from now on.
func (b *outBatch) failed(sent, k int, gso bool, err error) {
	e := b.e
	if gso && isGSOError(err) {
		// The path cannot segment (no checksum offload): send each
		// datagram on its own from now on.
		e.gso.Store(false)
		e.log.Info("UDP GSO turned off: the socket refused a segmented send", "err", err)
	} else {
		e.stats.writeErrors.Add(1)
	}
	for m := sent; m < k; m++ {
		for x := b.runs[m][0]; x < b.runs[m][1]; x++ {
			e.write(b.bufs[x], b.to[x])
		}
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

// errNotRaw: a batch the raw sender does not take (see rawSocket).
var errNotRaw = errors.New("rtmfp: not sendable raw")

// isRetryPoller reports whether a raw send that failed with err goes
// through the poller instead: the socket was full, or the batch has a
// destination the raw sender does not take.
func isRetryPoller(err error) bool { return err == errNotRaw || isWouldBlock(err) }

// write sends one datagram.
func (e *Endpoint) write(b []byte, to netip.AddrPort) {
	if e.raw != nil {
		if ok, err := e.raw.sendTo(b, to); ok || err != nil {
			if err != nil {
				e.stats.writeErrors.Add(1)
				return
			}
			e.stats.packetsOut.Add(1)
			return
		}
	}
	if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
		e.stats.writeErrors.Add(1)
		return
	}
	e.stats.packetsOut.Add(1)
}
