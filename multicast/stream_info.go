package multicast

import (
	"time"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// StreamKeyLen is the size of a stream key.
const StreamKeyLen = 32

// StreamKey identifies a multicast stream in a group. librtmfp fills it
// with random bytes; what Flash puts there is unknown (rtmfp-facts §7.1).
type StreamKey [StreamKeyLen]byte

// Option types of a stream info message (after the name and the key).
const (
	OptStreamName   uint64 = 0x00 // stream name (first option)
	OptStreamKey    uint64 = 0x01 // 32-byte stream key (second option)
	OptUnknown2     uint64 = 0x02 // always present, no value; meaning unknown
	OptWindow       uint64 = 0x03 // multicastWindowDuration, VLU ms
	OptType4        uint64 = 0x04 // VLU, always 300000; meaning unknown (librtmfp guesses "object encoding")
	OptUpdatePeriod uint64 = 0x05 // multicastAvailabilityUpdatePeriod, VLU ms
	OptSendToAll    uint64 = 0x06 // multicastAvailabilitySendToAll, no value
	OptFetchPeriod  uint64 = 0x07 // multicastFetchPeriod, VLU ms
)

// Type4Value is the value librtmfp always writes in option 4.
const Type4Value = 300000

// StreamInfo announces a stream to a neighbour or subscribes to it (the
// subscriber answers with its own StreamInfo for the same key), the first
// message of a GR 11 flow (librtmfp RTMFPWriter::writeGroupMedia,
// P2PSession onGroupMedia, NetGroup::ReadGroupConfig):
//
//	21 | VLU(1+n) 00 <name> | 21 01 <32-byte key> | 01 02 | [01 06] |
//	     VLU(L) 03 VLU(window ms) | 04 04 VLU(300000) | VLU(L) 05 VLU(update ms) | VLU(L) 07 VLU(fetch ms)
//
// The body is an option list without marker. Name and key come first, in
// that order; the remaining options are kept as they came (Options) so that
// unknown ones survive a re-encoding.
type StreamInfo struct {
	Name    string
	Key     StreamKey
	Options []vlu.Option
}

// NewStreamInfo builds a stream info with librtmfp's option layout.
func NewStreamInfo(name string, key StreamKey, c Config) StreamInfo {
	s := StreamInfo{Name: name, Key: key}
	s.Options = append(s.Options, vlu.Option{Type: OptUnknown2})
	if c.SendToAll {
		s.Options = append(s.Options, vlu.Option{Type: OptSendToAll})
	}
	ms := func(d time.Duration) []byte { return vlu.Append(nil, uint64(max(d, 0)/time.Millisecond)) }
	s.Options = append(s.Options,
		vlu.Option{Type: OptWindow, Value: ms(c.Window)},
		vlu.Option{Type: OptType4, Value: vlu.Append(nil, Type4Value)},
		vlu.Option{Type: OptUpdatePeriod, Value: ms(c.UpdatePeriod)},
		vlu.Option{Type: OptFetchPeriod, Value: ms(c.FetchPeriod)})
	return s
}

// Type returns TypeStreamInfo.
func (StreamInfo) Type() byte { return TypeStreamInfo }

// Len returns the encoded size.
func (s StreamInfo) Len() int {
	n := 1 + vlu.Option{Type: OptStreamName, Value: []byte(s.Name)}.Len() +
		vlu.Option{Type: OptStreamKey, Value: s.Key[:]}.Len()
	for _, o := range s.Options {
		n += o.Len()
	}
	return n
}

// Append appends the encoding to b.
func (s StreamInfo) Append(b []byte) []byte {
	b = append(b, TypeStreamInfo)
	b = vlu.AppendOption(b, OptStreamName, []byte(s.Name))
	b = vlu.AppendOption(b, OptStreamKey, s.Key[:])
	for _, o := range s.Options {
		b = o.Append(b)
	}
	return b
}

// option returns the value of the first option of type t.
func (s StreamInfo) option(t uint64) ([]byte, bool) {
	for _, o := range s.Options {
		if o.Type == t {
			return o.Value, true
		}
	}
	return nil, false
}

func (s StreamInfo) millis(t uint64, def time.Duration) time.Duration {
	v, ok := s.option(t)
	if !ok {
		return def
	}
	ms, n, err := vlu.Parse(v)
	if err != nil || n != len(v) || ms > uint64(1<<63-1)/uint64(time.Millisecond) {
		return def
	}
	return time.Duration(ms) * time.Millisecond
}

// Config reads the multicast parameters, using the defaults for absent or
// malformed options and for the two parameters the message does not carry
// (RelayMargin, PushNeighborLimit). Values are returned as sent, not
// clamped (see Config.Clamp).
func (s StreamInfo) Config() Config {
	c := DefaultConfig()
	_, c.SendToAll = s.option(OptSendToAll)
	c.Window = s.millis(OptWindow, c.Window)
	c.UpdatePeriod = s.millis(OptUpdatePeriod, c.UpdatePeriod)
	c.FetchPeriod = s.millis(OptFetchPeriod, c.FetchPeriod)
	return c
}

// MaxStreamName caps a stream name in a stream info message, as
// netstream.MaxNameBytes caps the names clients send the server.
const MaxStreamName = 1024

// streamEndMaxLen: librtmfp tells the two forms of 0x21 apart by size; the
// end form is shorter than 0x24 bytes, the info form at least 38.
const streamEndMaxLen = 0x24

// IsStreamEnd reports whether a 0x21 message is the end form.
func IsStreamEnd(b []byte) bool { return len(b) < streamEndMaxLen }

// ParseStreamInfo decodes the long form of message 0x21.
func ParseStreamInfo(b []byte) (StreamInfo, error) {
	if len(b) == 0 {
		return StreamInfo{}, ErrTruncated
	}
	if b[0] != TypeStreamInfo {
		return StreamInfo{}, ErrType
	}
	if IsStreamEnd(b) {
		return StreamInfo{}, ErrFormat
	}
	var s StreamInfo
	p := b[1:]
	for i := 0; len(p) > 0; i++ {
		o, n, marker, err := vlu.ParseOption(p)
		if err != nil {
			return StreamInfo{}, ErrTruncated
		}
		if marker {
			return StreamInfo{}, ErrFormat
		}
		p = p[n:]
		switch i {
		case 0:
			if o.Type != OptStreamName || len(o.Value) == 0 || len(o.Value) > MaxStreamName {
				return StreamInfo{}, ErrFormat
			}
			s.Name = string(o.Value)
		case 1:
			if o.Type != OptStreamKey || len(o.Value) != StreamKeyLen {
				return StreamInfo{}, ErrFormat
			}
			s.Key = StreamKey(o.Value)
		default:
			s.Options = append(s.Options, o)
		}
	}
	return s, nil
}

// StreamEnd is the short form of message 0x21 a publisher sends when it
// stops: 21 VLU(ID of its last fragment) (librtmfp writeGroupEndMedia).
type StreamEnd struct {
	LastFragment uint64
}

// Type returns TypeStreamInfo.
func (StreamEnd) Type() byte { return TypeStreamInfo }

// Len returns the encoded size.
func (e StreamEnd) Len() int { return 1 + vlu.Len(e.LastFragment) }

// Append appends the encoding to b.
func (e StreamEnd) Append(b []byte) []byte {
	return vlu.Append(append(b, TypeStreamInfo), e.LastFragment)
}

// ParseStreamEnd decodes the short form of message 0x21.
func ParseStreamEnd(b []byte) (StreamEnd, error) {
	if len(b) == 0 {
		return StreamEnd{}, ErrTruncated
	}
	if b[0] != TypeStreamInfo {
		return StreamEnd{}, ErrType
	}
	id, n, err := readVLU(b[1:])
	if err != nil {
		return StreamEnd{}, err
	}
	if 1+n != len(b) {
		return StreamEnd{}, ErrTrailing
	}
	return StreamEnd{LastFragment: id}, nil
}
