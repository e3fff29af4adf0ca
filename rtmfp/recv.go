package rtmfp

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

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
		n, err := e.bc.ReadBatch(msgs[:], 0)
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
