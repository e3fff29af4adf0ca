package rtmp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/handshake"
)

// plainServerHandshake is a plain S0+S1+S2 (a plain client does not check
// that S2 echoes its C1).
var plainServerHandshake = append([]byte{handshake.Version}, make([]byte, 2*handshake.Size)...)

// serverStream encodes messages as a server sends them.
func serverStream(msgs ...struct {
	stream uint32
	m      media.Message
}) []byte {
	var b bytes.Buffer
	w := chunk.NewWriter(&b)
	for _, x := range msgs {
		w.WriteMessage(csidFor(x.stream, x.m.Type), chunk.Message{Type: x.m.Type, Timestamp: x.m.Timestamp, StreamID: x.stream, Payload: x.m.Payload})
	}
	w.Flush()
	return b.Bytes()
}

// answerSeeds are what a server answers to a publishing client (connect,
// createStream, publish) and to a playing one, well-formed and refused.
func answerSeeds() [][]byte {
	cmd := func(stream uint32, c *Command) struct {
		stream uint32
		m      media.Message
	} {
		m, _ := c.Message()
		return struct {
			stream uint32
			m      media.Message
		}{stream, m}
	}
	ok := StatusObject(LevelStatus, CodeConnectSuccess, "ok")
	connected := cmd(0, &Command{Name: "_result", TxnID: 1, Object: amf.NewObject(amf.Property{Key: "fmsVer", Value: "FMS/3,0"}), Args: []any{ok}})
	bw := struct {
		stream uint32
		m      media.Message
	}{0, uint32Message(media.TypeWindowAckSize, 2500000)}
	return [][]byte{
		serverStream(bw, connected, cmd(0, &Command{Name: "_result", TxnID: 4, Args: []any{1.0}}),
			cmd(1, &Command{Name: "onStatus", Args: []any{StatusObject(LevelStatus, CodePublishStart, "go")}})),
		serverStream(connected, cmd(0, &Command{Name: "_result", TxnID: 2, Args: []any{1.0}}),
			cmd(1, &Command{Name: "onStatus", Args: []any{StatusObject(LevelStatus, CodePlayStart, "go")}}),
			struct {
				stream uint32
				m      media.Message
			}{1, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}}}),
		serverStream(cmd(0, &Command{Name: "_error", TxnID: 1, Args: []any{StatusObject(LevelError, "NetConnection.Connect.Rejected", "no")}})),
		serverStream(connected, cmd(0, &Command{Name: "_result", TxnID: 4, Args: []any{-1.0}})),
		serverStream(connected, cmd(0, &Command{Name: "_result", TxnID: 4, Args: []any{1.0}}),
			cmd(1, &Command{Name: "onStatus", Args: []any{StatusObject(LevelError, "NetStream.Publish.BadName", "taken")}})),
	}
}

// FuzzClient: a Client connecting, then publishing or playing, then
// reading, against a server that answers anything after a good handshake.
// It must not panic, must end each step with a result or an error, and
// must keep at most maxPending unread messages.
func FuzzClient(f *testing.F) {
	for i, s := range answerSeeds() {
		f.Add(s, i == 1)
	}
	cfg := &Config{MaxMessageSize: 1 << 16, MaxChunkStreams: 8, MaxPartialMessages: 4, MaxReassemblyBytes: 1 << 17}
	f.Fuzz(func(t *testing.T, in []byte, play bool) {
		nc := &scriptConn{r: io.MultiReader(bytes.NewReader(plainServerHandshake), bytes.NewReader(in))}
		c := &Client{conn: NewClientConn(nc, cfg), app: "live", tcURL: "rtmp://127.0.0.1/live"}
		defer c.Close()
		ctx := context.Background()
		if err := c.connect(ctx, &ClientOptions{}); err != nil {
			return
		}
		var err error
		if play {
			err = c.Play(ctx, "s")
		} else {
			err = c.Publish(ctx, "s", ModeLive)
		}
		if len(c.pending) > maxPending {
			t.Fatalf("%d messages kept", len(c.pending))
		}
		if err != nil {
			return
		}
		for range 10000 {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
}

// TestClientAnswers: the fuzz seeds do what they stand for: a publish and
// a play that succeed, a refused connect, a malformed createStream answer
// and a refused publish.
func TestClientAnswers(t *testing.T) {
	seeds := answerSeeds()
	run := func(in []byte, play bool) (*Client, error) {
		nc := &scriptConn{r: io.MultiReader(bytes.NewReader(plainServerHandshake), bytes.NewReader(in))}
		c := &Client{conn: NewClientConn(nc, nil), app: "live", tcURL: "rtmp://127.0.0.1/live"}
		if err := c.connect(context.Background(), &ClientOptions{}); err != nil {
			return c, err
		}
		if play {
			return c, c.Play(context.Background(), "s")
		}
		return c, c.Publish(context.Background(), "s", ModeLive)
	}
	if _, err := run(seeds[0], false); err != nil {
		t.Errorf("publish: %v", err)
	}
	c, err := run(seeds[1], true)
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	if m, err := c.ReadMessage(); err != nil || m.Type != media.TypeVideo {
		t.Errorf("play: read %v, %v; want the video message", m.Type, err)
	}
	var se *StatusError
	if _, err := run(seeds[2], false); !errors.As(err, &se) || se.Code != "NetConnection.Connect.Rejected" {
		t.Errorf("refused connect: %v", err)
	}
	if _, err := run(seeds[3], false); !errors.Is(err, ErrMalformed) {
		t.Errorf("createStream answered -1: %v", err)
	}
	if _, err := run(seeds[4], false); !errors.As(err, &se) || se.Code != "NetStream.Publish.BadName" {
		t.Errorf("refused publish: %v", err)
	}
}
