package simnet

// maxSteps bounds the routing steps of one datagram between two links, a
// guard against a routing loop.
const maxSteps = 64

// send moves a datagram written by a socket as far as it goes at once and
// delivers it if it arrives without delay.
func (n *Network) send(p *Packet) {
	b := batchPool.Get().(*batch)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.drop(p, DropClosed)
		batchPool.Put(b)
		return
	}
	n.advance(p, n.now(), b)
	n.mu.Unlock()
	n.deliverAll(b)
	batchPool.Put(b)
}

// advance moves p along its way at time now until it is dropped, delayed
// in a link, or arrives at a socket (then it is added to b).
// Called with n.mu held.
//
// A datagram from host A to host B in the same realm crosses A's uplink,
// the core path A→B, and B's downlink. Leaving a NAT's LAN, it is
// translated by the NAT and goes on from the NAT's node in the outer realm;
// arriving at a NAT's node, it is translated back and goes on into the LAN.
func (n *Network) advance(p *Packet, now int64, b *batch) {
	for range maxSteps {
		switch p.hop {
		case hopUp:
			p.hop = hopRoute
			if !n.cross(&p.from.up, &p.from.upSt, p, now, b) {
				return
			}
		case hopRoute:
			r := p.realm
			if to := r.nodes[p.Dst.Addr()]; to != nil {
				p.to = to
				p.hop = hopCore
				if p.from == nil {
					p.hop = hopDown // from the gateway itself: no core path
				}
				continue
			}
			nat := r.nat
			if nat == nil {
				n.drop(p, DropNoRoute)
				return
			}
			if p.Dst.Addr() == nat.public {
				if !nat.cfg.Hairpin {
					n.drop(p, DropHairpin)
					return
				}
				if !nat.outbound(p, now) || !nat.inbound(p, now) {
					n.drop(p, DropNAT)
					return
				}
				p.from = nil // back into the LAN from the NAT
				continue
			}
			if !nat.outbound(p, now) {
				n.drop(p, DropNAT)
				return
			}
			p.realm, p.from, p.hop = nat.realm, &nat.node, hopUp
		case hopCore:
			p.hop = hopDown
			if cfg, st := p.realm.core(p.from, p.to); cfg != nil && !n.cross(cfg, st, p, now, b) {
				return
			}
		case hopDown:
			p.hop = hopArrive
			if !n.cross(&p.to.down, &p.to.downSt, p, now, b) {
				return
			}
		case hopArrive:
			if h := p.to.host; h != nil {
				c := h.lookup(p.Dst)
				if c == nil {
					n.drop(p, DropNoListener)
					return
				}
				p.conn = c
				b.p = append(b.p, p)
				return
			}
			nat := p.to.nat
			if !nat.inbound(p, now) {
				n.drop(p, DropNAT)
				return
			}
			p.realm, p.from, p.hop = nat.lan, nil, hopRoute
		}
	}
	n.drop(p, DropNoRoute)
}

// deliverAll runs the deliver filters on the datagrams of b and puts them
// in their sockets' receive queues. It empties b. Called without n.mu.
func (n *Network) deliverAll(b *batch) {
	for i, p := range b.p {
		b.p[i] = nil
		n.deliver(p)
	}
	b.p = b.p[:0]
}

func (n *Network) deliver(p *Packet) {
	c := p.conn
	if !n.filter(StageDeliver, p) {
		n.drop(p, DropFilter)
		return
	}
	if c.closed.Load() {
		n.drop(p, DropClosed)
		return
	}
	size := uint64(len(p.Payload))
	select {
	case c.rq <- p:
		n.stats.delivered.Add(1)
		c.stats.received.Add(1)
		c.stats.receivedBytes.Add(size)
	default:
		c.stats.dropped.Add(1)
		n.drop(p, DropRecvQueue)
	}
}
