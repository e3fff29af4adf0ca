package rtmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/handshake"
)

// rawPeer is the other end of a Conn, written with the chunk layer
// directly, so that tests see and send exact protocol messages.
type rawPeer struct {
	nc   net.Conn
	r    *chunk.Reader
	w    *chunk.Writer
	msgs chan chunk.Message // read by a goroutine
	errc chan error
}

// newRawPair returns a Conn of the given role over loopback TCP, and the
// raw peer at the other end after the handshake (plain).
func newRawPair(t *testing.T, client bool, cfg *Config) (*Conn, *rawPeer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	var c *Conn
	if client {
		c = NewClientConn(a, cfg)
	} else {
		c = NewServerConn(a, cfg)
	}
	hs := make(chan error, 1)
	go func() { hs <- c.Handshake(context.Background()) }()
	if client {
		_, err = handshake.Server(b, handshake.ServerOptions{})
	} else {
		_, err = handshake.Client(b, handshake.ClientOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{nc: b, r: chunk.NewReader(b, chunk.Limits{}), w: chunk.NewWriter(b),
		msgs: make(chan chunk.Message, 1024), errc: make(chan error, 1)}
	go func() {
		for {
			m, err := p.r.ReadMessage()
			if err != nil {
				p.errc <- err
				close(p.msgs)
				return
			}
			p.msgs <- m
		}
	}()
	return c, p
}

func (p *rawPeer) send(t *testing.T, csid, streamID uint32, m media.Message) {
	t.Helper()
	if err := p.w.WriteMessage(csid, chunk.Message{Type: m.Type, Timestamp: m.Timestamp, StreamID: streamID, Payload: m.Payload}); err != nil {
		t.Fatal(err)
	}
	if err := p.w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// trySend sends without a testing.T, from goroutines; errors end it.
func (p *rawPeer) trySend(csid, streamID uint32, m media.Message) error {
	if err := p.w.WriteMessage(csid, chunk.Message{Type: m.Type, Timestamp: m.Timestamp, StreamID: streamID, Payload: m.Payload}); err != nil {
		return err
	}
	return p.w.Flush()
}

// next returns the next message the peer received whose type is typ.
func (p *rawPeer) next(t *testing.T, typ uint8) chunk.Message {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case m, ok := <-p.msgs:
			if !ok {
				t.Fatalf("peer stopped reading: %v", <-p.errc)
			}
			if m.Type == typ {
				return m
			}
		case <-timeout.C:
			t.Fatalf("no message of type %d", typ)
		}
	}
}

func TestProtocolAnswers(t *testing.T) {
	c, p := newRawPair(t, true, nil)
	p.send(t, 2, 0, uint32Message(media.TypeWindowAckSize, 1000))
	bw := uint32Message(media.TypeSetPeerBW, 5000)
	bw.Payload = append(bw.Payload, LimitDynamic)
	p.send(t, 2, 0, bw)
	p.send(t, 2, 0, UserControl{Event: EventPingRequest, Timestamp: 1234}.Message())
	p.send(t, 2, 0, UserControl{Event: EventStreamBegin, StreamID: 1}.Message())
	p.send(t, 2, 0, uint32Message(media.TypeSetChunkSize, 100))
	p.w.SetChunkSize(100)
	for i := range 10 {
		p.send(t, 7, 1, media.Message{Type: media.TypeVideo, Timestamp: uint32(i * 40), Payload: bytes.Repeat([]byte{byte(i)}, 500)})
	}
	// The client returns Stream Begin and the videos, nothing else.
	m, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if u, err := ParseUserControl(m.Payload); m.Type != media.TypeUserControl || err != nil || u.Event != EventStreamBegin || u.StreamID != 1 {
		t.Fatalf("first message %+v", m)
	}
	for i := range 10 {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != media.TypeVideo || m.StreamID != 1 || m.Timestamp != uint32(i*40) || len(m.Payload) != 500 {
			t.Fatalf("video %d: %+v", i, m.Message)
		}
	}
	// The answers come in the order the client noticed their causes: an
	// acknowledgement may come before the window answer or the pong.
	var last uint32
	var win, pong bool
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	// Over 5000 bytes arrived with a window of 1000: acknowledgements
	// whose sequence numbers are the bytes received.
	for !win || !pong || last+1000 <= 5000 {
		var m chunk.Message
		select {
		case msg, ok := <-p.msgs:
			if !ok {
				t.Fatalf("peer stopped reading: %v", <-p.errc)
			}
			m = msg
		case <-timeout.C:
			t.Fatalf("window answer %v, pong %v, last ack %d", win, pong, last)
		}
		switch m.Type {
		case media.TypeWindowAckSize:
			win = true
			if v := binary.BigEndian.Uint32(m.Payload); v != 5000 {
				t.Errorf("window answer %d", v)
			}
		case media.TypeUserControl:
			pong = true
			if u, _ := ParseUserControl(m.Payload); u.Event != EventPingResponse || u.Timestamp != 1234 {
				t.Errorf("ping answer %+v", u)
			}
		case media.TypeAck:
			seq := binary.BigEndian.Uint32(m.Payload)
			if seq < last+1000 || uint64(seq) > c.BytesRead() {
				t.Fatalf("ack %d after %d (read %d)", seq, last, c.BytesRead())
			}
			last = seq
		}
	}
}

func TestServerHelpers(t *testing.T) {
	c, p := newRawPair(t, false, &Config{ChunkSize: 1000, WindowAckSize: 123456})
	connect := &Command{Name: "connect", TxnID: 1, Object: amf.NewObject(
		amf.Property{Key: "app", Value: "live"}, amf.Property{Key: "objectEncoding", Value: 3.0})}
	cm, _ := connect.Message()
	p.send(t, 3, 0, cm)
	m, err := c.ReadMessage()
	if err != nil || m.Command == nil || m.Command.Name != "connect" {
		t.Fatalf("%+v %v", m, err)
	}
	cp, err := ParseConnect(m.Command)
	if err != nil || cp.App != "live" || cp.ObjectEncoding != 3 {
		t.Fatalf("%+v %v", cp, err)
	}
	if err := c.AcceptConnect(m.Command); err != nil {
		t.Fatal(err)
	}
	// nginx-rtmp's order: window, peer bandwidth, chunk size, _result.
	want := []uint8{media.TypeWindowAckSize, media.TypeSetPeerBW, media.TypeSetChunkSize, media.TypeCommandAMF0}
	for i, typ := range want {
		m := <-p.msgs
		if m.Type != typ {
			t.Fatalf("message %d: type %d, want %d", i, m.Type, typ)
		}
		switch typ {
		case media.TypeWindowAckSize:
			if binary.BigEndian.Uint32(m.Payload) != 123456 {
				t.Errorf("window %x", m.Payload)
			}
		case media.TypeSetPeerBW:
			if len(m.Payload) != 5 || m.Payload[4] != LimitDynamic {
				t.Errorf("peer bandwidth %x", m.Payload)
			}
		case media.TypeSetChunkSize:
			if binary.BigEndian.Uint32(m.Payload) != 1000 {
				t.Errorf("chunk size %x", m.Payload)
			}
		case media.TypeCommandAMF0:
			cmd, err := DecodeCommand(media.Message{Type: m.Type, Payload: m.Payload})
			if err != nil || cmd.Name != "_result" || cmd.TxnID != 1 {
				t.Fatalf("%+v %v", cmd, err)
			}
			level, code := cmd.Status()
			enc, _ := cmd.Info().GetNumber("objectEncoding")
			if level != LevelStatus || code != CodeConnectSuccess || enc != 3 {
				t.Errorf("%s %s %v", level, code, enc)
			}
		}
	}
	// The chunk size applies to what follows: a 2500-byte message takes
	// three chunks, which the peer's reader follows once it applied 1000.
	if err := c.WriteMessage(1, media.Message{Type: media.TypeVideo, Payload: make([]byte, 2500)}); err != nil {
		t.Fatal(err)
	}
	if v := p.next(t, media.TypeVideo); len(v.Payload) != 2500 || v.StreamID != 1 || v.CSID != csidVideo {
		t.Errorf("video %d bytes on stream %d csid %d", len(v.Payload), v.StreamID, v.CSID)
	}
	if err := c.WriteStatus(1, LevelStatus, CodePublishStart, "go", amf.Property{Key: "details", Value: "x"}); err != nil {
		t.Fatal(err)
	}
	st := p.next(t, media.TypeCommandAMF0)
	cmd, _ := DecodeCommand(media.Message{Type: st.Type, Payload: st.Payload})
	if d, _ := cmd.Info().GetString("details"); cmd.Name != "onStatus" || st.StreamID != 1 || d != "x" {
		t.Errorf("status %+v", cmd)
	}
}

func TestAggregateThroughConn(t *testing.T) {
	c, p := newRawPair(t, false, nil)
	parts := []media.Message{
		{Type: media.TypeVideo, Timestamp: 1000, Payload: []byte{0x17, 1, 2}},
		{Type: media.TypeAudio, Timestamp: 1010, Payload: []byte{0xaf, 1}},
		{Type: media.TypeVideo, Timestamp: 1033, Payload: []byte{0x27, 1, 3}},
	}
	agg := AggregateMessage(parts)
	agg.Timestamp = 5000
	p.send(t, 8, 3, agg)
	for i, want := range parts {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != want.Type || m.StreamID != 3 || m.Timestamp != 5000+want.Timestamp-1000 || !bytes.Equal(m.Payload, want.Payload) {
			t.Errorf("part %d: %+v", i, m)
		}
	}
}

func TestCommandsThroughConn(t *testing.T) {
	c, p := newRawPair(t, false, nil)
	// AMF3 command: 0x00, then AMF0 values, one of them switched to AMF3.
	body, _ := amf.AppendAMF0([]byte{0}, "play", 0.0, nil, "stream", amf.AVMPlus{Value: 7})
	p.send(t, 8, 1, media.Message{Type: media.TypeCommandAMF3, Payload: body})
	// Malformed commands give ErrMalformed and leave the Conn usable.
	p.send(t, 3, 0, media.Message{Type: media.TypeCommandAMF0, Payload: []byte{0x00, 0, 0, 0, 0, 0, 0, 0, 0}})
	p.send(t, 3, 0, media.Message{Type: media.TypeCommandAMF3, Payload: []byte{0x02, 0, 1, 'x'}})
	p.send(t, 3, 0, media.Message{Type: media.TypeCommandAMF0, Payload: []byte{0x02, 0, 9, 'x'}})
	p.send(t, 2, 0, media.Message{Type: media.TypeUserControl, Payload: []byte{0, 6, 1}})
	p.send(t, 2, 0, media.Message{Type: media.TypeAggregate, Payload: []byte{9, 0, 0, 10}})
	ok, _ := (&Command{Name: "ok", TxnID: 5}).Message()
	p.send(t, 3, 0, ok)

	m, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m.Command == nil || m.Command.Name != "play" || m.StreamID != 1 || m.Command.Object != nil {
		t.Fatalf("%+v", m.Command)
	}
	if s, _ := m.Command.ArgString(0); s != "stream" {
		t.Errorf("args %v", m.Command.Args)
	}
	if n, _ := amf.Int(m.Command.Arg(1)); n != 7 {
		t.Errorf("AMF3 argument %v", m.Command.Arg(1))
	}
	for i := range 5 {
		if _, err := c.ReadMessage(); !errors.Is(err, ErrMalformed) {
			t.Errorf("malformed %d: %v", i, err)
		}
	}
	m, err = c.ReadMessage()
	if err != nil || m.Command == nil || m.Command.Name != "ok" || m.Command.TxnID != 5 {
		t.Fatalf("after malformed: %+v %v", m, err)
	}
}

func TestPeerLimits(t *testing.T) {
	cases := []struct {
		name string
		cfg  *Config
		send func(p *rawPeer)
		want error
	}{
		{"chunk size 0", nil, func(p *rawPeer) {
			p.trySend(2, 0, uint32Message(media.TypeSetChunkSize, 0))
		}, ErrChunkSize},
		{"absurd chunk size", nil, func(p *rawPeer) {
			p.trySend(2, 0, uint32Message(media.TypeSetChunkSize, 0x7FFFFFFF))
		}, ErrChunkSize},
		{"message above the limit", &Config{MaxMessageSize: 1 << 20}, func(p *rawPeer) {
			p.trySend(7, 1, media.Message{Type: media.TypeVideo, Payload: make([]byte, 1<<20+1)})
		}, ErrMessageTooLarge},
		{"too many chunk streams", &Config{MaxChunkStreams: 8}, func(p *rawPeer) {
			for cs := uint32(3); cs < 20; cs++ {
				p.trySend(cs, 1, media.Message{Type: media.TypeAudio, Payload: []byte{1}})
			}
		}, ErrTooManyChunkStreams},
		{"too many partial messages", nil, func(p *rawPeer) {
			for cs := uint32(3); cs < 40; cs++ {
				// Header and first chunk of a 1000-byte message, by hand.
				b := []byte{byte(cs), 0, 0, 0, 0, 0x03, 0xe8, 9, 1, 0, 0, 0}
				p.nc.Write(append(b, make([]byte, 128)...))
			}
		}, ErrTooManyPartial},
		{"short window size", nil, func(p *rawPeer) {
			p.trySend(2, 0, media.Message{Type: media.TypeWindowAckSize, Payload: []byte{1}})
		}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, p := newRawPair(t, false, c.cfg)
			go c.send(p)
			var err error
			for err == nil {
				_, err = conn.ReadMessage()
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	for _, m := range []media.Message{
		{Type: media.TypeCommandAMF0},
		{Type: media.TypeCommandAMF3},
		{Type: media.TypeCommandAMF3, Payload: []byte{1}},
		{Type: media.TypeCommandAMF0, Payload: []byte{0x05}},       // null name
		{Type: media.TypeCommandAMF0, Payload: []byte{0x02, 0, 5}}, // truncated string
		{Type: media.TypeVideo, Payload: []byte{0x02, 0, 0}},
	} {
		if _, err := DecodeCommand(m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", m.Payload, err)
		}
	}
}

func TestSplitAggregateErrors(t *testing.T) {
	good := AggregateMessage([]media.Message{{Type: media.TypeAudio, Payload: []byte{1, 2, 3}}}).Payload
	for n := 1; n < len(good); n++ {
		if _, err := SplitAggregate(media.Message{Type: media.TypeAggregate, Payload: good[:n]}); !errors.Is(err, ErrMalformed) {
			t.Errorf("prefix %d: %v", n, err)
		}
	}
	lying := bytes.Clone(good)
	lying[3] = 200 // size beyond the body
	if _, err := SplitAggregate(media.Message{Payload: lying}); !errors.Is(err, ErrMalformed) {
		t.Errorf("lying size: %v", err)
	}
	nested := bytes.Clone(good)
	nested[0] = media.TypeAggregate
	if _, err := SplitAggregate(media.Message{Payload: nested}); !errors.Is(err, ErrMalformed) {
		t.Errorf("nested aggregate: %v", err)
	}
	var many []media.Message
	for range MaxAggregateParts + 1 {
		many = append(many, media.Message{Type: media.TypeAudio})
	}
	if _, err := SplitAggregate(AggregateMessage(many)); !errors.Is(err, ErrMalformed) {
		t.Errorf("too many parts: %v", err)
	}
}

func TestUserControlRoundTrip(t *testing.T) {
	for _, u := range []UserControl{
		{Event: EventStreamBegin, StreamID: 1},
		{Event: EventStreamEOF, StreamID: 2},
		{Event: EventStreamDry, StreamID: 3},
		{Event: EventSetBufferLength, StreamID: 4, BufferLength: 3000},
		{Event: EventStreamIsRecorded, StreamID: 5},
		{Event: EventPingRequest, Timestamp: 99},
		{Event: EventPingResponse, Timestamp: 100},
		{Event: 31, Data: []byte{0, 0, 0, 1}},
	} {
		got, err := ParseUserControl(u.Message().Payload)
		if err != nil || got.Event != u.Event || got.StreamID != u.StreamID || got.BufferLength != u.BufferLength ||
			got.Timestamp != u.Timestamp || !bytes.Equal(got.Data, u.Data) {
			t.Errorf("%+v -> %+v %v", u, got, err)
		}
	}
	if _, err := ParseUserControl([]byte{0, 3, 0, 0, 0, 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("short set buffer length: %v", err)
	}
}
