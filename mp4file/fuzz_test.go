package mp4file

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
)

// memFile is a File in memory.
type memFile struct{ b []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memFile) Truncate(n int64) error {
	if n < int64(len(m.b)) {
		m.b = m.b[:n]
	} else {
		m.b = append(m.b, make([]byte, n-int64(len(m.b)))...)
	}
	return nil
}

func (m *memFile) Stat() (os.FileInfo, error) { return memInfo{int64(len(m.b))}, nil }

type memInfo struct{ size int64 }

func (i memInfo) Size() int64 { return i.size }
func (memInfo) Name() string  { return "mem" }
func (memInfo) Mode() os.FileMode {
	return 0o644
}
func (memInfo) ModTime() time.Time { return time.Time{} }
func (memInfo) IsDir() bool        { return false }
func (memInfo) Sys() any           { return nil }

// seedMP4 records the first messages of the test file in memory.
func seedMP4(t testing.TB, n int) []byte {
	msgs, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := &memFile{}
	w, err := NewWriter(f, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs[:n] {
		w.Write(m)
	}
	if err := w.Close(false); err != nil {
		t.Fatal(err)
	}
	return f.b
}

// FuzzScan: any bytes either are no MP4 file or index and read (from the
// start and from a seek) without panicking, every sample within the file.
func FuzzScan(f *testing.F) {
	f.Add(seedMP4(f, 40), uint32(0))
	f.Add(seedMP4(f, 8), uint32(300))
	if b, err := os.ReadFile(filepath.Join("testdata", "ffmpeg_head.mp4")); err == nil {
		f.Add(b, uint32(100))
	}
	f.Fuzz(func(t *testing.T, data []byte, ms uint32) {
		x, err := Scan(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, s := range x.samples {
			if s.Offset < 0 || s.Offset+int64(s.Size) > int64(len(data)) {
				t.Fatalf("sample %+v outside %d bytes", s, len(data))
			}
		}
		src := NewSource(bytes.NewReader(data), x, nil)
		for _, at := range []uint32{0, ms} {
			src.Seek(at)
			for range len(x.samples) + 1 {
				if _, err := src.Next(); err != nil {
					break
				}
			}
		}
		x.Metadata()
	})
}

// FuzzWriter: any messages make the writer record what it can and close
// a file that scans (or holds nothing), without panicking.
func FuzzWriter(f *testing.F) {
	msgs, err := flv.ReadFile(testFLV, 0)
	if err != nil {
		f.Fatal(err)
	}
	var seed []byte
	for _, m := range msgs[:20] {
		seed = append(seed, m.Type)
		seed = binary.BigEndian.AppendUint32(seed, m.Timestamp)
		seed = binary.BigEndian.AppendUint16(seed, uint16(len(m.Payload)))
		seed = append(seed, m.Payload...)
	}
	f.Add(seed)
	f.Add([]byte{9, 0, 0, 0, 0, 0, 6, 0x17, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0, 3, 0xaf, 0, 0x12})
	f.Fuzz(func(t *testing.T, data []byte) {
		file := &memFile{}
		w, err := NewWriter(file, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		for len(data) >= 7 {
			n := int(binary.BigEndian.Uint16(data[5:7]))
			if n > len(data)-7 {
				n = len(data) - 7
			}
			m := media.Message{Type: data[0], Timestamp: binary.BigEndian.Uint32(data[1:5]), Payload: data[7 : 7+n]}
			data = data[7+n:]
			if err := w.Write(m); err != nil {
				break
			}
		}
		cerr := w.Close(false)
		if w.Index().Len() > 0 {
			if _, err := Scan(bytes.NewReader(file.b), int64(len(file.b))); err != nil {
				t.Fatalf("the recorded file does not scan: %v (closing: %v)", err, cerr)
			}
		}
	})
}
