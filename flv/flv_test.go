package flv

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, FlagAudio|FlagVideo)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []media.Message{
		{Type: media.TypeDataAMF0, Timestamp: 0, Payload: []byte{2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}},
		{Type: media.TypeVideo, Timestamp: 0, Payload: []byte{0x17, 0, 0, 0, 0, 1, 2}},
		{Type: media.TypeAudio, Timestamp: 23, Payload: []byte{0xaf, 1, 9}},
		{Type: media.TypeVideo, Timestamp: 0x01020304, Payload: []byte{0x27, 1}},
	}
	for _, m := range msgs {
		if err := w.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	w.Write(media.Message{Type: media.TypeUserControl, Payload: []byte{1}}) // skipped
	r, err := NewReader(bytes.NewReader(buf.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Flags != FlagAudio|FlagVideo {
		t.Fatalf("flags %#x", r.Flags)
	}
	for i, want := range msgs {
		m, err := r.Read()
		if err != nil || m.Type != want.Type || m.Timestamp != want.Timestamp || !bytes.Equal(m.Payload, want.Payload) {
			t.Fatalf("tag %d: %+v %v", i, m, err)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// Every truncation is an error, never a panic.
	full := buf.Bytes()
	for i := 0; i < len(full)-4; i++ {
		r, err := NewReader(bytes.NewReader(full[:i]), 0)
		if err != nil {
			continue
		}
		for {
			if _, err := r.Read(); err != nil {
				break
			}
		}
	}
	if _, err := NewReader(bytes.NewReader([]byte("GIF89a...")), 0); !errors.Is(err, ErrNotFLV) {
		t.Fatalf("not flv: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x17\x00\x00\x00\x0d"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), 1<<16)
		if err != nil {
			return
		}
		for range 1000 {
			if _, err := r.Read(); err != nil {
				return
			}
		}
	})
}
