package chunk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to a Reader with small limits. It must
// not panic, must keep within its limits, and every message it returns must
// come back identical through a Writer and a fresh Reader.
func FuzzReader(f *testing.F) {
	for _, v := range vectors() {
		f.Add(v.in)
	}
	f.Add(setChunkSize(0).bytes())
	f.Add(join(setChunkSize(1), chunk{format: 0, csid: 3, length: 3, typ: 9, payload: []byte{1}},
		chunk{format: 3, csid: 3, payload: []byte{2}}, chunk{format: 3, csid: 3, payload: []byte{3}}))
	lim := Limits{MaxMessageSize: 1 << 16, MaxChunkStreams: 8, MaxPartialMessages: 4, MaxReassemblyBytes: 1 << 17}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), lim)
		var msgs []Message
		var err error
		for {
			var m Message
			m, err = r.ReadMessage()
			if err != nil {
				break
			}
			if len(m.Payload) > lim.MaxMessageSize {
				t.Fatalf("message of %d bytes above the limit", len(m.Payload))
			}
			msgs = append(msgs, m)
			if r.Held() > lim.MaxReassemblyBytes {
				t.Fatalf("held %d bytes", r.Held())
			}
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF && !isChunkError(err) {
			t.Fatalf("unexpected error kind: %v", err)
		}

		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, m := range msgs {
			if err := w.WriteMessage(m.CSID, m); err != nil {
				t.Fatal(err)
			}
			if m.Type == typeSetChunkSize {
				w.SetChunkSize(int(binary.BigEndian.Uint32(m.Payload)))
			}
		}
		w.Flush()
		r2 := NewReader(&buf, lim)
		for i, want := range msgs {
			got, err := r2.ReadMessage()
			if err != nil {
				t.Fatalf("re-reading message %d: %v", i, err)
			}
			if !equalMsg(got, want) {
				t.Fatalf("message %d differs after a round trip", i)
			}
		}
		if _, err := r2.ReadMessage(); err != io.EOF {
			t.Fatalf("round trip left %v", err)
		}
	})
}

func isChunkError(err error) bool {
	for _, e := range []error{ErrMessageTooLarge, ErrChunkSize, ErrTooManyChunkStreams, ErrTooManyPartial, ErrReassemblyLimit, ErrProtocol} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
