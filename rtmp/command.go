package rtmp

import (
	"fmt"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Command is an AMF command message (§7.1.1, §7.2): a procedure name, a
// transaction ID, a command object (null for most stream commands) and
// arguments. It travels as message type 20 (AMF0) or 17 (AMF3: a 0x00
// format byte, then the same AMF0 values, which may switch to AMF3).
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

// StringArg returns argument i if it is a string.
func (c *Command) StringArg(i int) (string, bool) {
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

// DecodeCommand decodes a command message of type 20 or 17. The name must
// be a string; a missing or non-numeric transaction ID reads as 0 and a
// missing command object as nil, as Flash peers tolerate.
func DecodeCommand(m media.Message) (*Command, error) {
	vs, err := decodeValues(m)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrMalformed)
	}
	name, ok := vs[0].(string)
	if !ok {
		return nil, fmt.Errorf("%w: command name is %T, not a string", ErrMalformed, vs[0])
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

// DecodeData decodes the AMF values of a data message (type 18, or 15 with
// its leading format byte), such as onMetaData or @setDataFrame.
func DecodeData(m media.Message) ([]amf.Value, error) { return decodeValues(m) }

func decodeValues(m media.Message) ([]amf.Value, error) {
	p := m.Payload
	switch m.Type {
	case media.TypeCommandAMF0, media.TypeDataAMF0:
	case media.TypeCommandAMF3, media.TypeDataAMF3:
		if len(p) == 0 || p[0] != 0 {
			return nil, fmt.Errorf("%w: AMF3 message type %d without the 0x00 format byte", ErrMalformed, m.Type)
		}
		p = p[1:]
	default:
		return nil, fmt.Errorf("%w: message type %d is not AMF", ErrMalformed, m.Type)
	}
	vs, err := amf.DecodeAll(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return vs, nil
}

// Message encodes the command as an AMF0 command message (type 20).
func (c *Command) Message() (media.Message, error) {
	b, err := amf.AppendAMF0(nil, c.Name, c.TxnID, c.Object)
	if err == nil {
		b, err = amf.AppendAMF0(b, c.Args...)
	}
	if err != nil {
		return media.Message{}, fmt.Errorf("rtmp: encoding command %q: %w", c.Name, err)
	}
	return media.Message{Type: media.TypeCommandAMF0, Payload: b}, nil
}

// DataMessage encodes an AMF0 data message (type 18): a name such as
// "onMetaData" or "@setDataFrame" followed by values.
func DataMessage(timestamp uint32, name string, args ...amf.Value) (media.Message, error) {
	b, err := amf.AppendAMF0(nil, name)
	if err == nil {
		b, err = amf.AppendAMF0(b, args...)
	}
	if err != nil {
		return media.Message{}, fmt.Errorf("rtmp: encoding data %q: %w", name, err)
	}
	return media.Message{Type: media.TypeDataAMF0, Timestamp: timestamp, Payload: b}, nil
}

// StatusObject builds the information object of an onStatus, _result or
// _error: level ("status", "warning" or "error"), code (such as
// "NetStream.Publish.Start") and description, then extra properties.
func StatusObject(level, code, description string, extra ...amf.Property) *amf.Object {
	o := amf.NewObject(
		amf.Property{Key: "level", Value: level},
		amf.Property{Key: "code", Value: code},
		amf.Property{Key: "description", Value: description},
	)
	o.Props = append(o.Props, extra...)
	return o
}

// Status levels.
const (
	LevelStatus  = "status"
	LevelWarning = "warning"
	LevelError   = "error"
)
