// Package amfmsg holds the AMF command and data messages that RTMP (message
// types 20, 17, 18 and 15) and RTMFP's Flash profile (TC messages of the
// same types, RFC 7425 §5.1) carry alike: a command is a procedure name, a
// transaction ID, a command object and arguments; a data message is a
// handler name and its values (onMetaData, @setDataFrame, NetStream.send).
// An AMF3-typed message (17, 15) starts with a 0x00 format byte, then holds
// the same AMF0 values, which may switch to AMF3.
package amfmsg

import (
	"errors"
	"fmt"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Command is an AMF command message.
type Command struct {
	Name   string
	TxnID  float64
	Object amf.Value
	Args   []amf.Value
}

// Arg returns argument i, or nil when there are fewer arguments.
func (c *Command) Arg(i int) amf.Value {
	if i < 0 || i >= len(c.Args) {
		return nil
	}
	return c.Args[i]
}

// ArgString returns argument i if it is a string.
func (c *Command) ArgString(i int) (string, bool) {
	s, ok := c.Arg(i).(string)
	return s, ok
}

// Info returns the information object of an onStatus, _result or _error:
// the first argument that is an object.
func (c *Command) Info() *amf.Object {
	for _, a := range c.Args {
		if o, ok := amf.AsObject(a); ok {
			return o
		}
	}
	return nil
}

// Status returns the level and code of the command's information object.
func (c *Command) Status() (level, code string) {
	o := c.Info()
	level, _ = o.GetString("level")
	code, _ = o.GetString("code")
	return level, code
}

var (
	// ErrNotCommand is returned by DecodeCommand for a message of another
	// type.
	ErrNotCommand = errors.New("amfmsg: not a command message")
	// ErrNotAMF is returned by Values for a message that is neither a
	// command nor data.
	ErrNotAMF = errors.New("amfmsg: not an AMF command or data message")
)

// Values decodes the AMF values of a command or data message.
func Values(m media.Message) ([]amf.Value, error) {
	p := m.Payload
	switch m.Type {
	case media.TypeCommandAMF0, media.TypeDataAMF0:
	case media.TypeCommandAMF3, media.TypeDataAMF3:
		if len(p) == 0 || p[0] != 0 {
			return nil, fmt.Errorf("amfmsg: AMF3 message type %d without the 0x00 format byte", m.Type)
		}
		p = p[1:]
	default:
		return nil, fmt.Errorf("%w (type %d)", ErrNotAMF, m.Type)
	}
	return amf.DecodeAll(p)
}

// DecodeCommand decodes a command message (type 20 or 17). The name must
// be a string; a missing or non-numeric transaction ID reads as 0 and a
// missing command object as nil, as Flash peers tolerate.
func DecodeCommand(m media.Message) (*Command, error) {
	if m.Type != media.TypeCommandAMF0 && m.Type != media.TypeCommandAMF3 {
		return nil, ErrNotCommand
	}
	vs, err := Values(m)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, errors.New("amfmsg: empty command")
	}
	name, ok := vs[0].(string)
	if !ok {
		return nil, fmt.Errorf("amfmsg: command name is %T, not a string", vs[0])
	}
	c := &Command{Name: name}
	if len(vs) > 1 {
		c.TxnID, _ = amf.Number(vs[1])
	}
	if len(vs) > 2 {
		c.Object = vs[2]
	}
	if len(vs) > 3 {
		c.Args = vs[3:]
	}
	return c, nil
}

// Message encodes the command as an AMF0 command message (type 20).
func (c *Command) Message() (media.Message, error) {
	b, err := amf.AppendAMF0(nil, c.Name, c.TxnID, c.Object)
	if err == nil {
		b, err = amf.AppendAMF0(b, c.Args...)
	}
	if err != nil {
		return media.Message{}, fmt.Errorf("amfmsg: encoding command %q: %w", c.Name, err)
	}
	return media.Message{Type: media.TypeCommandAMF0, Payload: b}, nil
}

// Data encodes an AMF0 data message (type 18): a handler name followed by
// values.
func Data(timestamp uint32, name string, args ...amf.Value) (media.Message, error) {
	b, err := amf.AppendAMF0(nil, name)
	if err == nil {
		b, err = amf.AppendAMF0(b, args...)
	}
	if err != nil {
		return media.Message{}, fmt.Errorf("amfmsg: encoding data %q: %w", name, err)
	}
	return media.Message{Type: media.TypeDataAMF0, Timestamp: timestamp, Payload: b}, nil
}
