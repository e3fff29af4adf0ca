package rtmp

import (
	"io"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

// BenchmarkFanoutWrite writes one second of a 4 Mbit/s stream (the
// messages of BenchmarkConnLoopback: a 100 kB key frame, 29 frames of about
// 14 kB, 30 audio frames) to 50 players over loopback TCP with 4096-byte
// chunks, as a publisher's reader does: each message prepared once
// (Prepare: the key frame's body shared) and written to every player with
// TryWriteMessages, the players draining their sockets meanwhile. Bytes
// are payload bytes delivered (50 per byte published); allocations are
// the write path's own, per second of media.
func BenchmarkFanoutWrite(b *testing.B) {
	const players = 50
	msgs, total := oneSecondStream()
	servers := make([]*Conn, players)
	for i := range servers {
		s, c := tcpPair(b, nil)
		if err := s.SetChunkSize(4096); err != nil {
			b.Fatal(err)
		}
		servers[i] = s
		go io.Copy(io.Discard, c.nc) // the player reads everything
	}
	b.SetBytes(int64(total * players))
	b.ReportAllocs()
	one := make([]media.Message, 1)
	for b.Loop() {
		for _, m := range msgs {
			m.Encoded = nil
			servers[0].Prepare(1, &m)
			one[0] = m
			for _, s := range servers {
				ok, err := s.TryWriteMessages(1, one)
				if err != nil {
					b.Fatal(err)
				}
				if !ok { // the socket is full: wait for it, as a player's goroutine would
					if err := s.WriteMessages(1, m); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
}
