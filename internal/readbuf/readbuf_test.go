package readbuf

import (
	"bytes"
	"io"
	"testing"
)

// counting counts the reads reaching the file.
type counting struct {
	r     io.ReaderAt
	reads int
}

func (c *counting) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

func TestWindow(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i)
	}
	f := &counting{r: bytes.NewReader(data)}
	r := New(f, 1000)
	got := make([]byte, 100)
	for off := int64(0); off < 900; off += 100 {
		if err := r.ReadAt(got, off); err != nil || !bytes.Equal(got, data[off:off+100]) {
			t.Fatalf("at %d: %v", off, err)
		}
	}
	if f.reads != 1 {
		t.Fatalf("%d reads for one window", f.reads)
	}
	big := make([]byte, 600) // more than half a window: read directly
	if err := r.ReadAt(big, 2000); err != nil || !bytes.Equal(big, data[2000:2600]) || f.reads != 2 {
		t.Fatalf("big read: %v, %d reads", err, f.reads)
	}
	if err := r.ReadAt(got, 9950); err != io.ErrUnexpectedEOF {
		t.Fatalf("across the end: %v", err)
	}
	if err := r.ReadAt(got, 10000); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	c := NewCloser(func() error { f.reads = -1; return nil })
	c.Close()
	f.reads = 0
	c.Close()
	if f.reads != 0 {
		t.Fatal("closed twice")
	}
}
