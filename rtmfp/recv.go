package rtmfp

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// datagramReader receives several datagrams per system call.
type datagramReader interface {
	// read receives into bufs; the datagrams' lengths go to ns and their
	// sources to froms.
	read(bufs [][]byte, ns []int, froms []netip.AddrPort) (int, error)
}

// readBatchLoop is readLoop for sockets that can receive several datagrams
// per system call (recvmmsg on Linux).
func (e *Endpoint) readBatchLoop() {
	defer close(e.readerDone)
	if dr := newDatagramReader(e.conn); dr != nil {
		e.readDatagrams(dr)
		return
	}
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
		n, err := e.bc.ReadBatch(msgs[:], 0)
		if err != nil {
			if e.readError(err) {
				return
			}
			continue
		}
		e.stats.batchesIn.Add(1)
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
		e.reader.runReceived()
	}
}

// runReceived runs the sessions the receive goroutine queued for itself,
// and sends what they built: the datagrams of one receive system call are
// handled without waking another goroutine.
func (w *worker) runReceived() {
	for i, s := range w.local {
		w.runSession(s)
		w.local[i] = nil
	}
	w.local = w.local[:0]
	w.out.flush()
}

// readDatagrams is readBatchLoop with a datagramReader: nothing is
// allocated per datagram.
func (e *Endpoint) readDatagrams(dr datagramReader) {
	var pkts [maxBatch]*packet
	var bufs [maxBatch][]byte
	var ns [maxBatch]int
	var froms [maxBatch]netip.AddrPort
	for i := range pkts {
		pkts[i] = getPacket()
		bufs[i] = pkts[i].buf[:]
	}
	defer func() {
		for _, p := range pkts {
			putPacket(p)
		}
	}()
	for {
		n, err := dr.read(bufs[:], ns[:], froms[:])
		if err != nil {
			if e.readError(err) {
				return
			}
			continue
		}
		e.stats.batchesIn.Add(1)
		for i := range n {
			if e.receive(pkts[i], ns[i], froms[i]) {
				pkts[i] = getPacket()
				bufs[i] = pkts[i].buf[:]
			}
		}
		e.reader.runReceived()
	}
}
