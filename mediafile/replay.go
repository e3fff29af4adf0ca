package mediafile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/amf/amfmsg"
	"github.com/rtmfpd/rtmfpd/media"
)

// ErrNoMedia is the error of a file with no audio or video: there is
// nothing to play, and looping it would only spin.
var ErrNoMedia = errors.New("mediafile: no audio or video")

// LoopGap is the time between two passes of ReplayLoop (media.LoopGap).
const LoopGap = media.LoopGap

// Replay publishes src from its start as a live publisher would: its
// metadata and codec headers first, then each message when it is due in
// real time from the first one. Timestamps are shifted so that the first
// message is at base (an earlier one counts as the first). It returns the
// largest timestamp written (base when none was), and nil at
// the end of the source; write's error, ctx's or a read error stop it. A
// recording in progress is followed until it ends.
func Replay(ctx context.Context, src media.Source, base uint32, write func(media.Message) error) (uint32, error) {
	last, _, err := replay(ctx, src, base, media.Clock{Start: time.Now(), Origin: base}, write)
	return last, err
}

// replay is Replay on clock c; it also counts the audio and video
// messages written.
func replay(ctx context.Context, src media.Source, base uint32, c media.Clock, write func(media.Message) error) (uint32, int, error) {
	hdrs, err := src.Seek(0)
	if err != nil {
		return base, 0, err
	}
	if meta := src.Metadata(); meta.Len() > 0 {
		if md, err := amfmsg.Data(0, "onMetaData", &amf.ECMAArray{Object: *meta}); err == nil {
			md.Timestamp = base
			if err := write(md); err != nil {
				return base, 0, err
			}
		}
	}
	for _, h := range hdrs {
		h.Timestamp = base
		if err := write(h); err != nil {
			return base, 0, err
		}
	}
	next := func() (media.Message, error) {
		for {
			m, err := src.Next()
			if !errors.Is(err, media.ErrNotYet) {
				return m, err
			}
			select {
			case <-src.Changed():
			case <-ctx.Done():
				return media.Message{}, ctx.Err()
			}
		}
	}
	return media.Replay(ctx, next, base, c, write)
}

// ReplayLoop replays the file at path (of the format its extension says,
// see OpenFile) in real time, once, or with loop again and again until
// ctx ends. Every pass is paced on one timeline: a pass starts LoopGap
// after the last message of the previous one, so that each takes at least
// the file's duration. A pass that writes no audio or video ends the loop
// with ErrNoMedia. It returns nil at the end of the file without loop, and
// otherwise the error that stopped it.
func ReplayLoop(ctx context.Context, path string, loop bool, write func(media.Message) error) error {
	src, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()
	return media.ReplayLoop(ctx, loop, fmt.Errorf("%s: %w", path, ErrNoMedia), func(base uint32, c media.Clock) (uint32, int, error) {
		return replay(ctx, src, base, c, write)
	})
}

// ReplayFile replays the file at path once (see OpenFile and Replay).
func ReplayFile(ctx context.Context, path string, base uint32, write func(media.Message) error) (uint32, error) {
	src, err := OpenFile(path)
	if err != nil {
		return base, err
	}
	defer src.Close()
	return Replay(ctx, src, base, write)
}

// CheckFile reports whether the file at path can be replayed: it must
// open and index in the format its extension says and hold audio or video
// (it is read up to the first).
func CheckFile(path string) error {
	src, err := OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		m, err := src.Next()
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
