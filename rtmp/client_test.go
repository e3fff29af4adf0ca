package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

func TestParseURL(t *testing.T) {
	cases := []struct{ in, addr, app, tc string }{
		{"rtmp://example.com/live", "example.com:1935", "live", "rtmp://example.com/live"},
		{"rtmp://127.0.0.1:1936/live/inst/", "127.0.0.1:1936", "live/inst", "rtmp://127.0.0.1:1936/live/inst/"},
		{"rtmp://[::1]/app?token=x", "[::1]:1935", "app?token=x", "rtmp://[::1]/app?token=x"},
	}
	for _, c := range cases {
		addr, app, tc, err := ParseURL(c.in)
		if err != nil || addr != c.addr || app != c.app || tc != c.tc {
			t.Errorf("%s: %q %q %q %v", c.in, addr, app, tc, err)
		}
	}
	for _, bad := range []string{"http://x/live", "rtmp:///live", "rtmp://host", "rtmp://host/", "::"} {
		if _, _, _, err := ParseURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// testMedia returns metadata and n alternating audio and video messages
// whose payloads differ.
func testMedia(n int) []media.Message {
	meta, _ := DataMessage(0, "@setDataFrame", "onMetaData", map[string]any{"width": 320.0})
	msgs := []media.Message{meta}
	for i := range n {
		typ, size := media.TypeVideo, 3000+i*100
		if i%2 == 1 {
			typ, size = media.TypeAudio, 200
		}
		p := bytes.Repeat([]byte{byte(i)}, size)
		msgs = append(msgs, media.Message{Type: typ, Timestamp: uint32(i * 20), Payload: p})
	}
	return msgs
}

func TestClientPublishPlay(t *testing.T) {
	for _, digest := range []bool{false, true} {
		t.Run(fmt.Sprintf("digest=%v", digest), func(t *testing.T) {
			srv := startTestServer(t, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			opts := &ClientOptions{Config: &Config{Digest: digest}}
			pub, err := Dial(ctx, srv.url("live"), opts)
			if err != nil {
				t.Fatal(err)
			}
			if pub.Conn().Digest() != digest {
				t.Errorf("publisher handshake digest %v", pub.Conn().Digest())
			}
			if err := pub.Publish(ctx, "cam", ModeLive); err != nil {
				t.Fatal(err)
			}
			msgs := testMedia(200)
			for _, m := range msgs {
				if err := pub.WriteMedia(m); err != nil {
					t.Fatal(err)
				}
			}
			pub.Close()

			player, err := Dial(ctx, srv.url("live"), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer player.Close()
			if err := player.Play(ctx, "cam"); err != nil {
				t.Fatal(err)
			}
			got := readUntilStop(t, player)
			// The server stored @setDataFrame as onMetaData.
			vs, err := DecodeData(got[0])
			if err != nil || vs[0] != "onMetaData" {
				t.Fatalf("metadata %v %v", vs, err)
			}
			got = got[1:]
			if len(got) != len(msgs)-1 {
				t.Fatalf("played %d messages, published %d", len(got), len(msgs)-1)
			}
			for i, m := range got {
				w := msgs[i+1]
				if m.Type != w.Type || m.Timestamp != w.Timestamp || !bytes.Equal(m.Payload, w.Payload) {
					t.Fatalf("message %d differs", i)
				}
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for _, d := range srv.digest {
				if d != digest {
					t.Errorf("server saw digest %v", d)
				}
			}
			if len(srv.errs) > 0 {
				t.Errorf("server errors: %v", srv.errs)
			}
		})
	}
}

// readUntilStop collects media and data messages until the stream ends
// (Play.Stop, Play.UnpublishNotify or Stream EOF).
func readUntilStop(t *testing.T, c *Client) []media.Message {
	t.Helper()
	var out []media.Message
	for {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d messages: %v", len(out), err)
		}
		switch {
		case m.Command != nil:
			if _, code := m.Command.Status(); code == CodePlayStop || code == CodePlayUnpublishNotify {
				return out
			}
		case m.Type == media.TypeUserControl:
			if u, _ := ParseUserControl(m.Payload); u.Event == EventStreamEOF {
				return out
			}
		case m.Type == media.TypeAudio || m.Type == media.TypeVideo || m.Type == media.TypeDataAMF0:
			if vs, err := DecodeData(m.Message); err == nil && len(vs) > 0 && vs[0] == "|RtmpSampleAccess" {
				continue
			}
			out = append(out, m.Message)
		}
	}
}

func TestClientErrors(t *testing.T) {
	srv := startTestServer(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, srv.url("live"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMedia(media.Message{Type: media.TypeAudio}); err == nil {
		t.Error("WriteMedia before Publish succeeded")
	}
	// An unknown call gets no answer: the context ends the wait.
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := c.Call(short, "noSuchCall", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered call: %v", err)
	}
	// The connection is still usable after the context ended a wait.
	if err := c.Publish(ctx, "x", ModeLive); err != nil {
		t.Errorf("publish after a timed-out call: %v", err)
	}

	if _, err := Dial(ctx, "rtmp://127.0.0.1:1/live", nil); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}

func TestConnectRejected(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		m, err := c.ReadMessage()
		if err == nil && m.Command != nil {
			c.RejectConnect(m.Command, "go away")
		}
		c.ReadMessage() // until the client closes
	}()
	_, err = Dial(t.Context(), "rtmp://"+ln.Addr().String()+"/live", nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != CodeConnectRejected || se.Description != "go away" {
		t.Fatalf("got %v", err)
	}
}
