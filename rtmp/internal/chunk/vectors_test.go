package chunk

import (
	"bytes"
	"encoding/binary"
)

// chunk builds one chunk by hand: basic header, message header fields as
// the format requires, extended timestamp when ext is set, then payload.
type chunk struct {
	format   uint8
	csid     uint32
	ts       uint32 // timestamp field (3 bytes), or the extended value when ext
	length   uint32
	typ      uint8
	streamID uint32
	ext      bool // write 0xFFFFFF and a 4-byte extended timestamp
	payload  []byte
}

func (c chunk) bytes() []byte {
	var b []byte
	f := c.format << 6
	switch {
	case c.csid < 64:
		b = append(b, f|byte(c.csid))
	case c.csid < 320:
		b = append(b, f, byte(c.csid-64))
	default:
		b = append(b, f|1, byte(c.csid-64), byte((c.csid-64)>>8))
	}
	field := c.ts
	if c.ext {
		field = 0xFFFFFF
	}
	if c.format < 3 {
		b = append(b, byte(field>>16), byte(field>>8), byte(field))
	}
	if c.format < 2 {
		b = append(b, byte(c.length>>16), byte(c.length>>8), byte(c.length), c.typ)
	}
	if c.format == 0 {
		b = binary.LittleEndian.AppendUint32(b, c.streamID)
	}
	if c.ext {
		b = binary.BigEndian.AppendUint32(b, c.ts)
	}
	return append(b, c.payload...)
}

func join(cs ...chunk) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, c.bytes()...)
	}
	return b
}

