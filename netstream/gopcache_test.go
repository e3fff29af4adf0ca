package netstream

import (
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// keyframeFake is a transport whose players start at the last key frame.
type keyframeFake struct{ *fakeTransport }

func (keyframeFake) PlayFromKeyframe() bool { return true }

// TestPlayFromLastKeyframe: a player whose transport asks for it gets the
// codec header, then the stream from its last key frame (the frames already
// sent since), then live media; other players start at the next key frame.
func TestPlayFromLastKeyframe(t *testing.T) {
	srv := NewServer(Config{Logger: quiet, GOPCache: 1 << 20})
	pubConn, _ := connectConn(t, srv, "pub")
	pubConn.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "cam"))
	hdr := media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}}
	pubConn.HandleMessage(1, hdr)
	pubConn.HandleMessage(1, video(0, true, 100)) // an older group of pictures
	pubConn.HandleMessage(1, video(40, false, 100))
	pubConn.HandleMessage(1, video(80, true, 100)) // the last key frame
	pubConn.HandleMessage(1, media.Message{Type: media.TypeAudio, Timestamp: 90, Payload: []byte{0x2f, 1}})
	pubConn.HandleMessage(1, video(120, false, 100))

	play := func(kf bool) *chanSink {
		ft := newFake("test")
		var tr Transport = ft
		if kf {
			tr = keyframeFake{ft}
		}
		c := srv.NewConn(tr, "player")
		c.HandleMessage(0, cmdMsg(t, "connect", 1, amf.NewObject(amf.Property{Key: "app", Value: "live"})))
		c.HandleMessage(0, cmdMsg(t, "createStream", 2, nil))
		c.HandleMessage(1, cmdMsg(t, "play", 0, nil, "cam"))
		ft.waitCode(t, 1, PlayStart)
		ft.mu.Lock()
		defer ft.mu.Unlock()
		return ft.media[1]
	}
	kf, plain := play(true), play(false)
	pubConn.HandleMessage(1, video(160, false, 100))
	pubConn.HandleMessage(1, video(200, true, 100))

	want := []uint32{0, 80, 90, 120, 160, 200}
	for i, ts := range want {
		m := <-kf.ch
		if m.Timestamp != ts {
			t.Fatalf("keyframe player message %d at %d ms, want %d", i, m.Timestamp, ts)
		}
	}
	for i, ts := range []uint32{0, 200} { // the header, then the next key frame
		m := <-plain.ch
		if m.Timestamp != ts {
			t.Fatalf("plain player message %d at %d ms, want %d", i, m.Timestamp, ts)
		}
	}
	s, _ := srv.Registry.Lookup("live", DefaultInstance, "cam")
	if a, v := s.Tracks(); !a || !v {
		t.Fatalf("tracks audio %v video %v", a, v)
	}
}

// TestGOPCacheBound: a group of pictures over the bound is not kept, and a
// new key frame starts a new one.
func TestGOPCacheBound(t *testing.T) {
	var g gopCache
	g.add(video(0, false, 10), false, 1000)
	if len(g.msgs) != 0 {
		t.Fatal("kept a frame before any key frame")
	}
	g.add(video(40, true, 400), false, 1000)
	g.add(video(80, false, 400), false, 1000)
	if len(g.msgs) != 2 || g.bytes != 800 {
		t.Fatalf("kept %d messages, %d bytes", len(g.msgs), g.bytes)
	}
	g.add(video(120, false, 400), false, 1000) // over the bound
	if len(g.msgs) != 0 || g.bytes != 0 {
		t.Fatalf("over the bound: kept %d messages, %d bytes", len(g.msgs), g.bytes)
	}
	g.add(video(160, false, 10), false, 1000)
	if len(g.msgs) != 0 {
		t.Fatal("kept a frame after an overflow, before the next key frame")
	}
	g.add(video(200, true, 10), false, 1000)
	g.add(video(240, true, 10), false, 1000)
	if len(g.msgs) != 1 || g.msgs[0].Timestamp != 240 {
		t.Fatalf("after two key frames: %d messages", len(g.msgs))
	}
	g.add(video(280, false, 10), false, 0)
	if len(g.msgs) != 1 {
		t.Fatal("a zero bound changed the cache")
	}
}
