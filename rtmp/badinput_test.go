package rtmp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/handshake"
)

// These tests run in a synctest bubble over net.Pipe: the clock is fake,
// so a stalled peer costs no real time and the elapsed time is exact.

func TestHandshakeGarbage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := NewServerConn(a, nil)
		go b.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		start := time.Now()
		err := c.Handshake(context.Background())
		if !errors.Is(err, handshake.ErrVersion) {
			t.Fatalf("got %v", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("took %v", time.Since(start))
		}
		// The connection is closed.
		if _, err := b.Write([]byte{1}); err == nil {
			t.Error("connection still open")
		}
	})
}

func TestHandshakeStall(t *testing.T) {
	for _, sent := range []int{0, 1, 1000, 1 + handshake.Size} {
		synctest.Test(t, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			c := NewServerConn(a, &Config{HandshakeTimeout: 3 * time.Second})
			go func() {
				p := make([]byte, sent)
				if sent > 0 {
					p[0] = 3
				}
				b.Write(p)
				io.Copy(io.Discard, b) // takes S0S1S2, never sends C2
			}()
			start := time.Now()
			err := c.Handshake(context.Background())
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("sent %d: got %v", sent, err)
			}
			if d := time.Since(start); d != 3*time.Second {
				t.Errorf("sent %d: failed after %v", sent, d)
			}
		})
	}
}

func TestHandshakeContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := NewClientConn(a, nil)
		go io.Copy(io.Discard, b) // a server that never answers
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := c.Handshake(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("failed after %v", d)
		}
	})
}

// serverAfterHandshake returns a server Conn over a pipe whose client end
// has completed a plain handshake.
func serverAfterHandshake(t *testing.T, cfg *Config) (*Conn, net.Conn) {
	a, b := net.Pipe()
	c := NewServerConn(a, cfg)
	done := make(chan error, 1)
	go func() { done <- c.Handshake(context.Background()) }()
	if _, err := handshake.Client(b, handshake.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return c, b
}

func TestReadStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, b := serverAfterHandshake(t, &Config{ReadTimeout: 5 * time.Second})
		defer b.Close()
		// A message header announcing 1000 bytes, then 10 of them.
		go b.Write(append([]byte{3, 0, 0, 0, 0, 0x03, 0xe8, 9, 1, 0, 0, 0}, make([]byte, 10)...))
		start := time.Now()
		_, err := c.ReadMessage()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("failed after %v", d)
		}
	})
}

func TestReadTimeoutIsIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, b := serverAfterHandshake(t, &Config{ReadTimeout: 5 * time.Second})
		defer b.Close()
		// A slow but steady peer: one byte every 4 s of a 12-byte message
		// (header of an empty message) never trips a 5 s idle timeout.
		msg := []byte{3, 0, 0, 0, 0, 0, 0, 9, 1, 0, 0, 0}
		go func() {
			for _, x := range msg {
				time.Sleep(4 * time.Second) // the fake clock of the bubble
				b.Write([]byte{x})
			}
		}()
		m, err := c.ReadMessage()
		if err != nil || m.Type != 9 {
			t.Fatalf("%+v %v", m, err)
		}
	})
}

func TestWriteStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, b := serverAfterHandshake(t, &Config{WriteTimeout: 2 * time.Second})
		defer b.Close() // never reads
		start := time.Now()
		err := c.SetChunkSize(4096)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("failed after %v", d)
		}
		// Write errors are sticky.
		if err2 := c.SetChunkSize(4096); err2 == nil {
			t.Error("second write succeeded")
		}
	})
}

// TestKeepalivePings: a quiet peer that answers pings stays connected past
// the read timeout; one that does not is dropped at the read timeout.
func TestKeepalivePings(t *testing.T) {
	for _, answer := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			c, b := serverAfterHandshake(t, &Config{ReadTimeout: 10 * time.Second, PingInterval: 3 * time.Second})
			defer b.Close()
			r, w := chunk.NewReader(b, chunk.Limits{}), chunk.NewWriter(b)
			var wmu sync.Mutex // the peer writes from two goroutines
			pings := make(chan uint32, 100)
			go func() {
				for {
					m, err := r.ReadMessage()
					if err != nil {
						return
					}
					u, err := ParseUserControl(m.Payload)
					if m.Type != media.TypeUserControl || err != nil || u.Event != EventPingRequest {
						continue
					}
					pings <- u.Timestamp
					if answer {
						wmu.Lock()
						w.WriteMessage(2, chunk.Message{Type: media.TypeUserControl,
							Payload: UserControl{Event: EventPingResponse, Timestamp: u.Timestamp}.Message().Payload})
						w.Flush()
						wmu.Unlock()
					}
				}
			}()
			start := time.Now()
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				// A message after 25 s of silence.
				select {
				case <-time.After(25 * time.Second):
				case <-stop:
					return
				}
				wmu.Lock()
				w.WriteMessage(3, chunk.Message{Type: media.TypeVideo, StreamID: 1, Payload: []byte{1}})
				w.Flush()
				wmu.Unlock()
			}()
			m, err := c.ReadMessage()
			elapsed := time.Since(start)
			if answer {
				if err != nil || m.Type != media.TypeVideo || elapsed != 25*time.Second {
					t.Fatalf("answering peer: %v %v after %v", m.Type, err, elapsed)
				}
			} else if !errors.Is(err, os.ErrDeadlineExceeded) || elapsed != 10*time.Second {
				t.Fatalf("silent peer: %v after %v", err, elapsed)
			}
			synctest.Wait()
			n := len(pings)
			want := 8 // every 3 s over 25 s, each answer restarting the interval
			if !answer {
				want = 3 // at 3, 6 and 9 s
			}
			if n != want {
				t.Errorf("answer=%v: %d pings, want %d", answer, n, want)
			}
		})
	}
}
