package trunk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/rtmfpd/rtmfpd/media"
)

// On a pull's QUIC stream, the puller first sends the stream key
// (length(2), key); the origin answers with frames:
//
//	type(1) timestamp(4) length(4) payload
//
// where type is the media message type (audio 8, video 9, data 18 or 15,
// ...) or 0 for a control frame whose payload is "ok" (the stream is
// published: media follow), "notfound" or "end" (its publisher stopped).
// Integers are big-endian; nothing read is trusted beyond MaxFrame.
const (
	frameHeader = 9
	// MaxFrame caps a frame's payload (a media message).
	MaxFrame = 16 << 20
	// MaxKey caps the stream key of a request.
	MaxKey = 1024

	typeControl = 0
)

// Control frame payloads.
const (
	ctlOK       = "ok"
	ctlNotFound = "notfound"
	ctlEnd      = "end"
)

var (
	// ErrNotFound is returned by Pull when the origin does not publish
	// the stream.
	ErrNotFound = errors.New("trunk: stream not published on the origin")
	errFrame    = errors.New("trunk: malformed frame")
)

func appendFrame(b []byte, typ uint8, ts uint32, payload []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, ts)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// readFrame reads one frame; the payload is a new slice.
func readFrame(r *bufio.Reader) (typ uint8, ts uint32, payload []byte, err error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[5:])
	if n > MaxFrame {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", errFrame, n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, err
	}
	return h[0], binary.BigEndian.Uint32(h[1:]), payload, nil
}

func appendRequest(b []byte, key string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	return append(b, key...)
}

func readRequest(r io.Reader) (string, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint16(h[:]))
	if n == 0 || n > MaxKey {
		return "", errFrame
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// messageOf turns a media frame into a message.
func messageOf(typ uint8, ts uint32, payload []byte) media.Message {
	return media.Message{Type: typ, Timestamp: ts, Payload: payload}
}
