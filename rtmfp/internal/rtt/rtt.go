// Package rtt estimates a session's round-trip time and retransmission
// timeout from timestamp echoes (RFC 7016 §3.5.2.2, with the smoothing of
// RFC 6298).
//
// Two timeouts come out of it: MRTO, the measured timeout SRTT + 4·RTTVAR +
// 200 ms, and ERTO, the effective timeout used for retransmission, which is
// never below MinERTO, backs off on each timeout and returns to MRTO when the
// path answers again.
package rtt

import "time"

// Timing constants of RFC 7016 §3.5.2.2 (as used by the reference
// implementation).
const (
	InitialMRTO   = 250 * time.Millisecond
	InitialERTO   = 3 * time.Second
	MinERTO       = 250 * time.Millisecond
	MaxERTO       = 10 * time.Second
	AckDelayBound = 200 * time.Millisecond
)

// Estimator holds the RTT state of one session. The zero value is not ready;
// use New.
type Estimator struct {
	srtt, rttvar time.Duration
	mrto, erto   time.Duration
	hasSample    bool
	latest       time.Duration
}

// New returns an estimator with the initial timeouts.
func New() Estimator {
	return Estimator{mrto: InitialMRTO, erto: InitialERTO}
}

// Sample feeds one round-trip measurement.
func (e *Estimator) Sample(rtt time.Duration) {
	if rtt < 0 {
		return
	}
	e.latest = rtt
	if !e.hasSample {
		e.srtt = rtt
		e.rttvar = rtt / 2
		e.hasSample = true
	} else {
		d := e.srtt - rtt
		if d < 0 {
			d = -d
		}
		e.rttvar = (3*e.rttvar + d) / 4
		e.srtt = (7*e.srtt + rtt) / 8
	}
	e.mrto = e.srtt + 4*e.rttvar + AckDelayBound
	e.erto = max(e.mrto, MinERTO)
}

// Backoff widens ERTO after a retransmission timeout: ×√2, at most MaxERTO.
func (e *Estimator) Backoff() {
	e.erto = min(e.erto*1414/1000, MaxERTO)
	e.erto = max(e.erto, e.mrto)
}

// Progress resets ERTO to the measured timeout after the far end
// acknowledged new data following a backoff.
func (e *Estimator) Progress() { e.erto = max(e.mrto, MinERTO) }

// SRTT is the smoothed RTT, or 0 before the first sample.
func (e *Estimator) SRTT() time.Duration { return e.srtt }

// Latest is the most recent sample.
func (e *Estimator) Latest() time.Duration { return e.latest }

// HasSample reports whether any sample was taken.
func (e *Estimator) HasSample() bool { return e.hasSample }

// MRTO is the measured retransmission timeout.
func (e *Estimator) MRTO() time.Duration { return e.mrto }

// ERTO is the effective retransmission timeout.
func (e *Estimator) ERTO() time.Duration { return e.erto }