func fill(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

// vector is a chunk byte sequence with the messages it carries.
type vector struct {
	name      string
	chunkSize int // the reader's chunk size before the input (0: default)
	in        []byte
	want      []Message
}

// vectors are known answers. The first two are the examples of the RTMP
// specification §5.3.2.1 and §5.3.2.2; the writer must produce exactly
// their bytes.
func vectors() []vector {
	audio := fill(32, 1)
	video := fill(307, 2)
	big := fill(200, 3)
	return []vector{
		{
			name: "spec 5.3.2.1 audio messages",
			in: join(
				chunk{format: 0, csid: 3, ts: 1000, length: 32, typ: 8, streamID: 12345, payload: audio},
				chunk{format: 2, csid: 3, ts: 20, payload: audio},
				chunk{format: 3, csid: 3, payload: audio},
				chunk{format: 3, csid: 3, payload: audio},
			),
			want: []Message{
				{CSID: 3, Type: 8, Timestamp: 1000, StreamID: 12345, Payload: audio},
				{CSID: 3, Type: 8, Timestamp: 1020, StreamID: 12345, Payload: audio},
				{CSID: 3, Type: 8, Timestamp: 1040, StreamID: 12345, Payload: audio},
				{CSID: 3, Type: 8, Timestamp: 1060, StreamID: 12345, Payload: audio},
			},
		},
		{
			name: "spec 5.3.2.2 one message in three chunks",
			in: join(
				chunk{format: 0, csid: 4, ts: 1000, length: 307, typ: 9, streamID: 12346, payload: video[:128]},
				chunk{format: 3, csid: 4, payload: video[128:256]},
				chunk{format: 3, csid: 4, payload: video[256:]},
			),
			want: []Message{{CSID: 4, Type: 9, Timestamp: 1000, StreamID: 12346, Payload: video}},
		},
		{
			name: "extended timestamp repeated in type 3 continuation",
			in: join(
				chunk{format: 0, csid: 6, ts: 0x01000000, ext: true, length: 200, typ: 9, streamID: 1, payload: big[:128]},
				chunk{format: 3, csid: 6, ts: 0x01000000, ext: true, payload: big[128:]},
			),
			want: []Message{{CSID: 6, Type: 9, Timestamp: 0x01000000, StreamID: 1, Payload: big}},
		},
		{
			name: "extended delta and type 3 new message carrying it",
			in: join(
				chunk{format: 0, csid: 5, ts: 10, length: 4, typ: 8, streamID: 1, payload: audio[:4]},
				chunk{format: 2, csid: 5, ts: 0x01000000, ext: true, payload: audio[:4]},
				chunk{format: 3, csid: 5, ts: 0x01000000, ext: true, payload: audio[:4]},
			),
			want: []Message{
				{CSID: 5, Type: 8, Timestamp: 10, StreamID: 1, Payload: audio[:4]},
				{CSID: 5, Type: 8, Timestamp: 0x0100000a, StreamID: 1, Payload: audio[:4]},
				{CSID: 5, Type: 8, Timestamp: 0x0200000a, StreamID: 1, Payload: audio[:4]},
			},
		},
		{
			name: "type 3 after type 0 repeats the type 0 timestamp as delta",
			in: join(
				chunk{format: 0, csid: 3, ts: 40, length: 2, typ: 20, payload: audio[:2]},
				chunk{format: 3, csid: 3, payload: audio[:2]},
			),
			want: []Message{
				{CSID: 3, Type: 20, Timestamp: 40, Payload: audio[:2]},
				{CSID: 3, Type: 20, Timestamp: 80, Payload: audio[:2]},
			},
		},
		{
			name: "type 1 header changes length and type",
			in: join(
				chunk{format: 0, csid: 7, ts: 5, length: 3, typ: 9, streamID: 9, payload: video[:3]},
				chunk{format: 1, csid: 7, ts: 33, length: 5, typ: 8, payload: video[:5]},
			),
			want: []Message{
				{CSID: 7, Type: 9, Timestamp: 5, StreamID: 9, Payload: video[:3]},
				{CSID: 7, Type: 8, Timestamp: 38, StreamID: 9, Payload: video[:5]},
			},
		},
		{
			name: "interleaved chunk streams with 2- and 3-byte IDs",
			in: join(
				chunk{format: 0, csid: 64, ts: 1, length: 200, typ: 9, streamID: 1, payload: big[:128]},
				chunk{format: 0, csid: 65599, ts: 2, length: 150, typ: 8, streamID: 1, payload: video[:128]},
				chunk{format: 0, csid: 319, ts: 3, length: 1, typ: 18, streamID: 1, payload: video[:1]},
				chunk{format: 3, csid: 65599, payload: video[128:150]},
				chunk{format: 3, csid: 64, payload: big[128:]},
			),
			want: []Message{
				{CSID: 319, Type: 18, Timestamp: 3, StreamID: 1, Payload: video[:1]},
				{CSID: 65599, Type: 8, Timestamp: 2, StreamID: 1, Payload: video[:150]},
				{CSID: 64, Type: 9, Timestamp: 1, StreamID: 1, Payload: big},
			},
		},
		{
			name: "set chunk size applies to the next chunk",
			in: join(
				chunk{format: 0, csid: 2, length: 4, typ: 1, payload: []byte{0, 0, 1, 0}},
				chunk{format: 0, csid: 4, ts: 0, length: 300, typ: 9, streamID: 1, payload: video[:256]},
				chunk{format: 3, csid: 4, payload: video[256:300]},
			),
			want: []Message{
				{CSID: 2, Type: 1, Payload: []byte{0, 0, 1, 0}},
				{CSID: 4, Type: 9, StreamID: 1, Payload: video[:300]},
			},
		},
		{
			name: "abort discards an incomplete message",
			in: join(
				chunk{format: 0, csid: 4, ts: 0, length: 300, typ: 9, streamID: 1, payload: video[:128]},
				chunk{format: 0, csid: 2, length: 4, typ: 2, payload: []byte{0, 0, 0, 4}},
				chunk{format: 1, csid: 4, ts: 7, length: 3, typ: 9, payload: video[:3]},
			),
			want: []Message{
				{CSID: 2, Type: 2, Payload: []byte{0, 0, 0, 4}},
				{CSID: 4, Type: 9, Timestamp: 7, StreamID: 1, Payload: video[:3]},
			},
		},
		{
			name:      "chunk size 1 and a zero-length message",
			chunkSize: 1,
			in: join(
				chunk{format: 0, csid: 3, ts: 9, length: 0, typ: 20},
				chunk{format: 1, csid: 3, ts: 1, length: 3, typ: 20, payload: video[:1]},
				chunk{format: 3, csid: 3, payload: video[1:2]},
				chunk{format: 3, csid: 3, payload: video[2:3]},
			),
			want: []Message{
				{CSID: 3, Type: 20, Timestamp: 9},
				{CSID: 3, Type: 20, Timestamp: 10, Payload: video[:3]},
			},
		},
		{
			name: "type 1 header on a new chunk stream (librtmp control messages)",
			in:   join(chunk{format: 1, csid: 2, ts: 0, length: 6, typ: 4, payload: []byte{0, 6, 0, 0, 0, 1}}),
			want: []Message{{CSID: 2, Type: 4, Payload: []byte{0, 6, 0, 0, 0, 1}}},
		},
	}
}

// specBytes are the vectors the Writer must reproduce byte for byte.
var specBytes = map[string]bool{
	"spec 5.3.2.1 audio messages":                               true,
	"spec 5.3.2.2 one message in three chunks":                  true,
	"extended timestamp repeated in type 3 continuation":        true,
	"extended delta and type 3 new message carrying it":         true,
	"interleaved chunk streams with 2- and 3-byte IDs":          false,
	"type 1 header changes length and type":                     true,
	"type 3 after type 0 repeats the type 0 timestamp as delta": false,
}

func equalMsg(a, b Message) bool {
	return a.CSID == b.CSID && a.Type == b.Type && a.Timestamp == b.Timestamp &&
		a.StreamID == b.StreamID && bytes.Equal(a.Payload, b.Payload)
}
