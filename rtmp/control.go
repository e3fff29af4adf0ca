package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/rtmfpd/rtmfpd/media"
)

// Limit types of Set Peer Bandwidth (§5.4.5).
const (
	LimitHard    uint8 = 0
	LimitSoft    uint8 = 1
	LimitDynamic uint8 = 2
)

// User Control event types (§6.2, §7.1.7).
const (
	EventStreamBegin      uint16 = 0
	EventStreamEOF        uint16 = 1
	EventStreamDry        uint16 = 2
	EventSetBufferLength  uint16 = 3
	EventStreamIsRecorded uint16 = 4
	EventPingRequest      uint16 = 6
	EventPingResponse     uint16 = 7
)

// ErrMalformed means a message whose body does not have the form its type
// requires (protocol control, user control, command). It is wrapped with
// details; test with errors.Is.
var ErrMalformed = errors.New("rtmp: malformed message")

// UserControl is a User Control message (type 4).
type UserControl struct {
	Event uint16
	// StreamID is the stream of Stream Begin, Stream EOF, Stream Dry, Set
	// Buffer Length and Stream Is Recorded.
	StreamID uint32
	// BufferLength is the buffer length of Set Buffer Length, in ms.
	BufferLength uint32
	// Timestamp is the time of Ping Request and Ping Response.
	Timestamp uint32
	// Data is the event data of other events.
	Data []byte
}

// ParseUserControl decodes the body of a User Control message.
func ParseUserControl(p []byte) (UserControl, error) {
	if len(p) < 2 {
		return UserControl{}, fmt.Errorf("%w: user control of %d bytes", ErrMalformed, len(p))
	}
	u := UserControl{Event: binary.BigEndian.Uint16(p)}
	d := p[2:]
	need := 4
	if u.Event == EventSetBufferLength {
		need = 8
	}
	switch u.Event {
	case EventStreamBegin, EventStreamEOF, EventStreamDry, EventSetBufferLength, EventStreamIsRecorded,
		EventPingRequest, EventPingResponse:
		if len(d) < need {
			return UserControl{}, fmt.Errorf("%w: user control event %d with %d bytes of data", ErrMalformed, u.Event, len(d))
		}
	default:
		u.Data = d
		return u, nil
	}
	switch u.Event {
	case EventPingRequest, EventPingResponse:
		u.Timestamp = binary.BigEndian.Uint32(d)
	case EventSetBufferLength:
		u.StreamID = binary.BigEndian.Uint32(d)
		u.BufferLength = binary.BigEndian.Uint32(d[4:])
	default:
		u.StreamID = binary.BigEndian.Uint32(d)
	}
	return u, nil
}

// appendUserControl encodes u.
func (u UserControl) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, u.Event)
	switch u.Event {
	case EventPingRequest, EventPingResponse:
		return binary.BigEndian.AppendUint32(b, u.Timestamp)
	case EventSetBufferLength:
		b = binary.BigEndian.AppendUint32(b, u.StreamID)
		return binary.BigEndian.AppendUint32(b, u.BufferLength)
	case EventStreamBegin, EventStreamEOF, EventStreamDry, EventStreamIsRecorded:
		return binary.BigEndian.AppendUint32(b, u.StreamID)
	}
	return append(b, u.Data...)
}

// Message returns u as a User Control message.
func (u UserControl) Message() media.Message {
	return media.Message{Type: media.TypeUserControl, Payload: u.append(nil)}
}

// uint32Message is a protocol control message with a 4-byte body.
func uint32Message(typ uint8, v uint32) media.Message {
	return media.Message{Type: typ, Payload: binary.BigEndian.AppendUint32(nil, v)}
}

// controlValue reads the 4-byte value of a protocol control message.
func controlValue(m media.Message, what string) (uint32, error) {
	if len(m.Payload) < 4 {
		return 0, fmt.Errorf("%w: %s of %d bytes", ErrMalformed, what, len(m.Payload))
	}
	return binary.BigEndian.Uint32(m.Payload), nil
}
