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
// the first). next returns io.EOF at the end. Replay returns the
// timestamp of the last message written (base when none was), the number
// of audio and video messages written, and nil at the end; write's error,
// ctx's or next's stop it.
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
		last = m.Timestamp
	}
}
