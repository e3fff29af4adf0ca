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
// below the first one counts as the first). It returns the largest
// timestamp written (base when none was), and nil at the end of the file; write's error, ctx's or a read error stop it. Calling Replay again
// with base just after the returned timestamp loops a file.
func Replay(ctx context.Context, r *Reader, base uint32, write func(media.Message) error) (uint32, error) {
	last, _, err := media.Replay(ctx, r.Read, base, media.Clock{Start: time.Now(), Origin: base}, write)
	return last, err
}

// ReplayFile replays the FLV file at path (see Replay).
func ReplayFile(ctx context.Context, path string, base uint32, write func(media.Message) error) (uint32, error) {
	last, _, err := replayPath(ctx, path, base, media.Clock{Start: time.Now(), Origin: base}, write)
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

func replayPath(ctx context.Context, path string, base uint32, c media.Clock, write func(media.Message) error) (uint32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return base, 0, err
	}
	defer f.Close()
	r, err := NewReader(f, 0)
	if err != nil {
		return base, 0, fmt.Errorf("%s: %w", path, err)
	}
	return media.Replay(ctx, r.Read, base, c, write)
}
