package chunk

import (
	"bufio"
	"bytes"
	"testing"
)

// A peer that sends media gets the large read buffer; one that sends a few
// commands keeps the small one.
func TestReaderGrows(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetChunkSize(4096)
	w.WriteMessage(3, Message{Type: 20, Payload: fill(300, 1)})
	w.Flush()
	r := NewReader(&buf, Limits{})
	r.SetChunkSize(4096)
	if _, err := r.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if r.r.Size() != smallReadBuffer {
		t.Fatalf("buffer of %d bytes after a command", r.r.Size())
	}
	for i := 0; i*20000 < 2*growAfter; i++ {
		w.WriteMessage(6, Message{Type: 9, Timestamp: uint32(i), StreamID: 1, Payload: fill(20000, byte(i))})
		w.Flush()
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if r.r.Size() != largeReadBuffer {
		t.Fatalf("buffer of %d bytes after %d bytes of media", r.r.Size(), 2*growAfter)
	}
	// A caller's bufio.Reader is used as it is.
	br := bufio.NewReaderSize(&buf, 100)
	if r := NewReader(br, Limits{}); r.r != br || r.src != nil {
		t.Fatal("the caller's bufio.Reader was not used as it is")
	}
}
