package rtmp

import (
	"context"
	"net"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

// oneSecondStream is one second of a 4 Mbit/s, 30 frame/s stream: a 100 kB
// key frame, 29 smaller frames and 30 audio frames; total is its payload
// bytes.
func oneSecondStream() (msgs []media.Message, total int) {
	for i := range 30 {
		n := (500_000 - 100_000) / 29
		if i == 0 {
			n = 100_000
		}
		msgs = append(msgs,
			media.Message{Type: media.TypeVideo, Timestamp: uint32(i * 33), Payload: make([]byte, n)},
			media.Message{Type: media.TypeAudio, Timestamp: uint32(i * 23), Payload: make([]byte, 300)})
		total += n + 300
	}
	return msgs, total
}

// BenchmarkConnLoopback sends one second of a 4 Mbit/s, 30 frame/s stream
// (a 100 kB key frame, 29 smaller frames, 30 audio frames) from a server
// Conn to a client Conn over loopback TCP with 4096-byte chunks. Bytes are
// payload bytes.
func BenchmarkConnLoopback(b *testing.B) {
	msgs, total := oneSecondStream()
	ln, err := Listen("tcp", "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	client := NewClientConn(nc, nil)
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake(context.Background()) }()
	if err := client.Handshake(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-hs; err != nil {
		b.Fatal(err)
	}
	if err := server.SetChunkSize(4096); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		errc := make(chan error, 1)
		go func() { errc <- server.WriteMessages(1, msgs...) }()
		for range msgs {
			if _, err := client.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
}
