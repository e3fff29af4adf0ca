package wire

import (
	"bytes"
	"testing"
)

type rc struct {
	typ byte
	val string
}

func readAll(b []byte) ([]rc, []byte, error) {
	var out []rc
	r := NewChunkReader(b)
	for r.Next() {
		out = append(out, rc{r.Type(), string(r.Value())})
	}
	if r.Next() { // stays finished
		out = append(out, rc{0xee, "again"})
	}
	return out, r.Rest(), r.Err()
}

func TestChunkReader(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		chunks []rc
		rest   string
		err    error
	}{
		{"empty", "", nil, "", nil},
		{"one chunk, 0xFF padding", "51 0003 020101 ffffffffff", []rc{{0x51, "\x02\x01\x01"}}, "ffffffffff", nil},
		{"padding of one byte", "4c 0000 ff", []rc{{0x4c, ""}}, "ff", nil},
		{"padding of two bytes", "4c 0000 ffff", []rc{{0x4c, ""}}, "ffff", nil},
		{"0xFF with a length that fits is still padding", "4c 0000 ff 0001 00", []rc{{0x4c, ""}}, "ff000100", nil},
		{"0x00 padding", "4c 0000 00 0000 00", []rc{{0x4c, ""}}, "00000000", nil},
		{"short tail that is not 0xFF", "4c 0000 12 34", []rc{{0x4c, ""}}, "1234", nil},
		{"unknown types are returned", "ec 0001 00 4d 0001 05 cc 0000 4c 0000",
			[]rc{{0xec, "\x00"}, {0x4d, "\x05"}, {0xcc, ""}, {0x4c, ""}}, "", nil},
		{"overrun", "4c 0000 10 0005 0102", []rc{{0x4c, ""}}, "1000050102", ErrChunkOverrun},
		{"overrun of the first chunk", "10 0100 00", nil, "10010000", ErrChunkOverrun},
	}
	for _, tc := range tests {
		chunks, rest, err := readAll(unhex(t, tc.in))
		if len(chunks) != len(tc.chunks) {
			t.Errorf("%s: chunks %q, want %q", tc.name, chunks, tc.chunks)
			continue
		}
		for i := range chunks {
			if chunks[i] != tc.chunks[i] {
				t.Errorf("%s: chunk %d %q, want %q", tc.name, i, chunks[i], tc.chunks[i])
			}
		}
		if !bytes.Equal(rest, unhex(t, tc.rest)) || err != tc.err {
			t.Errorf("%s: rest %x err %v, want %s %v", tc.name, rest, err, tc.rest, tc.err)
		}
	}
}

// The value's capacity is clipped, so appending to it cannot overwrite the
// next chunk.
func TestChunkReaderValueCapacity(t *testing.T) {
	b := unhex(t, "01 0001 aa 41 0001 bb")
	r := NewChunkReader(b)
	r.Next()
	_ = append(r.Value(), 0xcc)
	r.Next()
	if r.Type() != TypePingReply || !bytes.Equal(r.Value(), []byte{0xbb}) {
		t.Errorf("second chunk clobbered: %#x %x", r.Type(), r.Value())
	}
}

func TestAppendChunk(t *testing.T) {
	got := AppendChunk([]byte{9}, 0xec, []byte{0})
	if !bytes.Equal(got, []byte{9, 0xec, 0, 1, 0}) {
		t.Errorf("AppendChunk: %x", got)
	}
}
