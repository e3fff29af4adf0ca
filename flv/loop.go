package flv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rtmfpd/rtmfpd/media"
)

// ErrNoMedia is the error of a file with no audio or video tag: there is
// nothing to play, and looping it would only spin.
var ErrNoMedia = errors.New("flv: no audio or video tags")

// LoopGap is the time between the last message of a pass of ReplayLoop and
// the first of the next: one frame at 25 frames per second.
const LoopGap = media.LoopGap

// CheckFile reports whether the file at path can be replayed: it must open,
// start with an FLV header and hold an audio or video tag (the file is read
// up to its first one).
func CheckFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := NewReader(f, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for {
		m, err := r.Read()
		switch {
		case err == io.EOF:
			return fmt.Errorf("%s: %w", path, ErrNoMedia)
		case err != nil:
			return fmt.Errorf("%s: %w", path, err)
		case m.IsAudio() || m.IsVideo():
			return nil
		}
	}
}

// ReplayLoop replays the FLV file at path in real time (see Replay), once,
// or with loop again and again until ctx ends. Every pass is paced on one
// timeline: a pass starts LoopGap after the last message of the previous
// one, so that each takes at least the file's duration (a file of a single
// tag is sent 25 times a second, not as fast as it can be read) and the
// timestamps written keep pace with the clock. A pass that writes no audio
// or video message ends the loop with ErrNoMedia; ctx is checked between
// passes. It returns nil at the end of the file without loop, and
// otherwise the error that stopped it (ctx's, write's, or reading's).
func ReplayLoop(ctx context.Context, path string, loop bool, write func(media.Message) error) error {
	return media.ReplayLoop(ctx, loop, fmt.Errorf("%s: %w", path, ErrNoMedia), func(base uint32, c media.Clock) (uint32, int, error) {
		return replayPath(ctx, path, base, c, write)
	})
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
