package rtmp

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/handshake"
)

// scriptConn is a net.Conn that reads a fixed input and discards writes.
type scriptConn struct{ r io.Reader }

func (s *scriptConn) Read(p []byte) (int, error)       { return s.r.Read(p) }
func (s *scriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (s *scriptConn) Close() error                     { return nil }
func (s *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (s *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (s *scriptConn) SetDeadline(time.Time) error      { return nil }
func (s *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// plainClientHandshake is a plain C0+C1+C2.
var plainClientHandshake = append([]byte{handshake.Version}, make([]byte, 2*handshake.Size)...)

// connSeeds are chunk streams a client might send after the handshake.
func connSeeds() [][]byte {
	connect, _ := (&Command{Name: "connect", TxnID: 1, Object: amf.NewObject(amf.Property{Key: "app", Value: "live"})}).Message()
	amf3 := media.Message{Type: media.TypeCommandAMF3, Payload: append([]byte{0}, connect.Payload...)}
	agg := AggregateMessage([]media.Message{{Type: media.TypeVideo, Timestamp: 5, Payload: []byte{0x17, 0}}, {Type: media.TypeAudio, Payload: []byte{0xaf, 1}}})
	var seeds [][]byte
	for _, msgs := range [][]media.Message{
		{connect},
		{amf3, agg},
		{uint32Message(media.TypeSetChunkSize, 10), connect, UserControl{Event: EventPingRequest, Timestamp: 7}.Message()},
		{uint32Message(media.TypeWindowAckSize, 100), {Type: media.TypeVideo, Payload: make([]byte, 300)}},
	} {
		var b bytes.Buffer
		w := chunk.NewWriter(&b)
		for _, m := range msgs {
			w.WriteMessage(csidFor(1, m.Type), chunk.Message{Type: m.Type, Timestamp: m.Timestamp, StreamID: 1, Payload: m.Payload})
			if m.Type == media.TypeSetChunkSize {
				w.SetChunkSize(10)
			}
		}
		w.Flush()
		seeds = append(seeds, b.Bytes())
	}
	return seeds
}

// FuzzConnRead feeds arbitrary bytes after a handshake to a server Conn
// with small limits. It must not panic, must return only messages within
// the limits, and decoded commands must survive a round trip.
func FuzzConnRead(f *testing.F) {
	for _, s := range connSeeds() {
		f.Add(s)
	}
	cfg := &Config{MaxMessageSize: 1 << 16, MaxChunkStreams: 8, MaxPartialMessages: 4, MaxReassemblyBytes: 1 << 17}
	f.Fuzz(func(t *testing.T, in []byte) {
		nc := &scriptConn{r: io.MultiReader(bytes.NewReader(plainClientHandshake), bytes.NewReader(in))}
		c := NewServerConn(nc, cfg)
		for range 10000 {
			m, err := c.ReadMessage()
			if errors.Is(err, ErrMalformed) {
				continue
			}
			if err != nil {
				return
			}
			if len(m.Payload) > cfg.MaxMessageSize {
				t.Fatalf("message of %d bytes", len(m.Payload))
			}
			if m.Command != nil {
				checkCommandRoundTrip(t, m.Command)
			}
		}
	})
}

// checkCommandRoundTrip encodes a decoded command, decodes it again and
// checks that the second encoding equals the first.
func checkCommandRoundTrip(t *testing.T, c *Command) {
	t.Helper()
	enc, err := c.Message()
	if err != nil {
		if errors.Is(err, amf.ErrLimit) {
			return // decodable AMF3 graphs can exceed AMF0's limits
		}
		t.Fatalf("encoding a decoded command: %v", err)
	}
	c2, err := DecodeCommand(enc)
	if err != nil {
		t.Fatalf("decoding an encoded command: %v", err)
	}
	if c2.Name != c.Name || (c2.TxnID != c.TxnID && !math.IsNaN(c.TxnID)) {
		t.Fatalf("command %q/%v came back as %q/%v", c.Name, c.TxnID, c2.Name, c2.TxnID)
	}
	enc2, err := c2.Message()
	if err != nil || !bytes.Equal(enc.Payload, enc2.Payload) {
		t.Fatalf("second encoding differs (%v)", err)
	}
}

// FuzzDecodeCommand decodes arbitrary AMF0 and AMF3 command bodies.
func FuzzDecodeCommand(f *testing.F) {
	for _, cmd := range []*Command{
		{Name: "connect", TxnID: 1, Object: amf.NewObject(amf.Property{Key: "app", Value: "live"}, amf.Property{Key: "objectEncoding", Value: 3.0})},
		{Name: "publish", Args: []any{"cam", "live"}},
		{Name: "onStatus", Args: []any{StatusObject(LevelStatus, CodePlayStart, "x")}},
		{Name: "_result", TxnID: 4, Args: []any{1.0}},
	} {
		m, _ := cmd.Message()
		f.Add(m.Payload, false)
		f.Add(append([]byte{0}, m.Payload...), true)
	}
	f.Fuzz(func(t *testing.T, p []byte, amf3 bool) {
		typ := media.TypeCommandAMF0
		if amf3 {
			typ = media.TypeCommandAMF3
		}
		c, err := DecodeCommand(media.Message{Type: typ, Payload: p})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		checkCommandRoundTrip(t, c)
	})
}

// FuzzSplitAggregate splits arbitrary aggregate bodies; what splits must
// split the same way after being joined again.
func FuzzSplitAggregate(f *testing.F) {
	f.Add(AggregateMessage([]media.Message{{Type: media.TypeVideo, Timestamp: 100, Payload: []byte{1, 2}}, {Type: media.TypeAudio, Timestamp: 90, Payload: nil}}).Payload, uint32(7))
	f.Add([]byte{8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 12}, uint32(0xFFFFFFFF))
	f.Fuzz(func(t *testing.T, p []byte, ts uint32) {
		parts, err := SplitAggregate(media.Message{Type: media.TypeAggregate, Timestamp: ts, Payload: p})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		total := 0
		for _, m := range parts {
			total += len(m.Payload) + aggregateHeader + 4
		}
		if total != len(p) {
			t.Fatalf("parts cover %d of %d bytes", total, len(p))
		}
		if len(parts) == 0 {
			return
		}
		again, err := SplitAggregate(AggregateMessage(parts))
		if err != nil || len(again) != len(parts) {
			t.Fatalf("re-split: %d parts, %v", len(again), err)
		}
		for i := range parts {
			if again[i].Type != parts[i].Type || again[i].Timestamp != parts[i].Timestamp || !bytes.Equal(again[i].Payload, parts[i].Payload) {
				t.Fatalf("part %d differs", i)
			}
		}
	})
}
