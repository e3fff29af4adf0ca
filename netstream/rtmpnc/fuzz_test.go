package rtmpnc

import (
	"context"
	"io"
	"testing"
	"testing/synctest"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// FuzzServerInput feeds arbitrary bytes, after a good handshake, to a
// server connection: whatever they say, the server must not panic, must
// end the connection when the client leaves, and must keep no connection
// behind. Seeds: a well-formed connect, createStream, publish and frames,
// and the bad inputs of TestBadInput.
func FuzzServerInput(f *testing.F) {
	good := connectMessage()
	for _, cmd := range []*rtmp.Command{
		{Name: "releaseStream", TxnID: 2, Args: []any{"s"}},
		{Name: "FCPublish", TxnID: 3, Args: []any{"s"}},
		{Name: "createStream", TxnID: 4},
	} {
		m, _ := cmd.Message()
		good = append(good, chunkHeader(len(m.Payload), media.TypeCommandAMF0, 0)...)
		good = append(good, m.Payload...)
	}
	m, _ := (&rtmp.Command{Name: "publish", Args: []any{"s", "live"}}).Message()
	good = append(good, chunkHeader(len(m.Payload), media.TypeCommandAMF0, 1)...)
	good = append(good, m.Payload...)
	good = append(good, chunkHeader(5, media.TypeVideo, 1)...)
	good = append(good, 0x17, 0, 0, 0, 0)
	f.Add(good)
	for _, bc := range badCases() {
		if bc.handshake {
			f.Add(bc.send())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			pl := newPipeListener()
			ts := startServer(t, pl, badConfig())
			nc := pl.dial()
			cc := rtmp.NewClientConn(nc, nil)
			if err := cc.Handshake(context.Background()); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, nc)
			go nc.Write(data)
			synctest.Wait()
			nc.Close()
			synctest.Wait()
			if st := ts.srv.Stats(); st.Active != 0 {
				t.Fatalf("%d connections left after the client closed", st.Active)
			}
			ts.close(t)
		})
	})
}
