package netstream

import (
	"errors"
	"fmt"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Command is an AMF command message (RTMP message types 20 and 17, RFC 7425
// TC messages 0x14 and 0x11): a name, a transaction ID, a command object
// (usually null) and arguments.
type Command struct {
	Name   string
	TxnID  float64
	Object amf.Value
	Args   []amf.Value
}

// Arg returns argument i, or nil.
func (c *Command) Arg(i int) amf.Value {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return nil
}

// ArgString returns argument i if it is a string.
func (c *Command) ArgString(i int) (string, bool) {
	s, ok := c.Arg(i).(string)
	return s, ok
}

// ErrNotCommand is returned by DecodeCommand for a message that is no
// command.
var ErrNotCommand = errors.New("netstream: not a command message")

// DecodeCommand decodes an AMF0 (type 20) or AMF3 (type 17: a 0x00 byte then
// AMF0 values with AMF3 switches) command.
func DecodeCommand(m media.Message) (Command, error) {
	p := m.Payload
	switch m.Type {
	case media.TypeCommandAMF0:
	case media.TypeCommandAMF3:
		if len(p) == 0 {
			return Command{}, fmt.Errorf("netstream: empty AMF3 command")
		}
		p = p[1:]
	default:
		return Command{}, ErrNotCommand
	}
	vs, err := amf.DecodeAll(p)
	if err != nil {
		return Command{}, fmt.Errorf("netstream: command: %w", err)
	}
	if len(vs) < 2 {
		return Command{}, fmt.Errorf("netstream: command has %d values, want a name and a transaction ID", len(vs))
	}
	name, ok := vs[0].(string)
	if !ok {
		return Command{}, fmt.Errorf("netstream: command name is %T, not a string", vs[0])
	}
	txn, ok := amf.Number(vs[1])
	if !ok {
		return Command{}, fmt.Errorf("netstream: %s: transaction ID is %T, not a number", name, vs[1])
	}
	c := Command{Name: name, TxnID: txn}
	if len(vs) > 2 {
		c.Object = vs[2]
		c.Args = vs[3:]
	}
	return c, nil
}

// EncodeCommand builds an AMF0 command message.
func EncodeCommand(name string, txn float64, object amf.Value, args ...amf.Value) (media.Message, error) {
	vs := make([]amf.Value, 0, 3+len(args))
	vs = append(vs, name, txn, object)
	vs = append(vs, args...)
	b, err := amf.AppendAMF0(nil, vs...)
	if err != nil {
		return media.Message{}, err
	}
	return media.Message{Type: media.TypeCommandAMF0, Payload: b}, nil
}

// EncodeData builds an AMF0 data message (type 18): a handler name and its
// arguments, as NetStream.send and onMetaData are carried.
func EncodeData(handler string, args ...amf.Value) (media.Message, error) {
	vs := append([]amf.Value{handler}, args...)
	b, err := amf.AppendAMF0(nil, vs...)
	if err != nil {
		return media.Message{}, err
	}
	return media.Message{Type: media.TypeDataAMF0, Payload: b}, nil
}

// DecodeData decodes a data message (type 18, or 15 with its leading 0x00)
// into its values.
func DecodeData(m media.Message) ([]amf.Value, error) {
	p := m.Payload
	switch m.Type {
	case media.TypeDataAMF0:
	case media.TypeDataAMF3:
		if len(p) == 0 {
			return nil, errors.New("netstream: empty AMF3 data")
		}
		p = p[1:]
	default:
		return nil, fmt.Errorf("netstream: message type %d is not data", m.Type)
	}
	return amf.DecodeAll(p)
}

// User control events (RTMP specification §7.1.7, RFC 7425 §5.3.4).
const (
	EventStreamBegin     uint16 = 0
	EventStreamEOF       uint16 = 1
	EventStreamDry       uint16 = 2
	EventSetBufferLength uint16 = 3
	EventStreamRecorded  uint16 = 4
	EventPingRequest     uint16 = 6
	EventPingResponse    uint16 = 7
	EventSetKeepalive    uint16 = 41
)

// UserControl builds a user control message with 32-bit arguments.
func UserControl(event uint16, args ...uint32) media.Message {
	p := make([]byte, 2, 2+4*len(args))
	p[0], p[1] = byte(event>>8), byte(event)
	for _, a := range args {
		p = append(p, byte(a>>24), byte(a>>16), byte(a>>8), byte(a))
	}
	return media.Message{Type: media.TypeUserControl, Payload: p}
}
