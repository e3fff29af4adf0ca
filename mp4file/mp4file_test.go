package mp4file

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/media"
)

const testFLV = "../testdata/media/test_6s.flv"

// frames lists the audio and video frames of messages (no headers).
func frames(msgs []media.Message) (audio, video []media.Message, hdrs map[uint8][]byte) {
	hdrs = map[uint8][]byte{}
	for _, m := range msgs {
		switch {
		case m.IsSequenceHeader():
			hdrs[m.Type] = m.Payload
		case m.IsAudio():
			audio = append(audio, m)
		case m.IsVideo() && !m.IsEndOfSequence():
			video = append(video, m)
		}
	}
	return
}

func readAll(t *testing.T, s media.Source) []media.Message {
	t.Helper()
	hdrs, err := s.Seek(0)
	if err != nil {
		t.Fatal(err)
	}
	out := hdrs
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

func scanFile(t *testing.T, path string) (*Index, *os.File) {
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

// TestReadFFmpegMP4: an MP4 file ffmpeg made from the FLV test file reads
// back as the same frames with the same codec headers, whether its movie
// box comes last or first (faststart, F4V).
func TestReadFFmpegMP4(t *testing.T) {
	src, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		t.Fatal(err)
	}
	wa, wv, wh := frames(src)
	dir := t.TempDir()
	for _, name := range []string{"plain.mp4", "fast.f4v"} {
		out := filepath.Join(dir, name)
		args := []string{"-i", testFLV, "-c", "copy"}
		if name == "fast.f4v" {
			args = append(args, "-movflags", "faststart", "-f", "mp4")
		}
		testtools.FFmpeg(t, append(args, out)...)
		x, f := scanFile(t, out)
		if d := x.Duration(); math.Abs(float64(d)-6083) > 50 {
			t.Errorf("%s: duration %d ms", name, d)
		}
		ga, gv, gh := frames(readAll(t, NewSource(f, x, nil)))
		if len(ga) != len(wa) || len(gv) != len(wv) {
			t.Fatalf("%s: %d audio %d video frames, want %d and %d", name, len(ga), len(gv), len(wa), len(wv))
		}
		for i := range gv {
			if !bytes.Equal(gv[i].Payload[5:], wv[i].Payload[5:]) || gv[i].IsKeyframe() != wv[i].IsKeyframe() {
				t.Fatalf("%s: video frame %d differs", name, i)
			}
		}
		for i := range ga {
			if !bytes.Equal(ga[i].Payload, wa[i].Payload) {
				t.Fatalf("%s: audio frame %d differs", name, i)
			}
		}
		for typ, h := range wh {
			if !bytes.Equal(gh[typ], h) {
				t.Errorf("%s: header %d is %x, want %x", name, typ, gh[typ], h)
			}
		}
		meta := x.Metadata()
		if meta.Props[0].Key != "duration" {
			t.Errorf("%s: metadata %v", name, meta)
		}
		if ch, _ := meta.GetNumber("audiochannels"); ch != 1 {
			t.Errorf("%s: %v audio channels (the file is mono)", name, ch)
		}
	}
}

// writeAll records messages into a new file.
func writeAll(t *testing.T, path string, msgs []media.Message) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(false); err != nil {
		t.Fatal(err)
	}
}

// TestWriteRoundTrip: an FLV stream recorded as MP4 is what ffprobe finds
// in the FLV (streams, codecs, frames, duration) and reads back frame for
// frame.
func TestWriteRoundTrip(t *testing.T) {
	src, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rec.mp4")
	writeAll(t, out, src)
	testtools.SameStreams(t, out, testFLV)
	x, f := scanFile(t, out)
	wa, wv, _ := frames(src)
	ga, gv, _ := frames(readAll(t, NewSource(f, x, nil)))
	if len(ga) != len(wa) || len(gv) != len(wv) {
		t.Fatalf("%d audio %d video, want %d %d", len(ga), len(gv), len(wa), len(wv))
	}
	for i := range gv {
		if !bytes.Equal(gv[i].Payload, wv[i].Payload) || gv[i].Timestamp != wv[i].Timestamp {
			t.Fatalf("video frame %d: %x at %d, want %x at %d", i, gv[i].Payload[:5], gv[i].Timestamp, wv[i].Payload[:5], wv[i].Timestamp)
		}
	}
	if d, want := testtools.Duration(t, out), testtools.Duration(t, testFLV); math.Abs(d-want) > 0.1 {
		t.Errorf("duration %.3f, want %.3f", d, want)
	}
}

