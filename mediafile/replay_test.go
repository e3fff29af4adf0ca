package mediafile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// TestReplayLoop: a looped file is replayed on one timeline (each pass
// right after the previous, in real time), metadata and codec headers
// first; a file with no audio or video is refused.
func TestReplayLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		began := time.Now()
		var last uint32
		var frames, passes int
		err := ReplayLoop(ctx, testFLV, true, func(m media.Message) error {
			if vs := m.Payload; m.IsData() && len(vs) > 13 && string(vs[3:13]) == "onMetaData" {
				if passes > 0 && m.Timestamp <= last {
					t.Fatalf("pass %d starts at %d, before the last frame at %d", passes+1, m.Timestamp, last)
				}
				passes++
				if passes == 3 {
					cancel()
				}
			}
			if m.IsAudio() || m.IsVideo() {
				frames++
				if due := began.Add(time.Duration(m.Timestamp) * time.Millisecond); time.Now().Before(due) {
					t.Fatalf("frame at %d sent %v early", m.Timestamp, time.Until(due))
				}
				last = max(last, m.Timestamp)
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || passes != 3 || last < 2*6037 {
			t.Fatalf("%v after %d passes, %d frames, last at %d", err, passes, frames, last)
		}
	})
	empty := filepath.Join(t.TempDir(), "empty.flv")
	os.WriteFile(empty, []byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), 0o644)
	if err := CheckFile(empty); !errors.Is(err, ErrNoMedia) {
		t.Fatalf("empty file: %v", err)
	}
	if err := CheckFile(testFLV); err != nil {
		t.Fatal(err)
	}
}
