package groupstream

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// TestClosedPublicationServesPulls: a member that lags behind (it pulls
// fragments a fetch period after learning of them, as librtmfp does) still
// gets the end of a stream whose publisher has closed: the publisher's
// stream answers pulls until its fragments leave the window. librtmfp's
// TestClient playing a stream the server republished into the group lost
// the last ~3 s of it when the server dropped the stream at unpublish.
func TestClosedPublicationServesPulls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sg, pb := groupWithPlayer(t)
		time.Sleep(5 * time.Second) // the mesh forms
		// No pushes: the player gets every fragment by pulling, a fetch
		// period after the publisher's map announced it.
		cfg := multicast.DefaultConfig()
		cfg.PushNeighborLimit = 0
		pub, err := sg.Publish("cam", cfg)
		if err != nil {
			t.Fatal(err)
		}
		msgs := synthetic(100_000, 4*time.Second)
		ctx := context.Background()
		publishPaced(t, msgs, func(m media.Message) error { return pub.WriteMedia(ctx, m) })
		pub.Close() // at once: the player has not pulled the last fetch period yet
		var got []media.Message
		for {
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			m, err := pb.ReadMedia(rctx)
			cancel()
			if err != nil {
				break
			}
			got = append(got, m)
			if m.Timestamp == msgs[len(msgs)-1].Timestamp && m.Type == msgs[len(msgs)-1].Type {
				break
			}
		}
		// The player joined at the live edge: from its first message on,
		// everything up to the last message must be there (video from the
		// first key frame).
		if len(got) == 0 {
			t.Fatalf("player got nothing; stats %+v", pb.Stats())
		}
		var want []media.Message
		keyed := false
		for _, m := range msgs {
			if len(want) == 0 && (m.Timestamp != got[0].Timestamp || m.Type != got[0].Type) {
				continue
			}
			if m.IsVideo() {
				keyed = keyed || m.IsKeyframe()
				if !keyed {
					continue
				}
			}
			want = append(want, m)
		}
		if len(got) != len(want) || len(want) < len(msgs)*3/4 {
			last := time.Duration(got[len(got)-1].Timestamp) * time.Millisecond
			t.Fatalf("player got %d messages up to %s, want %d of %d; stats %+v", len(got), last, len(want), len(msgs), pb.Stats())
		}
		for k := range got {
			if !bytes.Equal(got[k].Payload, want[k].Payload) {
				t.Fatalf("message %d differs", k)
			}
		}
		// The stream still ends for the player, and a new publication of
		// the name is possible while the old one lingers.
		for code := ""; code != StatusUnpublishNotify; {
			select {
			case code = <-pb.Status():
			case <-time.After(time.Minute):
				t.Fatal("player not told of the end of the stream")
			}
		}
		again, err := sg.Publish("cam", cfg)
		if err != nil {
			t.Fatalf("publish again while the closed stream lingers: %v", err)
		}
		again.Close()
	})
}
