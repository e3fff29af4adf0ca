package media

import "testing"

func TestClassify(t *testing.T) {
	cases := []struct {
		m        Message
		key, seq bool
	}{
		{Message{Type: TypeVideo, Payload: []byte{0x17, 0x00, 0, 0, 0}}, true, true},   // AVC key frame, sequence header
		{Message{Type: TypeVideo, Payload: []byte{0x17, 0x01, 0, 0, 0}}, true, false},  // AVC key frame NALU
		{Message{Type: TypeVideo, Payload: []byte{0x27, 0x01, 0, 0, 0}}, false, false}, // AVC inter frame
		{Message{Type: TypeVideo, Payload: []byte{0x90, 'h', 'v', 'c', '1'}}, true, true},
		{Message{Type: TypeVideo, Payload: nil}, false, false},
		{Message{Type: TypeAudio, Payload: []byte{0xaf, 0x00, 0x12, 0x10}}, true, true}, // AAC config
		{Message{Type: TypeAudio, Payload: []byte{0xaf, 0x01, 1, 2}}, true, false},
		{Message{Type: TypeAudio, Payload: []byte{0x2f}}, true, false}, // MP3
		{Message{Type: TypeDataAMF0, Payload: []byte{2, 0, 1, 'x'}}, true, false},
	}
	for i, c := range cases {
		if c.m.IsKeyframe() != c.key || c.m.IsSequenceHeader() != c.seq {
			t.Errorf("case %d: key %v seq %v", i, c.m.IsKeyframe(), c.m.IsSequenceHeader())
		}
	}
}
