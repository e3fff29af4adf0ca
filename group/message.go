package group

import "errors"

// NetGroup message types of the GC and GR flows (librtmfp
// include/GroupStream.h). The multicast types (0x00, 0x10, 0x20–0x23, 0x2B,
// 0x30) are in package multicast.
const (
	// TypeJoin (GC flow, member → server) and TypeInit (GR 1C flow, P2P)
	// share the code 0x01.
	TypeJoin byte = 0x01
	TypeInit byte = 0x01
	// TypeData (0x02) is sent before TypeBegin by librtmfp (it writes the
	// AMF "abort" type code there); its meaning is unknown.
	TypeData         byte = 0x02
	TypeReport       byte = 0x0A
	TypeMember       byte = 0x0B
	TypeAskClose     byte = 0x0C
	TypeBegin        byte = 0x0E
	TypeBeginNearest byte = 0x0F
)

// Flow metadata signatures (user data option 0x00, without its type byte)
// of the NetGroup flows (rtmfp-facts §5.1).
var (
	MetadataGC            = []byte("GC")     // member ↔ server group control
	MetadataGRReport      = []byte("GR\x1c") // P2P main flow: init, begin, report
	MetadataGRMessage     = []byte("GR\x1d") // P2P NetGroup messages (routing)
	MetadataGRMediaReport = []byte("GR\x11") // P2P multicast subscription, map, push, pull
	MetadataGRMedia       = []byte("GR\x12") // P2P multicast fragments
	MetadataGRPostKey     = []byte("GR\x18") // posting keys
	MetadataGRPostValue   = []byte("GR\x19") // posting values
)

// Errors returned by the decoders.
var (
	ErrTruncated = errors.New("group: message truncated")
	ErrFormat    = errors.New("group: unexpected message layout")
	ErrType      = errors.New("group: unknown message type")
	ErrTrailing  = errors.New("group: trailing bytes after message")
)

// Message is a NetGroup message of a GC or GR flow: the type byte first, no
// TC header.
type Message interface {
	// Type returns the message type byte.
	Type() byte
	// Len returns the encoded size.
	Len() int
	// Append appends the encoding to b.
	Append(b []byte) []byte
}

// DecodeGC decodes a message of a GC flow: a join (member → server) or a
// member introduction (server → member).
func DecodeGC(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	switch b[0] {
	case TypeJoin:
		return ParseJoin(b)
	case TypeMember:
		return ParseMember(b)
	}
	return nil, ErrType
}

// DecodeGR decodes a message of a GR 1C flow.
func DecodeGR(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	switch b[0] {
	case TypeInit:
		return ParseInit(b)
	case TypeData:
		return ParseData(b)
	case TypeBegin, TypeBeginNearest:
		return ParseBegin(b)
	case TypeAskClose:
		return ParseAskClose(b)
	case TypeReport:
		return ParseReport(b)
	}
	return nil, ErrType
}
