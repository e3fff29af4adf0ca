package multicast

import "errors"

// Message types of the multicast flows (librtmfp include/GroupStream.h).
const (
	TypeFragmentLast  byte = 0x00 // last fragment of a split message
	TypeFragmentNext  byte = 0x10 // middle fragment of a split message
	TypeFragmentWhole byte = 0x20 // a whole message in one fragment
	TypeStreamInfo    byte = 0x21 // subscription / stream info, or stream end
	TypeFragmentsMap  byte = 0x22 // availability bitmap
	TypePush          byte = 0x23 // push request mask
	TypePull          byte = 0x2B // pull request
	TypeFragmentFirst byte = 0x30 // first fragment of a split message
)

// Errors returned by the decoders.
var (
	ErrTruncated = errors.New("multicast: message truncated")
	ErrFormat    = errors.New("multicast: unexpected message layout")
	ErrType      = errors.New("multicast: unknown message type")
	ErrTrailing  = errors.New("multicast: trailing bytes after message")
)

// Message is a multicast message: the type byte first, no TC header.
type Message interface {
	// Type returns the message type byte.
	Type() byte
	// Len returns the encoded size.
	Len() int
	// Append appends the encoding to b.
	Append(b []byte) []byte
}

// DecodeReport decodes a message of a GR 11 (media report) flow:
// StreamInfo, StreamEnd, FragmentsMap, Push or Pull.
func DecodeReport(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	switch b[0] {
	case TypeStreamInfo:
		if IsStreamEnd(b) {
			return ParseStreamEnd(b)
		}
		return ParseStreamInfo(b)
	case TypeFragmentsMap:
		return ParseFragmentsMap(b)
	case TypePush:
		return ParsePush(b)
	case TypePull:
		return ParsePull(b)
	}
	return nil, ErrType
}

// Decode decodes any multicast message: a report-flow message or a
// fragment.
func Decode(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	switch b[0] {
	case TypeFragmentWhole, TypeFragmentFirst, TypeFragmentNext, TypeFragmentLast:
		return ParseFragment(b)
	}
	return DecodeReport(b)
}
