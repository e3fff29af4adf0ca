// Package rawpkt builds and opens single RTMFP datagrams outside an
// endpoint, for tools that speak the protocol packet by packet: the
// connectivity-check responder's probes and rtmfp check's handshakes.
package rawpkt

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// startup is the codec of startup packets: the Flash profile's default key
// and checksum (RFC 7425 §4.1).
var startup profile.PacketCodec

func init() {
	c, err := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})
	if err != nil {
		panic(err)
	}
	startup = c
}

// StartupCodec returns the codec of startup packets.
func StartupCodec() profile.PacketCodec { return startup }

// Seal returns the datagram of one packet: the session ID field scrambled
// for ssid (RFC 7016 §2.2.1), then body (header and chunks) protected by
// codec.
func Seal(codec profile.PacketCodec, ssid uint32, h wire.Header, chunks ...[]byte) []byte {
	body := h.Append(nil)
	for _, c := range chunks {
		body = append(body, c...)
	}
	d := codec.Seal(make([]byte, 4, 4+len(body)+codec.Overhead()), body)
	wire.ScrambleSessionID(d, ssid)
	return d
}

// SealStartup returns a startup packet (session ID field ssid, default key,
// startup mode) carrying chunks, with timestamp ts.
func SealStartup(ssid uint32, ts uint16, chunks ...[]byte) []byte {
	return Seal(startup, ssid, wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp, Timestamp: ts}, chunks...)
}

// ErrShort is returned for a datagram too short to be RTMFP.
var ErrShort = errors.New("rawpkt: datagram too short to be RTMFP")

// Open opens a datagram with codec and returns its session ID, header and
// the chunks after the header (padding included: a wire.ChunkReader stops
// at it). d is not modified.
func Open(codec profile.PacketCodec, d []byte) (ssid uint32, h wire.Header, chunks []byte, err error) {
	if len(d) < wire.MinDatagram {
		return 0, h, nil, ErrShort
	}
	ssid = wire.SessionID(d)
	body, err := codec.Open(append([]byte(nil), d[4:]...))
	if err != nil {
		return ssid, h, nil, err
	}
	h, n, err := wire.ParseHeader(body)
	if err != nil {
		return ssid, h, nil, err
	}
	return ssid, h, body[n:], nil
}

// OpenStartup opens a startup packet (default key, startup mode).
func OpenStartup(d []byte) (ssid uint32, chunks []byte, err error) {
	ssid, h, chunks, err := Open(startup, d)
	if err == nil && h.Mode() != wire.ModeStartup {
		err = errors.New("rawpkt: not a startup-mode packet")
	}
	return ssid, chunks, err
}
