// Package rtmfptest opens RTMFP endpoints for tests: the Flash profile with
// a fresh identity, no logs, a short close, closed when the test ends.
package rtmfptest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/plain"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Quiet is the logger of test endpoints.
var Quiet = slog.New(slog.DiscardHandler)

// Endpoint runs an endpoint on port of the simulated host h (0: any).
func Endpoint(t testing.TB, h *simnet.Host, port uint16, cfg rtmfp.Config) *rtmfp.Endpoint {
	t.Helper()
	c, err := h.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	e, err := rtmfp.NewEndpoint(c, configure(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Loopback runs an endpoint on 127.0.0.1, on a port of the kernel's choice.
func Loopback(t testing.TB, cfg rtmfp.Config) *rtmfp.Endpoint {
	t.Helper()
	e, err := rtmfp.Listen("udp4", "127.0.0.1:0", configure(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func configure(t testing.TB, cfg rtmfp.Config) rtmfp.Config {
	p, err := flash.New(flash.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profile, cfg.Logger, cfg.CloseTimeout = p, Quiet, 300*time.Millisecond
	return cfg
}

// StartupPacket returns a startup datagram (session ID 0, Flash default
// key; RFC 7016 §2.2.1–§2.2.2) carrying chunks, as an initiator or an
// attacker sends one.
func StartupPacket(chunks []byte) []byte {
	codec, err := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})
	if err != nil {
		panic(err)
	}
	return StartupPacketWith(codec, chunks)
}

// StartupPacketWith is StartupPacket for the startup codec of another
// profile (Profile.StartupCodec).
func StartupPacketWith(codec profile.PacketCodec, chunks []byte) []byte {
	h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp}
	pkt := codec.Seal(make([]byte, 4), append(h.Append(nil), chunks...))
	// The session ID field is the ID XOR the first two 32-bit words after
	// it: 0 for a startup packet.
	for i := range 4 {
		pkt[i] = pkt[4+i] ^ pkt[8+i]
	}
	return pkt
}

// PlainEndpoint runs an endpoint on port of the simulated host h with the
// plain profile (no cryptography, identity from name): fast handshakes for
// fuzzing what runs over sessions.
func PlainEndpoint(t testing.TB, h *simnet.Host, port uint16, name string, cfg rtmfp.Config) *rtmfp.Endpoint {
	t.Helper()
	c, err := h.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profile, cfg.Logger, cfg.CloseTimeout = plain.New(name), Quiet, 300*time.Millisecond
	e, err := rtmfp.NewEndpoint(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// Record is one message a fuzzed peer sends on one of its flows.
type Record struct {
	Flow int
	Msg  []byte
}

// SplitRecords cuts fuzz input into records: a byte naming the flow (its
// value modulo flows), a length byte, then that many bytes of message
// (fewer at the end of the input).
func SplitRecords(data []byte, flows int) []Record {
	var out []Record
	for len(data) >= 2 {
		f, n := int(data[0])%flows, int(data[1])
		data = data[2:]
		n = min(n, len(data))
		out = append(out, Record{Flow: f, Msg: data[:n]})
		data = data[n:]
	}
	return out
}

// JoinRecords encodes records as SplitRecords reads them, for seeds;
// messages longer than 255 bytes are cut.
func JoinRecords(recs ...Record) []byte {
	var b []byte
	for _, r := range recs {
		m := r.Msg[:min(len(r.Msg), 255)]
		b = append(b, byte(r.Flow), byte(len(m)))
		b = append(b, m...)
	}
	return b
}
