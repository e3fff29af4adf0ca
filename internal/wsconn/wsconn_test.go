package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serve runs an HTTP server whose WebSocket connections are wrapped and
// handed to the test, and dials it.
func serve(t *testing.T, maxMessage int64) (*Conn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		remote, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
		c := New(ws, nil, remote, maxMessage)
		conns <- c
		<-c.Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseNow() })
	c := <-conns
	t.Cleanup(func() { c.Close() })
	return c, client
}

// TestByteStream: the bytes of binary messages read as one stream whatever
// the reader's buffer, and each Write is one message.
func TestByteStream(t *testing.T) {
	c, client := serve(t, 1<<20)
	ctx := context.Background()
	want := bytes.Repeat([]byte("0123456789"), 10000) // 100 kB: more than the read buffer
	go func() {
		client.Write(ctx, websocket.MessageBinary, want[:7])
		client.Write(ctx, websocket.MessageBinary, want[7:50000])
		client.Write(ctx, websocket.MessageBinary, want[50000:])
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	typ, b, err := client.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || string(b) != "pong" {
		t.Fatalf("client read %v %q %v", typ, b, err)
	}
	if c.RemoteAddr().String() == "" || !strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.1:") {
		t.Fatalf("remote address %v", c.RemoteAddr())
	}
}

// TestReadDeadlineKeepsConnection: a read deadline fails the read with a
// timeout, and the connection goes on (the RTMP layer pings a quiet peer
// that way).
func TestReadDeadlineKeepsConnection(t *testing.T) {
	c, client := serve(t, 1<<20)
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	buf := make([]byte, 10)
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	client.Write(context.Background(), websocket.MessageBinary, []byte("later"))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "later" {
		t.Fatalf("read after a timeout: %q %v", buf[:n], err)
	}
}

// TestBadMessages: a text message and a message over the limit end the
// connection with the status that says why; the peer's close reads as EOF.
func TestBadMessages(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		size int
		want websocket.StatusCode
	}{
		{"text", websocket.MessageText, 10, websocket.StatusUnsupportedData},
		{"oversized", websocket.MessageBinary, 4097, websocket.StatusMessageTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client := serve(t, 4096)
			go client.Write(ctx, tc.typ, make([]byte, tc.size))
			if _, err := io.ReadAll(c); err == nil {
				t.Fatal("read the bad message without an error")
			}
			_, _, err := client.Read(ctx)
			if got := websocket.CloseStatus(err); got != tc.want {
				t.Fatalf("client saw %v (%v), want status %v", got, err, tc.want)
			}
		})
	}
	t.Run("peer close", func(t *testing.T) {
		c, client := serve(t, 4096)
		client.Close(websocket.StatusNormalClosure, "")
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read after the peer's close: %v", err)
		}
	})
}

// TestListener: offered connections come out of Accept; a closed listener
// refuses them.
func TestListener(t *testing.T) {
	l := NewListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go l.Offer(context.Background(), a)
	c, err := l.Accept()
	if err != nil || c != a {
		t.Fatalf("accept: %v %v", c, err)
	}
	l.Close()
	if l.Offer(context.Background(), b) {
		t.Fatal("a closed listener took a connection")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept on a closed listener: %v", err)
	}
}

// TestMalformedFrames: frames that break RFC 6455 (unmasked from a client,
// an unknown opcode, reserved bits) end the connection with status 1002
// (protocol error), and the reader sees an error.
func TestMalformedFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"unmasked", []byte{0x82, 0x03, 1, 2, 3}},
		{"unknown opcode", []byte{0x83, 0x80, 0, 0, 0, 0}},
		{"reserved bits", []byte{0xf2, 0x80, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns := make(chan *Conn, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				c := New(ws, nil, nil, 1<<20)
				conns <- c
				<-c.Done()
			}))
			defer srv.Close()
			raw, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(raw, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			c := <-conns
			defer c.Close()
			raw.Write(tc.frame)
			if _, err := c.Read(make([]byte, 10)); err == nil {
				t.Fatal("read a malformed frame without an error")
			}
			// The server's close frame: FIN+close, length, status.
			b := make([]byte, 4)
			if _, err := io.ReadFull(raw, b); err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if b[0] != 0x88 || int(b[2])<<8|int(b[3]) != int(websocket.StatusProtocolError) {
				t.Fatalf("close frame % x, want status 1002", b)
			}
		})
	}
}
