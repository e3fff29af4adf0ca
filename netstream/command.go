package netstream

import (
	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/amf/amfmsg"
	"github.com/rtmfpd/rtmfpd/media"
)

// Command is an AMF command message (RTMP message types 20 and 17, RFC 7425
// TC messages 0x14 and 0x11), shared with RTMP.
type Command = amfmsg.Command

// ErrNotCommand is returned by DecodeCommand for a message that is no
// command.
var ErrNotCommand = amfmsg.ErrNotCommand

// DecodeCommand decodes an AMF0 (type 20) or AMF3 (type 17) command.
func DecodeCommand(m media.Message) (Command, error) {
	c, err := amfmsg.DecodeCommand(m)
	if err != nil {
		return Command{}, err
	}
	return *c, nil
}

// EncodeCommand builds an AMF0 command message.
func EncodeCommand(name string, txn float64, object amf.Value, args ...amf.Value) (media.Message, error) {
	return (&Command{Name: name, TxnID: txn, Object: object, Args: args}).Message()
}

// EncodeData builds an AMF0 data message (type 18): a handler name and its
// arguments, as NetStream.send and onMetaData are carried.
func EncodeData(handler string, args ...amf.Value) (media.Message, error) {
	return amfmsg.Data(0, handler, args...)
}

// DecodeData decodes a data message (type 18, or 15 with its leading 0x00)
// into its values.
func DecodeData(m media.Message) ([]amf.Value, error) { return amfmsg.Values(m) }

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
