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
