package chunkfile

import (
	"bytes"
	"errors"
	"testing"
)

type buffer struct{ b []byte }

func (w *buffer) WriteAt(p []byte, off int64) (int, error) {
	if end := int(off) + len(p); end > len(w.b) {
		w.b = append(w.b, make([]byte, end-len(w.b))...)
	}
	return copy(w.b[off:], p), nil
}

var errQuota = errors.New("quota")

// TestBudget: within the budget everything goes; short of it, the whole
// records that fit go and the rest stays, with the budget's error.
func TestBudget(t *testing.T) {
	var b Buffer
	for _, r := range []string{"aaa", "bbbb", "cc"} {
		b.Append([]byte(r))
	}
	left := int64(8)
	budget := func(n int64) (int64, error) {
		if n > left {
			return left, errQuota
		}
		left -= n
		return n, nil
	}
	w := &buffer{}
	records, n, err := b.WriteAt(w, 0, budget)
	if records != 2 || n != 7 || !errors.Is(err, errQuota) || string(w.b) != "aaabbbb" {
		t.Fatalf("%d records, %d bytes, %v: %q", records, n, err, w.b)
	}
	if b.Records() != 1 || b.Len() != 2 {
		t.Fatalf("left %d records, %d bytes", b.Records(), b.Len())
	}
	left = 100
	b.Append([]byte("d"), []byte("e"))
	if records, n, err := b.WriteAt(w, 7, budget); records != 2 || n != 4 || err != nil || !bytes.Equal(w.b, []byte("aaabbbbccde")) {
		t.Fatalf("%d %d %v %q", records, n, err, w.b)
	}
}
