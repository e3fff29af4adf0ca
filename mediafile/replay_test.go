package mediafile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/flv"
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

// flvFile is an FLV file of one video tag at each of stamps.
func flvFile(t *testing.T, stamps ...uint32) []byte {
	var buf bytes.Buffer
	w, err := flv.NewWriter(&buf, flv.FlagVideo)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range stamps {
		if err := w.Write(media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: []byte{0x17, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestReplayLoopPacing: looping a file of a single tag sends it once per
// LoopGap (not as fast as the file can be read), every pass is paced on one
// timeline so that a pass takes the file's duration plus LoopGap, and the
// context is honoured between passes.
func TestReplayLoopPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		one := filepath.Join(dir, "one.flv")
		if err := os.WriteFile(one, flvFile(t, 7000), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 990*time.Millisecond)
		defer cancel()
		var stamps []uint32
		err := ReplayLoop(ctx, one, true, func(m media.Message) error {
			if m.IsVideo() { // each pass also starts with the file's metadata
				stamps = append(stamps, m.Timestamp)
			}
			return nil
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ReplayLoop = %v", err)
		}
		// Passes at 0, 40, ..., 960 ms: 25 in (almost) one second.
		if len(stamps) != 25 {
			t.Fatalf("%d messages of a one-tag file in one second, want 25: %v", len(stamps), stamps)
		}
		for i, ts := range stamps {
			if ts != uint32(i*40) {
				t.Fatalf("message %d at %d ms, want %d", i, ts, i*40)
			}
		}

		// A 2-second file: each pass starts 2.04 s after the previous one.
		two := filepath.Join(dir, "two.flv")
		if err := os.WriteFile(two, flvFile(t, 0, 1000, 2000), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel = context.WithCancel(context.Background())
		var at []time.Duration
		err = ReplayLoop(ctx, two, true, func(m media.Message) error {
			if !m.IsVideo() {
				return nil
			}
			at = append(at, time.Since(start))
			if len(at) == 4 {
				cancel() // noticed between passes at the latest
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || len(at) != 4 || at[3] != 2040*time.Millisecond {
			t.Fatalf("ReplayLoop = %v after %v", err, at)
		}
	})
}

// TestReplayLoopNoMedia: a file with no audio or video tag is refused by
// CheckFile and ends ReplayLoop with ErrNoMedia at once, loop or not, instead
// of spinning; without loop a file is replayed once.
func TestReplayLoopNoMedia(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		var buf bytes.Buffer
		w, _ := flv.NewWriter(&buf, flv.FlagVideo)
		w.Write(media.Message{Type: media.TypeDataAMF0, Payload: []byte{2, 0, 1, 'x'}})
		empty, data := filepath.Join(dir, "empty.flv"), filepath.Join(dir, "data.flv")
		var h bytes.Buffer
		flv.NewWriter(&h, flv.FlagVideo)
		os.WriteFile(empty, h.Bytes(), 0o644)
		os.WriteFile(data, buf.Bytes(), 0o644)
		for _, p := range []string{empty, data} {
			if err := CheckFile(p); !errors.Is(err, ErrNoMedia) {
				t.Errorf("CheckFile(%s) = %v, want ErrNoMedia", filepath.Base(p), err)
			}
			n := 0
			err := ReplayLoop(context.Background(), p, true, func(media.Message) error { n++; return nil })
			if !errors.Is(err, ErrNoMedia) || n > 1 {
				t.Errorf("ReplayLoop(%s) = %v after %d messages, want ErrNoMedia", filepath.Base(p), err, n)
			}
		}
		if err := CheckFile(filepath.Join(dir, "missing.flv")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing file: %v", err)
		}
		notFLV := filepath.Join(dir, "x.flv")
		os.WriteFile(notFLV, []byte("hello"), 0o644)
		if err := CheckFile(notFLV); !errors.Is(err, flv.ErrNotFLV) {
			t.Errorf("not FLV: %v", err)
		}
		good := filepath.Join(dir, "good.flv")
		os.WriteFile(good, flvFile(t, 0, 40, 80), 0o644)
		if err := CheckFile(good); err != nil {
			t.Errorf("CheckFile(good) = %v", err)
		}
		n := 0
		count := func(m media.Message) error {
			if m.IsVideo() {
				n++
			}
			return nil
		}
		if err := ReplayLoop(context.Background(), good, false, count); err != nil || n != 3 {
			t.Errorf("ReplayLoop without loop = %v after %d frames, want 3", err, n)
		}
	})
}
