package mp3file

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
)

// makeMP3 has ffmpeg encode seconds of a tone as MP3 (with an ID3v2 tag).
func makeMP3(t *testing.T, seconds string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tone.mp3")
	testtools.FFmpeg(t, "-f", "lavfi", "-i", "sine=duration="+seconds, "-c:a", "libmp3lame", "-b:a", "64k",
		"-metadata", "title=Tone", out)
	return out
}

func open(t *testing.T, path string) (*Index, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	x, err := Scan(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	return x, f
}

func readAll(t *testing.T, s *Source) []media.Message {
	t.Helper()
	var out []media.Message
	for {
		m, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// TestReadMP3: every frame ffprobe counts is read, as MP3 audio tags at
// the right times; seeking lands on a frame at or before the time.
func TestReadMP3(t *testing.T) {
	path := makeMP3(t, "3")
	x, f := open(t, path)
	want := testtools.Frames(testtools.Probe(t, path), "audio")
	if d := testtools.Duration(t, path); math.Abs(float64(x.Duration())/1000-d) > 0.05 {
		t.Errorf("duration %d ms, ffprobe %.3f s", x.Duration(), d)
	}
	s := NewSource(f, x, nil)
	msgs := readAll(t, s)
	if len(msgs) != want {
		t.Fatalf("%d frames, ffprobe counts %d", len(msgs), want)
	}
	for i, m := range msgs {
		if m.Type != media.TypeAudio || m.Payload[0] != 0x2e || m.Payload[1] != 0xff {
			t.Fatalf("frame %d: %x", i, m.Payload[:2])
		}
		if want := uint32(i * 1152 * 1000 / 44100); m.Timestamp != want && m.Timestamp+1 != want {
			t.Fatalf("frame %d at %d ms, want %d", i, m.Timestamp, want)
		}
	}
	if _, err := s.Seek(2000); err != nil {
		t.Fatal(err)
	}
	m, err := s.Next()
	if err != nil || m.Timestamp > 2000 || m.Timestamp < 1400 || !bytes.Equal(m.Payload, msgs[len(msgs)-len(readAll(t, s))-1].Payload) {
		t.Fatalf("after seeking to 2 s: %d %v", m.Timestamp, err)
	}
	if meta := s.Metadata(); meta.Props[0].Key != "duration" {
		t.Fatalf("metadata %v", meta)
	}
}

// TestNotMP3: files without MPEG audio frames are refused; garbage
// between frames is skipped.
func TestNotMP3(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("ID3\x04\x00\x00\x00\x00\x00\x10 not audio at all"), bytes.Repeat([]byte{0xff}, 5000)} {
		if _, err := Scan(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Errorf("%q indexed", b[:min(len(b), 16)])
		}
	}
	path := makeMP3(t, "1")
	good, _ := os.ReadFile(path)
	x, _ := Scan(bytes.NewReader(good), int64(len(good)))
	n := len(readAll(t, NewSource(bytes.NewReader(good), x, nil)))
	// 1000 bytes of garbage in the middle of a frame's data: that frame
	// and perhaps its neighbour are lost, the rest is found again.
	mid := len(good) / 2
	bad := append(append(append([]byte(nil), good[:mid]...), bytes.Repeat([]byte{0x55}, 1000)...), good[mid:]...)
	y, err := Scan(bytes.NewReader(bad), int64(len(bad)))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(readAll(t, NewSource(bytes.NewReader(bad), y, nil))); got < n-3 || got > n+1 {
		t.Fatalf("%d frames read past garbage, %d in the file", got, n)
	}
}

// FuzzScan: any bytes either are no MP3 file or index and read (from the
// start and from a seek) without panicking, frames within the file.
func FuzzScan(f *testing.F) {
	f.Add([]byte("ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64"+string(make([]byte, 500))), uint32(0))
	f.Add(append(bytes.Repeat([]byte{0xff, 0xf3, 0x14, 0xc4, 0, 0, 0, 0}, 40), "TAG"...), uint32(100))
	f.Fuzz(func(t *testing.T, data []byte, ms uint32) {
		x, err := Scan(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		s := NewSource(bytes.NewReader(data), x, nil)
		total := 0
		for _, at := range []uint32{0, ms} {
			s.Seek(at)
			for {
				m, err := s.Next()
				if err != nil {
					break
				}
				if total += len(m.Payload) - 1; total > 2*len(data) {
					t.Fatalf("read %d bytes of frames from %d", total, len(data))
				}
			}
		}
	})
}
