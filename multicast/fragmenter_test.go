package multicast

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

func TestFragmenterSizes(t *testing.T) {
	f := NewFragmenter(0, 0)
	for _, c := range []struct {
		size    int
		markers string
	}{
		{1, "20"}, {959, "20"}, {960, "3000"}, {959 * 2, "3000"}, {959*2 + 1, "301000"},
		{959 * 256, "30" + repeat("10", 254) + "00"},
	} {
		first := f.Last() + 1
		m := media.Message{Type: media.TypeVideo, Timestamp: 42, Payload: bytes.Repeat([]byte{7}, c.size)}
		frags, err := f.Fragment(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		var markers []byte
		total := 0
		for i, fr := range frags {
			markers = append(markers, fr.Marker)
			total += len(fr.Payload)
			if fr.ID != first+uint64(i) || len(fr.Payload) > DefaultMaxFragmentPayload {
				t.Errorf("size %d: fragment %d: %+v", c.size, i, fr)
			}
			if fr.Marker != TypeFragmentLast && fr.Marker != TypeFragmentWhole && int(fr.Count) != len(frags)-1-i {
				t.Errorf("size %d: count %d at %d", c.size, fr.Count, i)
			}
		}
		if got := bytesHex(markers); got != c.markers || total != c.size {
			t.Errorf("size %d: markers %s total %d", c.size, got, total)
		}
		if frags[0].MediaType != media.TypeVideo || frags[0].Time != 42 {
			t.Errorf("header %+v", frags[0])
		}
	}
	last := f.Last()
	if _, err := f.Fragment(nil, media.Message{Payload: make([]byte, 959*256+1)}); err != ErrMessageTooLarge || f.Last() != last {
		t.Errorf("too large: %v, last %d → %d", err, last, f.Last())
	}
	if out, err := f.Fragment(nil, media.Message{}); err != nil || len(out) != 0 {
		t.Error("empty message")
	}
	small := &Fragmenter{MaxPayload: 2}
	frags, _ := small.Fragment(nil, media.Message{Type: 8, Payload: []byte("abcde")})
	if len(frags) != 3 || string(frags[2].Payload) != "e" || frags[0].ID != 1 {
		t.Errorf("MaxPayload 2: %+v", frags)
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
