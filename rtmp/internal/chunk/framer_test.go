package chunk

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// frame returns the bytes of msgs framed by one Framer with chunk size cs,
// each message with its shared body when withBody is set.
func frame(t *testing.T, cs int, msgs []Message, withBody bool) []byte {
	t.Helper()
	f := NewFramer()
	if err := f.SetChunkSize(cs); err != nil {
		t.Fatal(err)
	}
	var b Batch
	for _, m := range msgs {
		var body []byte
		if withBody && len(m.Payload) > cs {
			body = Body(Key(cs, m.CSID), m.Payload)
		}
		if err := f.Append(&b, m.CSID, m, body); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if _, err := b.Bufs.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != b.Len() {
		t.Fatalf("batch of %d bytes wrote %d", b.Len(), out.Len())
	}
	return out.Bytes()
}

// A message framed with the shared body of its chunk size is byte for
// byte the message cut chunk by chunk, whatever the chunk stream (one- to
// three-byte basic headers) and timestamps (the body is not used with an
// extended timestamp, whose continuation headers repeat it).
func TestBodySameBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, cs := range []int{1, 128, 4096} {
		for _, csid := range []uint32{2, 63, 64, 319, 320, 65599} {
			var msgs []Message
			ts := uint32(0)
			for i := range 40 {
				if rng.IntN(8) == 0 {
					ts += 0xFFFFFF // an extended timestamp now and then
				} else {
					ts += 40
				}
				n := []int{0, cs - 1, cs, cs + 1, 3*cs + 5, 10000}[rng.IntN(6)]
				msgs = append(msgs, Message{CSID: csid, Type: 9, Timestamp: ts, StreamID: 1, Payload: fill(max(n, 0), byte(i))})
			}
			plain, shared := frame(t, cs, msgs, false), frame(t, cs, msgs, true)
			if !bytes.Equal(plain, shared) {
				t.Fatalf("chunk size %d, csid %d: framing with the shared body differs", cs, csid)
			}
			r := NewReader(bytes.NewReader(shared), Limits{})
			r.SetChunkSize(cs)
			for i, want := range msgs {
				got, err := r.ReadMessage()
				if err != nil || !equalMsg(got, want) {
					t.Fatalf("chunk size %d, csid %d: message %d: %v", cs, csid, i, err)
				}
			}
		}
	}
}

// The batch refers to payloads, never copies them: one piece per chunk
// without a body, two pieces (header, body) with one.
func TestBatchPieces(t *testing.T) {
	payload := fill(1000, 1)
	m := Message{Type: 9, StreamID: 1, Payload: payload}
	f := NewFramer()
	var b Batch
	if err := f.Append(&b, 6, m, nil); err != nil {
		t.Fatal(err)
	}
	if want := 2 * 8; len(b.Bufs) != want { // 8 chunks of 128 bytes, each after a header
		t.Fatalf("%d pieces, want %d", len(b.Bufs), want)
	}
	if &b.Bufs[1][0] != &payload[0] {
		t.Error("the payload was copied")
	}
	b.Reset()
	if err := f.Append(&b, 6, m, Body(Key(128, 6), payload)); err != nil {
		t.Fatal(err)
	}
	if len(b.Bufs) != 2 {
		t.Fatalf("%d pieces with a body, want 2", len(b.Bufs))
	}
	b.Reset()
	if b.Len() != 0 || len(b.Bufs) != 0 {
		t.Fatal("Reset left pieces")
	}
}

// Forget makes the next message of a chunk stream start with a type 0
// header, for the streams kept in the Framer's array and in its map alike.
func TestFramerForget(t *testing.T) {
	f := NewFramer()
	var b Batch
	for _, csid := range []uint32{5, 300} {
		m := Message{Type: 8, Timestamp: 20, StreamID: 1, Payload: []byte{1, 2}}
		for range 2 {
			if err := f.Append(&b, csid, m, nil); err != nil {
				t.Fatal(err)
			}
			m.Timestamp += 20
		}
		f.Forget(csid)
		if err := f.Append(&b, csid, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if f.formats[0] != 4 || f.formats[2] != 2 {
		t.Fatalf("header formats %v, want 4 of type 0 and 2 of type 2", f.formats)
	}
}
