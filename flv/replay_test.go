package flv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

func replayFile(t *testing.T, stamps ...uint32) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, FlagVideo)
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

// TestReplay: messages are written when due, relative to the first one,
// with their timestamps moved to base; a backward timestamp counts as the
// first; a cancelled context stops the replay.
func TestReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := replayFile(t, 5000, 5000, 5040, 4000, 6000)
		r, err := NewReader(bytes.NewReader(file), 0)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		type got struct {
			ts uint32
			at time.Duration
		}
		var out []got
		last, err := Replay(context.Background(), r, 100, func(m media.Message) error {
			out = append(out, got{m.Timestamp, time.Since(start)})
			return nil
		})
		want := []got{{100, 0}, {100, 0}, {140, 40 * time.Millisecond}, {100, 40 * time.Millisecond}, {1100, time.Second}}
		if err != nil || last != 1100 || len(out) != len(want) {
			t.Fatalf("Replay = %d, %v; wrote %v", last, err, out)
		}
		for i := range want {
			if out[i] != want[i] {
				t.Fatalf("message %d: %+v, want %+v", i, out[i], want[i])
			}
		}

		r, _ = NewReader(bytes.NewReader(file), 0)
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		last, err = Replay(ctx, r, 0, func(m media.Message) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 3 || last != 40 {
			t.Fatalf("cancelled replay: last %d, %v after %d messages", last, err, n)
		}
		stop := errors.New("stop")
		r, _ = NewReader(bytes.NewReader(file), 0)
		if _, err := Replay(context.Background(), r, 0, func(media.Message) error { return stop }); err != stop {
			t.Fatalf("write error: %v", err)
		}
	})
}

// TestReadFile: a whole file comes back message by message; a message
// limit and a file that is not FLV are errors.
func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.flv")
	if err := os.WriteFile(path, replayFile(t, 0, 40, 80), 0o644); err != nil {
		t.Fatal(err)
	}
	msgs, err := ReadFile(path, 0)
	if err != nil || len(msgs) != 3 || msgs[2].Timestamp != 80 {
		t.Fatalf("%v, %v", msgs, err)
	}
	if _, err := ReadFile(path, 2); err == nil {
		t.Fatal("limit of 2 messages not enforced")
	}
	if msgs, err := ReadFile(path, 3); err != nil || len(msgs) != 3 {
		t.Fatalf("a file of exactly the limit: %d, %v", len(msgs), err)
	}
	os.WriteFile(path, []byte("not an flv file"), 0o644)
	if _, err := ReadFile(path, 0); !errors.Is(err, ErrNotFLV) {
		t.Fatalf("not FLV: %v", err)
	}
}

// TestReplayLoopPacing: looping a file of a single tag sends it once per
// LoopGap (not as fast as the file can be read), every pass is paced on one
// timeline so that a pass takes the file's duration plus LoopGap, and the
// context is honoured between passes.
func TestReplayLoopPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		one := filepath.Join(dir, "one.flv")
		if err := os.WriteFile(one, replayFile(t, 7000), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 990*time.Millisecond)
		defer cancel()
		var stamps []uint32
		err := ReplayLoop(ctx, one, true, func(m media.Message) error {
			stamps = append(stamps, m.Timestamp)
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
		if err := os.WriteFile(two, replayFile(t, 0, 1000, 2000), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ctx, cancel = context.WithCancel(context.Background())
		var at []time.Duration
		err = ReplayLoop(ctx, two, true, func(m media.Message) error {
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
		w, _ := NewWriter(&buf, FlagVideo)
		w.Write(media.Message{Type: media.TypeDataAMF0, Payload: []byte{2, 0, 1, 'x'}})
		empty, data := filepath.Join(dir, "empty.flv"), filepath.Join(dir, "data.flv")
		var h bytes.Buffer
		NewWriter(&h, FlagVideo)
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
		notFLV := filepath.Join(dir, "x.txt")
		os.WriteFile(notFLV, []byte("hello"), 0o644)
		if err := CheckFile(notFLV); !errors.Is(err, ErrNotFLV) {
			t.Errorf("not FLV: %v", err)
		}
		good := filepath.Join(dir, "good.flv")
		os.WriteFile(good, replayFile(t, 0, 40, 80), 0o644)
		if err := CheckFile(good); err != nil {
			t.Errorf("CheckFile(good) = %v", err)
		}
		n := 0
		if err := ReplayLoop(context.Background(), good, false, func(media.Message) error { n++; return nil }); err != nil || n != 3 {
			t.Errorf("ReplayLoop without loop = %v after %d messages, want 3", err, n)
		}
	})
}
