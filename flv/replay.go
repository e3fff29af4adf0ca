package flv

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// Replay reads the messages of r and hands each to write when it is due, in
// real time from the first message on, as a live publisher sends them. The
// timestamps are shifted so that the first message is at base (a timestamp
// below the first one counts as the first). It returns the timestamp of the
// last message written (base when none was), and nil at the end of the
// file; write's error, ctx's or a read error stop it. Calling Replay again
// with base just after the returned timestamp loops a file.
func Replay(ctx context.Context, r *Reader, base uint32, write func(media.Message) error) (uint32, error) {
	last, _, err := replay(ctx, r, base, clock{start: time.Now(), origin: base}, write)
	return last, err
}

// clock paces replays on one timeline: a message whose (shifted) timestamp
// is ts is due at start + (ts - origin) milliseconds.
type clock struct {
	start  time.Time
	origin uint32
}

func (c clock) due(ts uint32) time.Time {
	return c.start.Add(time.Duration(ts-c.origin) * time.Millisecond)
}

// replay is Replay on clock c; it also returns the number of audio and
// video messages written.
func replay(ctx context.Context, r *Reader, base uint32, c clock, write func(media.Message) error) (last uint32, av int, err error) {
	first, started := uint32(0), false
	last = base
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		m, err := r.Read()
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
		if d := time.Until(c.due(m.Timestamp)); d > 0 {
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

// ReplayFile replays the FLV file at path (see Replay).
func ReplayFile(ctx context.Context, path string, base uint32, write func(media.Message) error) (uint32, error) {
	last, _, err := replayPath(ctx, path, base, clock{start: time.Now(), origin: base}, write)
	return last, err
}

// ReadFile reads every message of the FLV file at path (at most limit
// messages; 0: 1<<20), for tools and tests that want a whole file in
// memory.
func ReadFile(path string, limit int) ([]media.Message, error) {
	if limit <= 0 {
		limit = 1 << 20
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := NewReader(f, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []media.Message
	for {
		m, err := r.Read()
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return out, fmt.Errorf("%s: %w", path, err)
		case len(out) == limit:
			return out, fmt.Errorf("%s: more than %d messages", path, limit)
		}
		out = append(out, m)
	}
}
