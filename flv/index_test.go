package flv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

const testFile = "../testdata/media/test_6s.flv"

// readSource reads a source from ms to its end.
func readSource(t testing.TB, s media.Source, ms uint32) ([]media.Message, error) {
	hdrs, err := s.Seek(ms)
	if err != nil {
		return nil, err
	}
	out := hdrs
	for len(out) < 1<<20 {
		m, err := s.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	t.Fatal("endless source")
	return nil, nil
}

// TestIndexAndSource: the index of the test file finds its key frames,
// codec headers and metadata, and a source reads every tag but the
// metadata in order; seeking starts at the key frame before the time with
// the codec headers first.
func TestIndexAndSource(t *testing.T) {
	b, err := os.ReadFile(testFile)
	if err != nil {
		t.Fatal(err)
	}
	all, err := ReadFile(testFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ScanIndex(bytes.NewReader(b), int64(len(b)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if x.Size() != int64(len(b)) || x.Duration() != 6037 || x.Metadata() == nil || x.Flags() != FlagAudio|FlagVideo {
		t.Fatalf("size %d/%d duration %d meta %v flags %x", x.Size(), len(b), x.Duration(), x.Metadata(), x.Flags())
	}
	keys := x.KeyPoints()
	if len(keys) != 6 || keys[1].TS != 1046 {
		t.Fatalf("key points %v", keys)
	}
	s := NewSource(bytes.NewReader(b), x, 0, nil)
	got, err := readSource(t, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all)-1 {
		t.Fatalf("%d messages, file has %d with its metadata", len(got), len(all))
	}
	for i := range got {
		if !bytes.Equal(got[i].Payload, all[i+1].Payload) || got[i].Timestamp != all[i+1].Timestamp {
			t.Fatalf("message %d differs", i)
		}
	}
	got, err = readSource(t, s, 2500)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 3 || !got[0].IsSequenceHeader() || !got[1].IsSequenceHeader() || got[2].Timestamp != 2046 || !got[2].IsKeyframe() {
		t.Fatalf("after seeking to 2.5 s: %+v %+v %+v", got[0], got[1], got[2])
	}
	// Cut anywhere, the file is indexed up to its last whole tag.
	for _, n := range []int{len(b) - 1, len(b) / 2, 100, 13} {
		y, err := ScanIndex(bytes.NewReader(b[:n]), int64(n), 0)
		if err != nil {
			t.Fatalf("cut at %d: %v", n, err)
		}
		msgs, err := readSource(t, NewSource(bytes.NewReader(b[:n]), y, 0, nil), 0)
		if err != nil || y.Size() > int64(n) {
			t.Fatalf("cut at %d: %d messages, %v", n, len(msgs), err)
		}
	}
	if _, err := ScanIndex(bytes.NewReader(b[:5]), 5, 0); !errors.Is(err, ErrNotFLV) {
		t.Fatalf("5 bytes: %v", err)
	}
}

// FuzzIndex: any bytes either are no FLV file or index and read (from the
// start and from a seek) without panicking, every message within the
// file, and the index never past the end.
func FuzzIndex(f *testing.F) {
	b, err := os.ReadFile(testFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4096], uint32(0))
	f.Add(b[:300], uint32(500))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x17\x00\x00\x00\x00"), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, ms uint32) {
		x, err := ScanIndex(bytes.NewReader(data), int64(len(data)), 0)
		if err != nil {
			return
		}
		if x.Size() > int64(len(data)) {
			t.Fatalf("index size %d of %d bytes", x.Size(), len(data))
		}
		s := NewSource(bytes.NewReader(data), x, 0, nil)
		var total int
		for _, at := range []uint32{0, ms} {
			msgs, _ := readSource(t, s, at)
			for _, m := range msgs {
				total += len(m.Payload)
			}
		}
		if total > 2*len(data)+2*maxHeaders*MaxTagSize {
			t.Fatalf("read %d bytes from %d", total, len(data))
		}
		x.Metadata()
	})
}
