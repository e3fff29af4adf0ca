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
		{959 * 255, "30" + repeat("10", 253) + "00"},
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
	if _, err := f.Fragment(nil, media.Message{Payload: make([]byte, MaxMessagePayload+1)}); err != ErrMessageTooLarge || f.Last() != last {
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

// TestFragmenterLargeMessages: a message that needs more than 255 pieces
// of 959 bytes is cut into 255 larger pieces (librtmfp's reader takes at
// most 255), up to MaxMessagePayload; each piece round-trips through the
// codec and the reassembler gives the message back.
func TestFragmenterLargeMessages(t *testing.T) {
	for _, size := range []int{959*255 + 1, 310_000, 1 << 20, MaxMessagePayload} {
		f := NewFragmenter(100, 0)
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		frags, err := f.Fragment(nil, media.Message{Type: media.TypeVideo, Timestamp: 9, Payload: payload})
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if len(frags) != MaxWirePieces || frags[0].Count != MaxWirePieces-1 || frags[0].ID != 101 || f.Last() != 100+MaxWirePieces {
			t.Fatalf("%d bytes: %d pieces, first %+v", size, len(frags), frags[0].Count)
		}
		piece := f.PieceSize(size)
		re := NewReassembler(ReassemblerConfig{MaxBytes: 2 * size})
		for i, fr := range frags {
			if i < len(frags)-1 && len(fr.Payload) != piece || len(fr.Payload) > MaxPiecePayload {
				t.Fatalf("%d bytes: piece %d of %d bytes, want %d", size, i, len(fr.Payload), piece)
			}
			dec, err := ParseFragment(fr.Append(nil))
			if err != nil {
				t.Fatal(err)
			}
			re.Add(dec)
		}
		id, m, ok := re.Pop()
		if !ok || id != 101 || m.Timestamp != 9 || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("%d bytes: reassembled %v id %d, %d bytes", size, ok, id, len(m.Payload))
		}
	}
	if got := (&Fragmenter{}).PieceSize(959 * 255); got != 959 {
		t.Errorf("959×255 bytes: pieces of %d", got)
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
