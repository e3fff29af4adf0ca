// Package congestion is the per-session congestion controller and pacer of
// the RTMFP sender (RFC 7016 §3.5.2.3 and Appendix A).
//
// RFC 7016 requires a sender to be TCP-compatible. The controller here is a
// byte-counting AIMD window in the manner of RFC 5681, arranged the way
// RFC 7016 Appendix A describes for RTMFP:
//
//   - slow start grows the window by the bytes acknowledged while it is below
//     the slow-start threshold and the sender is using the window;
//   - congestion avoidance then grows it by about one MSS per window's worth
//     of acknowledged bytes;
//   - loss reported by acknowledgements (a fragment missed by three acks)
//     halves the window once per recovery period, a recovery period lasting
//     until the bytes outstanding when the loss was detected have drained;
//   - a retransmission timeout keeps a memory of the old window in the
//     threshold (at least 3/4 of it, Appendix A.2) and restarts from a small
//     window; after an idle period the window returns to its initial size.
//
// Time is passed in; nothing here reads a clock.
package congestion

import "time"

// Window sizes in units of the sender's maximum segment size (RFC 7016
// reference values).
const (
	InitialSegments  = 3 // CWND_INIT
	TimedOutSegments = 2 // CWND_TIMEDOUT
	BurstPackets     = 6 // at most this many data packets back to back (§3.5.2.3)
)

// SafeRTT is the round trip assumed when none has been measured: the pacer
// sends at most the initial window per SafeRTT.
const SafeRTT = 200 * time.Millisecond

// Controller is a session's congestion window. It is owned by the session
// goroutine.
type Controller struct {
	mss      int
	cwnd     int
	ssthresh int
	accum    int // bytes acknowledged towards the next avoidance increase
	// recovery counts the bytes that must drain (acked or lost) before
	// another loss may reduce the window again.
	recovery int
	// The window and threshold before the last reduction, for Undo.
	priorCwnd, priorSsthresh int
}

// New returns a controller for segments of mss bytes.
func New(mss int) *Controller {
	return &Controller{mss: mss, cwnd: InitialSegments * mss, ssthresh: 1 << 62}
}

// Window is the congestion window in bytes.
func (c *Controller) Window() int { return c.cwnd }

// Threshold is the slow-start threshold in bytes.
func (c *Controller) Threshold() int { return c.ssthresh }

// InRecovery reports whether a window reduction is being waited out.
func (c *Controller) InRecovery() bool { return c.recovery > 0 }

// OnAck updates the window after an acknowledgement. acked and lost are the
// bytes newly acknowledged and newly declared lost by it; outstanding is the
// number of bytes that were in flight before it was processed.
func (c *Controller) OnAck(acked, lost, outstanding int) {
	if c.recovery > 0 {
		c.recovery -= acked + lost
		if c.recovery > 0 {
			return
		}
		c.recovery = 0
	}
	if lost > 0 {
		c.priorCwnd, c.priorSsthresh = c.cwnd, c.ssthresh
		base := min(c.cwnd, outstanding)
		c.ssthresh = max(base/2, InitialSegments*c.mss)
		c.cwnd = c.ssthresh
		c.accum = 0
		c.recovery = max(outstanding-acked-lost, 1)
		return
	}
	// Grow only while the window is actually used (RFC 7661 spirit):
	// an application-limited sender must not inflate an unproven window.
	if outstanding < c.cwnd*3/4 {
		return
	}
	if c.cwnd < c.ssthresh {
		// Appropriate byte counting with L = 2 (RFC 3465).
		c.cwnd += min(acked, 2*c.mss)
		return
	}
	c.accum += acked
	for c.accum >= c.cwnd {
		c.accum -= c.cwnd
		c.cwnd += c.mss
	}
}

// Undo reverses the last loss reduction once the loss turned out to be
// reordering (the "lost" data was acknowledged before it was sent again),
// in the manner of RFC 4015.
func (c *Controller) Undo() {
	if c.priorCwnd == 0 {
		return
	}
	c.cwnd = max(c.cwnd, c.priorCwnd)
	c.ssthresh = max(c.ssthresh, c.priorSsthresh)
	c.priorCwnd, c.priorSsthresh = 0, 0
	c.recovery = 0
}

// OnTimeout reacts to a retransmission timeout. outstanding reports whether
// anything was in flight; if not, the session was merely idle and the window
// returns to its initial size.
func (c *Controller) OnTimeout(outstanding bool) {
	c.ssthresh = max(c.ssthresh, c.cwnd*3/4)
	if c.ssthresh > 1<<61 {
		c.ssthresh = c.cwnd * 3 / 4
	}
	c.ssthresh = max(c.ssthresh, InitialSegments*c.mss)
	c.accum = 0
	c.recovery = 0
	c.priorCwnd, c.priorSsthresh = 0, 0
	if outstanding {
		c.cwnd = TimedOutSegments * c.mss
	} else {
		c.cwnd = InitialSegments * c.mss
	}
}

// Pacer spreads a window's worth of data over a round trip, allowing bursts
// of BurstPackets segments. It is a token bucket refilled at
// 2·cwnd/SRTT bytes per second.
type Pacer struct {
	tokens float64
	last   time.Time
}

// Allow reports how many bytes may be sent at now for the given window and
// smoothed RTT (0 when unknown).
func (p *Pacer) Allow(now time.Time, cwnd, mss int, srtt time.Duration) int {
	burst := float64(BurstPackets * mss)
	if p.last.IsZero() {
		p.tokens = burst
		p.last = now
	}
	if srtt <= 0 {
		srtt = SafeRTT
	}
	if dt := now.Sub(p.last); dt > 0 {
		rate := 2 * float64(cwnd) / srtt.Seconds()
		p.tokens = min(p.tokens+rate*dt.Seconds(), max(burst, float64(cwnd)/4))
		p.last = now
	}
	return int(p.tokens)
}

// Spend takes n bytes from the bucket.
func (p *Pacer) Spend(n int) { p.tokens -= float64(n) }

// Next returns when at least need bytes will be available.
func (p *Pacer) Next(now time.Time, need, cwnd int, srtt time.Duration) time.Time {
	if float64(need) <= p.tokens {
		return now
	}
	if srtt <= 0 {
		srtt = SafeRTT
	}
	rate := 2 * float64(cwnd) / srtt.Seconds()
	wait := (float64(need) - p.tokens) / rate
	// Round up (plus a microsecond) so that Allow at the returned time
	// really has the bytes despite float rounding.
	return now.Add(time.Duration(wait*float64(time.Second)) + time.Microsecond)
}