// TestAppend: a file recorded in two halves holds every frame, the second
// half's timestamps after the first's.
func TestAppend(t *testing.T) {
	src, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rec.mp4")
	writeAll(t, out, src)
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := AppendWriter(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !w.HasContent() || w.LastTimestamp() != 6037 {
		t.Fatalf("append: last %d", w.LastTimestamp())
	}
	for _, m := range src {
		m.Timestamp += 6100
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(false); err != nil {
		t.Fatal(err)
	}
	f.Close()
	x, r := scanFile(t, out)
	wa, wv, _ := frames(src)
	ga, gv, _ := frames(readAll(t, NewSource(r, x, nil)))
	if len(ga) != 2*len(wa) || len(gv) != 2*len(wv) {
		t.Fatalf("%d audio %d video, want twice %d %d", len(ga), len(gv), len(wa), len(wv))
	}
	for i := 1; i < len(gv); i++ {
		if gv[i].Timestamp < gv[i-1].Timestamp {
			t.Fatalf("video %d at %d after %d", i, gv[i].Timestamp, gv[i-1].Timestamp)
		}
	}
	ps, pr := testtools.Probe(t, testFLV), testtools.Probe(t, out)
	for _, s := range ps {
		if r, _ := testtools.Find(pr, s.CodecType); r.Frames != 2*s.Frames {
			t.Errorf("ffprobe: %d %s frames, want %d", r.Frames, s.CodecType, 2*s.Frames)
		}
	}
}

// fullFile fails writes past limit bytes with ENOSPC, as a full disk
// does, and notes the size of each write.
type fullFile struct {
	*os.File
	limit  int64
	writes []int
}

func (f *fullFile) WriteAt(p []byte, off int64) (int, error) {
	f.writes = append(f.writes, len(p))
	if room := f.limit - off; int64(len(p)) > room {
		n, _ := f.File.WriteAt(p[:max(room, 0)], off)
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}

// record writes msgs through a Writer on a disk of limit bytes and closes
// it.
func record(t *testing.T, path string, limit int64, msgs []media.Message) (*fullFile, error) {
	t.Helper()
	osf, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer osf.Close()
	f := &fullFile{File: osf, limit: limit}
	w, err := NewWriter(f, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for _, m := range msgs {
		if werr = w.Write(m); werr != nil {
			break
		}
	}
	cerr := w.Close(werr != nil)
	return f, errors.Join(werr, cerr)
}

// TestDiskFull: when the disk fills, the writer reports the file system's
// error and still leaves a playable file: the last samples give their
// room to the movie box.
func TestDiskFull(t *testing.T) {
	src, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := record(t, filepath.Join(dir, "probe.mp4"), 1<<40, src)
	if err != nil || len(f.writes) < 3 {
		t.Fatalf("%v, writes %v", err, f.writes)
	}
	// A disk with room for the first chunk of samples but not for the
	// movie box after it.
	limit := int64(f.writes[0]) + 500
	out := filepath.Join(dir, "full.mp4")
	if _, err := record(t, out, limit, src); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v", err)
	}
	x, r := scanFile(t, out)
	if x.Len() == 0 {
		t.Fatal("nothing kept")
	}
	readAll(t, NewSource(r, x, nil))
	if fi, _ := os.Stat(out); fi.Size() > limit {
		t.Fatalf("file of %d bytes on a disk of %d", fi.Size(), limit)
	}
	if got := testtools.Probe(t, out); len(got) == 0 {
		t.Fatal("ffprobe finds nothing")
	}
}
