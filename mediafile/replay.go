package mediafile

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/amf/amfmsg"
	"github.com/rtmfpd/rtmfpd/media"
)

// Replay publishes src from its start as a live publisher would: its
// metadata and codec headers first, then each message when it is due in
// real time from the first one. Timestamps are shifted so that the first
// message is at base (an earlier one counts as the first). It returns the
// timestamp of the last message written (base when none was), and nil at
// the end of the source; write's error, ctx's or a read error stop it.
// Calling Replay again with base just after the returned timestamp loops a
// file. A recording in progress is followed until it ends.
func Replay(ctx context.Context, src media.Source, base uint32, write func(media.Message) error) (uint32, error) {
	hdrs, err := src.Seek(0)
	if err != nil {
		return base, err
	}
	if meta := src.Metadata(); meta.Len() > 0 {
		if md, err := amfmsg.Data(0, "onMetaData", &amf.ECMAArray{Object: *meta}); err == nil {
			md.Timestamp = base
			if err := write(md); err != nil {
				return base, err
			}
		}
	}
	for _, h := range hdrs {
		h.Timestamp = base
		if err := write(h); err != nil {
			return base, err
		}
	}
	start := time.Now()
	first, started := uint32(0), false
	last := base
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		m, err := src.Next()
		switch {
		case err == io.EOF:
			return last, nil
		case errors.Is(err, media.ErrNotYet):
			select {
			case <-src.Changed():
				continue
			case <-ctx.Done():
				return last, ctx.Err()
			}
		case err != nil:
			return last, err
		}
		if !started {
			first, started = m.Timestamp, true
		}
		rel := uint32(0)
		if m.Timestamp > first {
			rel = m.Timestamp - first
		}
		if d := time.Duration(rel)*time.Millisecond - time.Since(start); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return last, ctx.Err()
			}
		}
		if err := ctx.Err(); err != nil {
			return last, err
		}
		m.Timestamp = base + rel
		if err := write(m); err != nil {
			return last, err
		}
		last = m.Timestamp
	}
}

// ReplayFile replays the file at path, of the format its extension says
// (see OpenFile and Replay).
func ReplayFile(ctx context.Context, path string, base uint32, write func(media.Message) error) (uint32, error) {
	src, err := OpenFile(path)
	if err != nil {
		return base, err
	}
	defer src.Close()
	return Replay(ctx, src, base, write)
}
