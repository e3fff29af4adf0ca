package media

import "testing"

func TestClassify(t *testing.T) {
	cases := []struct {
		m             Message
		key, seq, end bool
	}{
		{Message{Type: TypeVideo, Payload: []byte{0x17, 0x00, 0, 0, 0}}, true, true, false},   // AVC key frame, sequence header
		{Message{Type: TypeVideo, Payload: []byte{0x17, 0x01, 0, 0, 0}}, true, false, false},  // AVC key frame NALU
		{Message{Type: TypeVideo, Payload: []byte{0x27, 0x01, 0, 0, 0}}, false, false, false}, // AVC inter frame
		{Message{Type: TypeVideo, Payload: []byte{0x17, 0x02, 0, 0, 0}}, false, false, true},  // AVC end of sequence
		{Message{Type: TypeVideo, Payload: []byte{0x90, 'h', 'v', 'c', '1'}}, true, true, false},
		{Message{Type: TypeVideo, Payload: []byte{0x91, 'h', 'v', 'c', '1'}}, true, false, false}, // enhanced coded key frame
		{Message{Type: TypeVideo, Payload: []byte{0x92, 'h', 'v', 'c', '1'}}, false, false, true}, // enhanced sequence end
		{Message{Type: TypeVideo, Payload: nil}, false, false, false},
		{Message{Type: TypeAudio, Payload: []byte{0xaf, 0x00, 0x12, 0x10}}, true, true, false}, // AAC config
		{Message{Type: TypeAudio, Payload: []byte{0xaf, 0x01, 1, 2}}, true, false, false},
		{Message{Type: TypeAudio, Payload: []byte{0x2f}}, true, false, false}, // MP3
		{Message{Type: TypeDataAMF0, Payload: []byte{2, 0, 1, 'x'}}, true, false, false},
	}
	for i, c := range cases {
		if c.m.IsKeyframe() != c.key || c.m.IsSequenceHeader() != c.seq || c.m.IsEndOfSequence() != c.end {
			t.Errorf("case %d: key %v seq %v end %v", i, c.m.IsKeyframe(), c.m.IsSequenceHeader(), c.m.IsEndOfSequence())
		}
	}
}
