package rtmp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
)

// tcpPair returns a server Conn and a client Conn connected over loopback
// TCP (the server writes with writev) after the handshake.
func tcpPair(t testing.TB, cfg *Config) (server, client *Conn) {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client = NewClientConn(nc, nil)
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake(context.Background()) }()
	if err := client.Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	if server.raw == nil {
		t.Fatal("a TCP connection without the writev path")
	}
	return server, client
}

// One message written to players with different chunk sizes: each chunk
// size's body is made once (Prepare) and every player reads the message
// whole, as it would without it. A message of a few chunks has no body
// (each connection cuts it by iovecs).
func TestFanoutSharedBody(t *testing.T) {
	sizes := []int{4096, 4096, 128}
	var servers, clients []*Conn
	for _, cs := range sizes {
		s, c := tcpPair(t, nil)
		if err := s.SetChunkSize(cs); err != nil {
			t.Fatal(err)
		}
		servers, clients = append(servers, s), append(clients, c)
	}
	for _, ts := range []uint32{40, 0x1000000} { // the second needs an extended timestamp
		small := media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: make([]byte, 3*4096)}
		if n := servers[0].Prepare(1, &small); n != 0 || small.Encoded != nil {
			t.Fatalf("a body of %d bytes for 3 chunks", n)
		}
		m := media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: bytes.Repeat([]byte{1, 2, 3, 4, 5}, 20000)}
		for i, s := range servers {
			n := s.Prepare(1, &m)
			if want := len(m.Payload) + (len(m.Payload)-1)/sizes[i]; n != want {
				t.Fatalf("chunk size %d: body of %d bytes, want %d", sizes[i], n, want)
			}
		}
		for _, cs := range []int{4096, 128} {
			if m.Encoded.Form(chunk.Key(cs, csidVideo), m.Payload, func(uint64, []byte) []byte {
				t.Errorf("chunk size %d: body not made by Prepare", cs)
				return nil
			}) == nil {
				t.Fatal("no body")
			}
		}
		for _, s := range servers {
			if ok, err := s.TryWriteMessages(1, []media.Message{m}); !ok || err != nil {
				t.Fatalf("TryWriteMessages: %v, %v", ok, err)
			}
		}
		for i, c := range clients {
			got, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != m.Type || got.Timestamp != ts || got.StreamID != 1 || !bytes.Equal(got.Payload, m.Payload) {
				t.Fatalf("player %d (chunk size %d): got type %d ts %d len %d", i, sizes[i], got.Type, got.Timestamp, len(got.Payload))
			}
		}
	}
}

// TryWriteMessages never waits: once the peer stops reading, a write the
// socket does not take is finished in the background, and the writes
// refused meanwhile leave nothing behind; the peer reads exactly the
// messages taken, in order, the ones written afterwards with WriteMessages
// after them.
func TestTryWriteOrder(t *testing.T) {
	s, c := tcpPair(t, nil)
	payload := make([]byte, 64<<10)
	var taken []uint32
	refused := false
	for i := uint32(0); i < 4000 && !refused; i++ { // 4000 × 64 KiB: far more than the socket buffers
		ok, err := s.TryWriteMessages(1, []media.Message{{Type: media.TypeVideo, Timestamp: i, Payload: payload}})
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			taken = append(taken, i)
		} else {
			refused = true
		}
	}
	if !refused {
		t.Fatal("every write taken while the peer did not read")
	}
	last := taken[len(taken)-1] + 10
	done := make(chan error, 1)
	go func() {
		done <- s.WriteMessage(1, media.Message{Type: media.TypeVideo, Timestamp: last, Payload: payload})
	}()
	for _, want := range append(taken, last) {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.Timestamp != want || len(m.Payload) != len(payload) {
			t.Fatalf("got ts %d (%d bytes), want %d", m.Timestamp, len(m.Payload), want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A write finished in the background fails at the write timeout when the
// peer never reads, and closes the connection; WriteFailure tells why.
func TestTryWriteTimeout(t *testing.T) {
	s, _ := tcpPair(t, &Config{WriteTimeout: 200 * time.Millisecond})
	payload := make([]byte, 64<<10)
	for i := 0; i < 4000; i++ {
		ok, err := s.TryWriteMessages(1, []media.Message{{Type: media.TypeVideo, Payload: payload}})
		if err != nil {
			break
		}
		if !ok {
			// The background write holds the lock until it fails.
			if err := s.WriteMessage(1, media.Message{Type: media.TypeVideo, Payload: payload}); err == nil {
				t.Fatal("a write to a peer that never reads succeeded")
			}
			break
		}
	}
	if err := s.WriteFailure(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write failure %v, want the deadline", err)
	}
}
