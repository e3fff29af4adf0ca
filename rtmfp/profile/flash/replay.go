package flash

// replayWindowSize is how many session sequence numbers below the highest one
// received are still accepted (once each). rtmfp-cpp accepts 32; a wider
// window tolerates more reordering at the cost of 32 bytes per session.
const replayWindowSize = 256

// replayWindow remembers which session sequence numbers were received
// (RFC 7425 §4.6): every number is accepted once, and numbers more than
// replayWindowSize below the highest seen are refused.
type replayWindow struct {
	top     uint64 // highest sequence number accepted
	started bool
	seen    [replayWindowSize / 64]uint64 // bit (n mod size) for n in (top−size, top]
}

// fresh reports whether seq has not been accepted and is inside the window.
func (w *replayWindow) fresh(seq uint64) bool {
	if !w.started || seq > w.top {
		return true
	}
	if w.top-seq >= replayWindowSize {
		return false
	}
	i := seq % replayWindowSize
	return w.seen[i/64]&(1<<(i%64)) == 0
}

// add records seq, which fresh accepted.
func (w *replayWindow) add(seq uint64) {
	switch {
	case !w.started:
		w.started = true
		w.top = seq
	case seq > w.top:
		if seq-w.top >= replayWindowSize {
			w.seen = [replayWindowSize / 64]uint64{}
		} else {
			for n := w.top + 1; n < seq; n++ {
				i := n % replayWindowSize
				w.seen[i/64] &^= 1 << (i % 64)
			}
			// seq's own slot is overwritten below.
		}
		w.top = seq
	}
	i := seq % replayWindowSize
	w.seen[i/64] |= 1 << (i % 64)
}
