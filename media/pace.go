package media

import (
	"context"
	"io"
	"time"
)

// Clock paces replays on one timeline: a message whose (shifted)
// timestamp is ts is due at Start + (ts - Origin) milliseconds.
type Clock struct {
	Start  time.Time
	Origin uint32
}

// Due is when a message at ts is due.
func (c Clock) Due(ts uint32) time.Time {
	return c.Start.Add(time.Duration(ts-c.Origin) * time.Millisecond)
}

// Replay hands the messages next reads to write when they are due on
// clock c, as a live publisher sends them: timestamps are shifted so that
// the first message is at base (a timestamp below the first one counts as
// the first). next returns io.EOF at the end. Replay returns the largest
// timestamp written (base when nothing was: where a next pass of a loop
// may start without going back in time), the number of audio and video
// messages written, and nil at the end; write's error, ctx's or next's
// stop it.
func Replay(ctx context.Context, next func() (Message, error), base uint32, c Clock, write func(Message) error) (last uint32, av int, err error) {
	first, started := uint32(0), false
	last = base
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		m, err := next()
		if err == io.EOF {
			return last, av, nil
		}
		if err != nil {
			return last, av, err
		}
		if !started {
			first, started = m.Timestamp, true
		}
		rel := uint32(0)
		if m.Timestamp > first {
			rel = m.Timestamp - first
		}
		m.Timestamp = base + rel
		if d := time.Until(c.Due(m.Timestamp)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return last, av, ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return last, av, err
		}
		if err := write(m); err != nil {
			return last, av, err
		}
		if m.IsAudio() || m.IsVideo() {
			av++
		}
		last = max(last, m.Timestamp)
	}
}

// LoopGap is the time between the last message of a pass of ReplayLoop and
// the first of the next: one frame at 25 frames per second.
const LoopGap = 40 * time.Millisecond

// ReplayLoop runs pass (a replay from base on clock c, returning its last
// timestamp and how many audio and video messages it wrote) once, or with
// loop again and again until ctx ends, every pass on one timeline: a pass
// starts LoopGap after the last message of the previous one, so that each
// takes at least the file's duration. A pass that writes no audio or video
// ends the loop with noMedia. It returns nil after one pass without loop,
// and otherwise the error that stopped it.
func ReplayLoop(ctx context.Context, loop bool, noMedia error, pass func(base uint32, c Clock) (uint32, int, error)) error {
	c := Clock{Start: time.Now()}
	base := uint32(0)
	for {
		last, av, err := pass(base, c)
		switch {
		case err != nil:
			return err
		case av == 0:
			return noMedia
		case !loop:
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		base = last + uint32(LoopGap/time.Millisecond)
	}
}
