package simnet

import (
	"math/rand/v2"
	"time"
)

// Per-datagram header overhead counted against [LinkConfig.MTU] and
// [LinkConfig.Bandwidth]: an IP header plus the 8-byte UDP header.
const (
	IPv4Overhead = 20 + 8
	IPv6Overhead = 40 + 8
)

// DefaultQueueBytes is the drop-tail queue size of a bandwidth-limited link
// whose [LinkConfig.QueueBytes] is zero.
const DefaultQueueBytes = 64 << 10

// DefaultReorderDelay is the extra delay of a reordered datagram when
// [LinkConfig.ReorderDelay] is zero.
const DefaultReorderDelay = 5 * time.Millisecond

// LinkConfig describes one direction of a link. The zero value is a perfect
// link: no delay, no loss, unlimited bandwidth, no MTU. Probabilities are
// clamped to [0, 1] and negative durations or sizes count as zero.
//
// A datagram crossing the link is handled in this order: MTU check, loss,
// duplication, the bandwidth queue, then delay (plus jitter and reordering).
type LinkConfig struct {
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter) to each
	// datagram; datagrams may overtake each other when it is larger than
	// their spacing.
	Jitter time.Duration
	// Loss is the probability that a datagram is dropped.
	Loss float64
	// Duplicate is the probability that a datagram is delivered twice.
	// The copy takes its own way through the queue, delay and jitter.
	Duplicate float64
	// Reorder is the probability that a datagram is held back an extra
	// ReorderDelay, so that datagrams sent after it overtake it.
	Reorder float64
	// ReorderDelay is the hold-back of a reordered datagram
	// (DefaultReorderDelay when zero).
	ReorderDelay time.Duration
	// Bandwidth is the link rate in bits per second; zero means unlimited.
	// Sizes include IPv4Overhead or IPv6Overhead.
	Bandwidth int64
	// QueueBytes bounds the bytes a bandwidth-limited link holds that
	// are not yet transmitted, the datagram being transmitted included; a
	// datagram that does not fit is dropped (drop-tail), except that an
	// idle link always takes one. DefaultQueueBytes when zero.
	QueueBytes int
	// MTU is the largest IP packet, header included, the link carries;
	// bigger datagrams are dropped (no fragmentation). Zero means no limit.
	// With MTU 1500 the largest UDP payload is 1472 bytes over IPv4.
	MTU int
}

// isZero reports whether c is a perfect link that needs no work.
func (c *LinkConfig) isZero() bool { return *c == LinkConfig{} }

// normalized returns c with its fields clamped to their valid ranges.
func (c LinkConfig) normalized() LinkConfig {
	clampP := func(p float64) float64 {
		switch {
		case p > 1:
			return 1
		case p > 0:
			return p
		default: // negative or NaN
			return 0
		}
	}
	c.Loss, c.Duplicate, c.Reorder = clampP(c.Loss), clampP(c.Duplicate), clampP(c.Reorder)
	c.Delay, c.Jitter, c.ReorderDelay = max(c.Delay, 0), max(c.Jitter, 0), max(c.ReorderDelay, 0)
	c.Bandwidth, c.QueueBytes, c.MTU = max(c.Bandwidth, 0), max(c.QueueBytes, 0), max(c.MTU, 0)
	return c
}

// linkState is the mutable state of one direction of one link.
type linkState struct {
	stream uint64     // random stream id, derived from the link's identity
	rng    *rand.Rand // created on first use
	busy   int64      // when the transmitter goes idle, ns since the epoch
}

func (s *linkState) rand(seed uint64) *rand.Rand {
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(seed, s.stream))
	}
	return s.rng
}

// wireSize is the IP packet size of p.
func wireSize(p *Packet) int {
	if p.Dst.Addr().Is4() {
		return len(p.Payload) + IPv4Overhead
	}
	return len(p.Payload) + IPv6Overhead
}

// txTime is the time a link of rate bits/s takes to send size bytes.
func txTime(size int, rate int64) int64 {
	bits := int64(size) * 8
	return (bits*int64(time.Second) + rate - 1) / rate
}

// cross sends p over one link at time now. The caller has already moved
// p to its next hop. It reports whether p goes on at once; when it does not,
// p was dropped or scheduled. A duplicate, if any, is sent on by itself.
// Called with n.mu held.
func (n *Network) cross(cfg *LinkConfig, st *linkState, p *Packet, now int64, b *batch) bool {
	if cfg.isZero() {
		return true
	}
	if cfg.MTU > 0 && wireSize(p) > cfg.MTU {
		n.drop(p, DropMTU)
		return false
	}
	if cfg.Loss > 0 && st.rand(n.cfg.Seed).Float64() < cfg.Loss {
		n.drop(p, DropLoss)
		return false
	}
	if cfg.Duplicate > 0 && st.rand(n.cfg.Seed).Float64() < cfg.Duplicate {
		c := n.clone(p)
		n.stats.duplicated.Add(1)
		if n.pace(cfg, st, c, now) {
			n.advance(c, now, b)
		}
	}
	return n.pace(cfg, st, p, now)
}

// pace puts p through the bandwidth queue and the delay of a link, and
// reports whether it leaves the link at once (otherwise it was dropped or
// scheduled). Called with n.mu held.
func (n *Network) pace(cfg *LinkConfig, st *linkState, p *Packet, now int64) bool {
	at := now
	if cfg.Bandwidth > 0 {
		size := wireSize(p)
		if backlog := st.busy - now; backlog > 0 {
			limit := cfg.QueueBytes
			if limit == 0 {
				limit = DefaultQueueBytes
			}
			queued := backlog * cfg.Bandwidth / (8 * int64(time.Second))
			if queued+int64(size) > int64(limit) {
				n.drop(p, DropQueue)
				return false
			}
		}
		st.busy = max(st.busy, now) + txTime(size, cfg.Bandwidth)
		at = st.busy
	}
	at += int64(cfg.Delay)
	if cfg.Jitter > 0 {
		at += st.rand(n.cfg.Seed).Int64N(int64(cfg.Jitter))
	}
	if cfg.Reorder > 0 && st.rand(n.cfg.Seed).Float64() < cfg.Reorder {
		d := cfg.ReorderDelay
		if d == 0 {
			d = DefaultReorderDelay
		}
		at += int64(d)
	}
	if at <= now {
		return true
	}
	n.schedule(p, at)
	return false
}
