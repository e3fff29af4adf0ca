package rtmp

import (
	"fmt"

	"github.com/rtmfpd/rtmfpd/amf/amfmsg"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Command is an AMF command message (§7.1.1, §7.2), shared with RTMFP.
type Command = amfmsg.Command

// DecodeCommand decodes a command message of type 20 or 17
// (amfmsg.DecodeCommand); what does not decode is ErrMalformed.
func DecodeCommand(m media.Message) (*Command, error) {
	c, err := amfmsg.DecodeCommand(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return c, nil
}

// DecodeData decodes the AMF values of a data message (type 18, or 15 with
// its leading format byte), such as onMetaData or @setDataFrame; what does
// not decode is ErrMalformed.
func DecodeData(m media.Message) ([]amf.Value, error) {
	vs, err := amfmsg.Values(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return vs, nil
}

// DataMessage encodes an AMF0 data message (type 18): a name such as
// "onMetaData" or "@setDataFrame" followed by values.
func DataMessage(timestamp uint32, name string, args ...amf.Value) (media.Message, error) {
	return amfmsg.Data(timestamp, name, args...)
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
