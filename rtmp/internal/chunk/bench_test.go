package chunk

import (
	"bytes"
	"testing"
)

// videoStream returns one second of a 4 Mbit/s, 30 frame/s video stream:
// a 100 kB key frame then 29 frames sharing the rest, with 30 AAC frames.
func videoStream() []Message {
	var msgs []Message
	const bitrate = 4_000_000 / 8
	key := 100_000
	inter := (bitrate - key) / 29
	for i := range 30 {
		n := inter
		if i == 0 {
			n = key
		}
		msgs = append(msgs, Message{CSID: 7, Type: 9, Timestamp: uint32(i * 33), StreamID: 1, Payload: fill(n, byte(i))})
		msgs = append(msgs, Message{CSID: 6, Type: 8, Timestamp: uint32(i * 23), StreamID: 1, Payload: fill(300, byte(i))})
	}
	return msgs
}

// BenchmarkWriteRead chunks one second of a 4 Mbit/s stream with a 4096-byte
// chunk size and reassembles it. Bytes are payload bytes.
func BenchmarkWriteRead(b *testing.B) {
	msgs := videoStream()
	total := 0
	for _, m := range msgs {
		total += len(m.Payload)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.SetChunkSize(4096)
	r := NewReader(&buf, Limits{})
	r.SetChunkSize(4096)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if err := w.WriteMessage(m.CSID, m); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		for range msgs {
			if _, err := r.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
