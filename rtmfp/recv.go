package rtmfp

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// datagramReader receives several datagrams per system call.
type datagramReader interface {
	// read receives into bufs; the datagrams' lengths go to ns and their
	// sources to froms. waited reports whether it had to wait for the
	// first datagram (the socket was empty when asked).
	read(bufs [][]byte, ns []int, froms []netip.AddrPort) (n int, waited bool, err error)
	// tryRead is read that returns 0 datagrams rather than wait.
	tryRead(bufs [][]byte, ns []int, froms []netip.AddrPort) (int, error)
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
	w.e.keyInline(w)
	for i, s := range w.local {
		w.runSession(s)
		w.local[i] = nil
	}
	w.local = w.local[:0]
	w.out.flush()
}

// readDatagrams is readBatchLoop with a datagramReader: nothing is
// allocated per datagram, and the receive goroutine is paced while
// datagrams keep arriving (receivePacer, Config.ReceivePace).
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
	pacer := receivePacer{window: e.cfg.ReceivePace}
	w := e.reader
	paced := false // see enterPaced
	for {
		var n int
		var waited bool
		var err error
		if paced {
			n, err = dr.tryRead(bufs[:], ns[:], froms[:])
			if err == nil && n == 0 {
				// Nothing came in the window: hand the endpoint back to
				// its workers and timer before waiting.
				paced = false
				e.leavePaced(w)
				w.runReceived()
			}
		}
		if !paced {
			n, waited, err = dr.read(bufs[:], ns[:], froms[:])
		}
		if err != nil {
			if e.readError(err) {
				if paced {
					e.leavePaced(w)
					w.runReceived()
				}
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
		now := time.Now()
		d := pacer.next(n, waited, now)
		switch {
		case d > 0 && !paced:
			paced = true
			e.enterPaced()
		case d == 0 && paced:
			paced = false
			e.leavePaced(w)
		}
		if paced {
			e.timers.due(now, w)
			w.local = e.runq.setPaced(true, w.local)
		}
		w.runReceived()
		if d > 0 {
			time.Sleep(d)
		}
	}
}

// enterPaced makes the paced receive goroutine the endpoint's worker and
// timer while traffic is steady: it wakes once per pace window anyway, so
// the sessions that get work meanwhile (application writes, deadlines) wait
// for it instead of waking a worker or a timer goroutine each
// (runQueue.paced, timerWheel.held). leavePaced hands them back and queues
// what waited for w, which runs it before the receive goroutine waits.
func (e *Endpoint) enterPaced() {
	e.runq.setPaced(true, nil)
	e.timers.hold()
}

func (e *Endpoint) leavePaced(w *worker) {
	w.local = e.runq.setPaced(false, w.local)
	e.timers.release()
	e.timers.due(time.Now(), w)
}
