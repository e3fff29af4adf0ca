// Package media holds the message type shared by every path media takes
// through rtmfpd: RTMP chunk streams, RTMFP TC flows (RFC 7425 §5.1), FLV
// tags, the live fan-out and the P2P multicast fragmenter. A message is an
// RTMP-style message: a type, a 32-bit millisecond timestamp and a payload
// (for audio and video, the body of an FLV tag).
package media

// Message types, as numbered by RTMP and reused by RTMFP's TC messages and
// FLV tags.
const (
	TypeSetChunkSize  uint8 = 1
	TypeAbort         uint8 = 2
	TypeAck           uint8 = 3
	TypeUserControl   uint8 = 4
	TypeWindowAckSize uint8 = 5
	TypeSetPeerBW     uint8 = 6
	TypeAudio         uint8 = 8
	TypeVideo         uint8 = 9
	TypeDataAMF3      uint8 = 15
	TypeSharedAMF3    uint8 = 16
	TypeCommandAMF3   uint8 = 17
	TypeDataAMF0      uint8 = 18
	TypeSharedAMF0    uint8 = 19
	TypeCommandAMF0   uint8 = 20
	TypeAggregate     uint8 = 22
)

// Message is one media or data message. Payload is owned by whoever holds
// the message; fan-out shares it read-only between subscribers.
type Message struct {
	Type      uint8
	Timestamp uint32 // milliseconds
	Payload   []byte
	// Encoded, when not nil, holds serialized forms of Payload shared by
	// the consumers of a fan-out (see Encodings). It describes the payload
	// it was made for only: a consumer checks Encodings.For before use, so
	// code that swaps Payload need not clear it.
	Encoded *Encodings
}

// IsAudio, IsVideo and IsData classify the message.
func (m *Message) IsAudio() bool { return m.Type == TypeAudio }

// IsVideo reports a video message.
func (m *Message) IsVideo() bool { return m.Type == TypeVideo }

// IsData reports an AMF data message (metadata, NetStream.send).
func (m *Message) IsData() bool { return m.Type == TypeDataAMF0 || m.Type == TypeDataAMF3 }

// Video frame types and codec IDs of the FLV video tag header.
const (
	frameKey           = 1
	codecAVC           = 7
	codecHEVC          = 12
	exHeaderFlag       = 0x80 // enhanced RTMP: FourCC video header
	exPacketSeqStart   = 0
	exPacketSeqEnd     = 2
	avcEndOfSequence   = 2
	soundFormatAAC     = 10
	aacSequenceHeader  = 0
	avcSequenceHeader  = 0
	exAudioFormatMagic = 9 // enhanced RTMP: FourCC audio header
)

// IsKeyframe reports a video key frame (or, for audio and data, true: any
// of them is a valid point to join a stream). An end of sequence, which
// encoders tag as a key frame, is not one.
func (m *Message) IsKeyframe() bool {
	if m.Type != TypeVideo {
		return true
	}
	if len(m.Payload) == 0 {
		return false
	}
	return (m.Payload[0]>>4)&0x07 == frameKey && !m.IsEndOfSequence()
}

// IsEndOfSequence reports the AVC/HEVC end of sequence (and its
// enhanced-RTMP form), which ends a video stream.
func (m *Message) IsEndOfSequence() bool {
	p := m.Payload
	if m.Type != TypeVideo || len(p) < 2 {
		return false
	}
	if p[0]&exHeaderFlag != 0 {
		return p[0]&0x0f == exPacketSeqEnd
	}
	codec := p[0] & 0x0f
	return (codec == codecAVC || codec == codecHEVC) && p[1] == avcEndOfSequence
}

// IsSequenceHeader reports a decoder configuration message: the AVC/HEVC
// sequence header (decoder configuration record) or the AAC
// AudioSpecificConfig, including their enhanced-RTMP forms. Late joiners need
// these before any frame.
func (m *Message) IsSequenceHeader() bool {
	p := m.Payload
	switch m.Type {
	case TypeVideo:
		if len(p) < 2 {
			return false
		}
		if p[0]&exHeaderFlag != 0 {
			return p[0]&0x0f == exPacketSeqStart
		}
		codec := p[0] & 0x0f
		return (codec == codecAVC || codec == codecHEVC) && p[1] == avcSequenceHeader
	case TypeAudio:
		if len(p) < 2 {
			return false
		}
		if p[0]>>4 == exAudioFormatMagic {
			return p[0]&0x0f == exPacketSeqStart
		}
		return p[0]>>4 == soundFormatAAC && p[1] == aacSequenceHeader
	}
	return false
}
