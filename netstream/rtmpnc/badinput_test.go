package rtmpnc

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// These tests run in a synctest bubble over net.Pipe: the clock is fake, so
// the time a bad connection holds the server is measured exactly and costs
// nothing.

// badConfig has short limits so that each case ends quickly (in fake time).
func badConfig() Config {
	return Config{
		RTMP: &rtmp.Config{HandshakeTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second,
			WriteTimeout: 5 * time.Second, PingInterval: 4 * time.Second, MaxMessageSize: 1 << 20},
		ConnectTimeout: 10 * time.Second,
	}
}

// chunkHeader is a type 0 chunk header on chunk stream 3.
func chunkHeader(length int, typ uint8, streamID uint32) []byte {
	b := []byte{3, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typ}
	return binary.LittleEndian.AppendUint32(b, streamID)
}

// connectMessage is a connect command to app live, as one chunk.
func connectMessage() []byte {
	cmd := &rtmp.Command{Name: "connect", TxnID: 1, Object: amf.NewObject(amf.Property{Key: "app", Value: "live"})}
	m, _ := cmd.Message()
	return append(chunkHeader(len(m.Payload), media.TypeCommandAMF0, 0), m.Payload...)
}

type badCase struct {
	name string
	// handshake runs the client handshake first.
	handshake bool
	// send is written after the handshake (or instead of it).
	send func() []byte
	// after is how long the server may take to close the connection.
	after time.Duration
	// reason is part of the logged reason.
	reason string
}

func badCases() []badCase {
	return []badCase{
		{name: "garbage", send: func() []byte { return []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
			reason: "version"},
		{name: "stalled handshake", send: func() []byte { return []byte{3, 0, 0} },
			after: 5 * time.Second, reason: "i/o timeout"},
		{name: "no connect", handshake: true, send: func() []byte { return nil },
			after: 10 * time.Second, reason: "no successful connect"},
		{name: "command before connect", handshake: true, after: 0, reason: `command "publish" before connect`,
			send: func() []byte {
				m, _ := (&rtmp.Command{Name: "publish", Args: []any{"x", "live"}}).Message()
				return append(chunkHeader(len(m.Payload), media.TypeCommandAMF0, 1), m.Payload...)
			}},
		{name: "media before connect", handshake: true, reason: "media (type 9) before connect",
			send: func() []byte { return append(chunkHeader(5, media.TypeVideo, 1), 0x17, 1, 0, 0, 0) }},
		{name: "message longer than the limit", handshake: true, reason: "message",
			send: func() []byte { return chunkHeader(2<<20, media.TypeVideo, 1) }},
		{name: "message length that lies", handshake: true, after: 20 * time.Second, reason: "i/o timeout",
			send: func() []byte {
				b := connectMessage()
				b = append(b, chunkHeader(1<<20-1, media.TypeVideo, 1)...)
				return append(b, make([]byte, 100)...) // then nothing
			}},
		{name: "chunk size zero", handshake: true, reason: "chunk size",
			send: func() []byte {
				return append([]byte{2, 0, 0, 0, 0, 0, 4, media.TypeSetChunkSize, 0, 0, 0, 0}, 0, 0, 0, 0)
			}},
		{name: "chunk size with the reserved bit", handshake: true, reason: "chunk size",
			send: func() []byte {
				return append([]byte{2, 0, 0, 0, 0, 0, 4, media.TypeSetChunkSize, 0, 0, 0, 0}, 0x80, 0, 0, 1)
			}},
		{name: "malformed command", handshake: true, reason: "malformed",
			send: func() []byte { return append(chunkHeader(3, media.TypeCommandAMF0, 0), 2, 0xff, 0xff) }},
		{name: "publish on a stream never created, then garbage chunk", handshake: true, reason: "",
			send: func() []byte {
				b := connectMessage()
				m, _ := (&rtmp.Command{Name: "publish", Args: []any{"x", "live"}}).Message()
				b = append(b, chunkHeader(len(m.Payload), media.TypeCommandAMF0, 7)...)
				b = append(b, m.Payload...)
				return append(b, 0xC5) // type 3 chunk on a chunk stream never started
			}},
	}
}

// TestBadInput: each kind of bad input closes its connection with a logged
// reason within a bounded time, while a publisher and a player on other
// connections go on exchanging frames.
func TestBadInput(t *testing.T) {
	for _, bc := range badCases() {
		t.Run(bc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pl := newPipeListener()
				ts := startServer(t, pl, badConfig())
				defer ts.close(t)

				// A good publisher and player.
				pub, pubID, player := goodPair(t, pl, "good")
				// Play.Start comes before the server subscribes the player:
				// let it finish, or the first frames go before it listens.
				synctest.Wait()
				sent := 0
				send := func() {
					t.Helper()
					if err := pub.c.WriteMessage(pubID, frame(uint32(sent*40), sent%10 == 0, 1000)); err != nil {
						t.Fatal(err)
					}
					sent++
				}
				send()

				// The bad connection.
				nc := pl.dial()
				start := time.Now()
				if bc.handshake {
					cc := rtmp.NewClientConn(nc, nil)
					if err := cc.Handshake(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				drained := make(chan struct{})
				go func() {
					io.Copy(io.Discard, nc)
					close(drained)
				}()
				if b := bc.send(); len(b) > 0 {
					go nc.Write(b)
				}
				// Media keeps flowing while the bad connection lives.
				for {
					select {
					case <-drained:
					default:
						if time.Since(start) < time.Minute {
							send()
							time.Sleep(100 * time.Millisecond)
							continue
						}
						t.Fatal("the bad connection is still open after a minute")
					}
					break
				}
				took := time.Since(start)
				nc.Close()
				if took > bc.after+100*time.Millisecond {
					t.Errorf("closed after %v, want %v", took, bc.after)
				}
				synctest.Wait()
				lines := ts.logs.find("rtmp connection closed", bc.reason)
				if len(lines) == 0 {
					t.Errorf("no log line with reason %q:\n%s", bc.reason, ts.logs.dump())
				} else {
					t.Logf("after %v: %s", took, lines[0])
				}
				// The good player got every frame sent, in order.
				send()
				var got []uint32
			read:
				for len(got) < sent {
					select {
					case m, ok := <-player.msgs:
						if !ok {
							break read
						}
						if m.Type == media.TypeVideo {
							got = append(got, m.Timestamp)
						}
					default:
						synctest.Wait()
						if len(player.msgs) == 0 {
							break read
						}
					}
				}
				if len(got) != sent {
					t.Fatalf("player got %d of %d frames", len(got), sent)
				}
				for i, ts := range got {
					if ts != uint32(i*40) {
						t.Fatalf("frame %d has timestamp %d", i, ts)
					}
				}
				st := ts.srv.Stats()
				if st.Active != 2 || st.HandshakeFailures+st.ProtocolErrors != 1 {
					t.Errorf("stats %+v", st)
				}
				pub.c.Close()
				player.c.Close()
			})
		})
	}
}

var _ net.Listener = (*pipeListener)(nil)
