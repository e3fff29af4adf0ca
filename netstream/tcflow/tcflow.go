// Package tcflow frames RTMP-style messages on RTMFP flows as the Flash
// Communication profile does (RFC 7425 §5.1): a flow's metadata names it a
// "TC" flow for a NetStream ID, and each message on it is
//
//	type u8 | timestamp u32 big-endian | payload
//
// It is shared by the server side (package rtmfpnc) and the client.
package tcflow

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Metadata flags of a TC flow (RFC 7425 §5.1.1).
const (
	flagStreamID      = 0x04
	flagNetworkOrder  = 0x01 // deliver in network order rather than sequence order
	maxStreamIDLength = 5
)

// Metadata returns the metadata of a TC flow for NetStream streamID (0: the
// NetConnection): 'T' 'C' 0x04 VLU(streamID).
func Metadata(streamID uint32) []byte {
	return vlu.Append([]byte{'T', 'C', flagStreamID}, uint64(streamID))
}

// ParseMetadata recognises TC flow metadata and returns its stream ID.
func ParseMetadata(md []byte) (streamID uint32, ok bool) {
	if len(md) < 3 || md[0] != 'T' || md[1] != 'C' {
		return 0, false
	}
	if md[2]&flagStreamID == 0 {
		return 0, true
	}
	v, n, err := vlu.Parse(md[3:])
	if err != nil || n > maxStreamIDLength || v > 0xFFFFFFFF {
		return 0, false
	}
	return uint32(v), true
}

// ErrShort is returned for a TC message shorter than its 5-byte header.
var ErrShort = errors.New("tcflow: message shorter than its header")

// Decode parses one TC message. The payload aliases b.
func Decode(b []byte) (media.Message, error) {
	if len(b) < 5 {
		return media.Message{}, ErrShort
	}
	return media.Message{Type: b[0], Timestamp: binary.BigEndian.Uint32(b[1:5]), Payload: b[5:]}, nil
}

// Append encodes m as a TC message.
func Append(dst []byte, m media.Message) []byte {
	dst = append(dst, m.Type)
	dst = binary.BigEndian.AppendUint32(dst, m.Timestamp)
	return append(dst, m.Payload...)
}

// encoded remembers the last messages Encode encoded: a live stream's
// message is written to each of its players' flows in turn, and so encoded
// once for all of them.
var encoded struct {
	mu   sync.Mutex
	e    [8]encodedMsg
	next int
}

type encodedMsg struct {
	payload []byte // kept, so that its memory is not reused while cached
	typ     uint8
	ts      uint32
	enc     []byte
}

// Encode returns m as a TC message, shared: the result must not be
// modified. Audio and video are encoded once for every flow they are
// written to: their payload must never be modified (the fan-out of a live
// stream shares payloads already).
func Encode(m media.Message) []byte {
	if len(m.Payload) == 0 || (m.Type != media.TypeAudio && m.Type != media.TypeVideo) {
		return Append(make([]byte, 0, 5+len(m.Payload)), m)
	}
	c := &encoded
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.e {
		e := &c.e[i]
		if len(e.payload) == len(m.Payload) && &e.payload[0] == &m.Payload[0] && e.typ == m.Type && e.ts == m.Timestamp {
			return e.enc
		}
	}
	b := Append(make([]byte, 0, 5+len(m.Payload)), m)
	c.e[c.next] = encodedMsg{payload: m.Payload, typ: m.Type, ts: m.Timestamp, enc: b}
	c.next = (c.next + 1) % len(c.e)
	return b
}

// TryWrite writes m on f with the given lifetime (0: reliable) if the
// flow's buffer has room, and reports whether it did. The message is
// shared, as with WriteShared.
func TryWrite(f *rtmfp.SendFlow, m media.Message, lifetime time.Duration) (bool, error) {
	err := f.WriteShared(Encode(m), lifetime)
	if errors.Is(err, rtmfp.ErrBufferFull) {
		return false, nil
	}
	return err == nil, err
}

// Write encodes m and writes it on f with the given lifetime (0: reliable),
// waiting for buffer space when the flow is full.
func Write(ctx context.Context, f *rtmfp.SendFlow, m media.Message, lifetime time.Duration) error {
	return write(ctx, f, Append(make([]byte, 0, 5+len(m.Payload)), m), lifetime)
}

// WriteShared is Write for a message whose payload is never modified
// (Encode): the flow keeps it as it is, and audio and video written to many
// flows are encoded once.
func WriteShared(ctx context.Context, f *rtmfp.SendFlow, m media.Message, lifetime time.Duration) error {
	return write(ctx, f, Encode(m), lifetime)
}

func write(ctx context.Context, f *rtmfp.SendFlow, b []byte, lifetime time.Duration) error {
	for {
		err := f.WriteShared(b, lifetime)
		if !errors.Is(err, rtmfp.ErrBufferFull) {
			return err
		}
		if err := f.WaitBuffer(ctx, len(b)); err != nil {
			return err
		}
	}
}
