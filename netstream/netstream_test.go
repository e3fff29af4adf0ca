package netstream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// fakeTransport records what the server sends.
type fakeTransport struct {
	mu     sync.Mutex
	sent   map[uint32][]media.Message
	media  map[uint32]*chanSink
	closed error
	proto  string
	block  chan struct{} // media sinks made from now on wait on it
	sendCh chan struct{} // closed and replaced on every Send
}

func newFake(proto string) *fakeTransport {
	return &fakeTransport{sent: map[uint32][]media.Message{}, media: map[uint32]*chanSink{}, proto: proto}
}

func (f *fakeTransport) Send(id uint32, m media.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent[id] = append(f.sent[id], m)
	if f.sendCh != nil {
		close(f.sendCh)
	}
	f.sendCh = make(chan struct{})
	return nil
}

func (f *fakeTransport) MediaSink(id uint32) Sink {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &chanSink{ch: make(chan media.Message, 10000), block: f.block}
	f.media[id] = s
	return s
}
func (f *fakeTransport) CloseStream(uint32) {}
func (f *fakeTransport) Close(err error)    { f.mu.Lock(); f.closed = err; f.mu.Unlock() }
func (f *fakeTransport) Protocol() string   { return f.proto }
func (f *fakeTransport) RemoteAddr() string { return "test" }

// codes returns the status codes sent on a stream, in order.
func (f *fakeTransport) codes(id uint32) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent[id] {
		cmd, err := DecodeCommand(m)
		if err != nil {
			continue
		}
		for _, a := range cmd.Args {
			if o, ok := amf.AsObject(a); ok {
				if c, ok := o.GetString("code"); ok {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// waitCode waits until the last status code sent on stream id is code.
func (f *fakeTransport) waitCode(t *testing.T, id uint32, code string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		f.mu.Lock()
		if f.sendCh == nil {
			f.sendCh = make(chan struct{})
		}
		changed := f.sendCh
		f.mu.Unlock()
		got := f.codes(id)
		if len(got) > 0 && got[len(got)-1] == code {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("stream %d: codes %v, want %s last", id, got, code)
		}
	}
}

type chanSink struct {
	ch    chan media.Message
	block chan struct{} // when non-nil, WriteMedia waits on it
}

func (s *chanSink) WriteMedia(ctx context.Context, m media.Message) error {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.ch <- m
	return nil
}

func cmdMsg(t *testing.T, name string, txn float64, obj amf.Value, args ...amf.Value) media.Message {
	t.Helper()
	m, err := EncodeCommand(name, txn, obj, args...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func connectConn(t *testing.T, srv *Server, id string) (*Conn, *fakeTransport) {
	t.Helper()
	ft := newFake("rtmfp")
	c := srv.NewConn(ft, id)
	obj := amf.NewObject(amf.Property{Key: "app", Value: "live"}, amf.Property{Key: "tcUrl", Value: "rtmfp://host/live?key=abc"},
		amf.Property{Key: "objectEncoding", Value: 3.0})
	if err := c.HandleMessage(0, cmdMsg(t, "connect", 1, obj)); err != nil {
		t.Fatal(err)
	}
	if got := ft.codes(0); len(got) != 1 || got[0] != ConnectSuccess {
		t.Fatalf("connect answered %v", got)
	}
	c.HandleMessage(0, cmdMsg(t, "createStream", 2, nil))
	return c, ft
}

var quiet = slog.New(slog.DiscardHandler)

func video(ts uint32, key bool, n int) media.Message {
	b := make([]byte, n)
	b[0] = 0x27
	if key {
		b[0] = 0x17
	}
	b[1] = 1
	return media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: b}
}

func TestPublishPlayAndStatus(t *testing.T) {
	srv := NewServer(Config{Logger: quiet})
	pub, pt := connectConn(t, srv, "pub")
	if q := pub.Info().Query.Get("key"); q != "abc" || pub.Info().Instance != DefaultInstance {
		t.Fatalf("connect info %+v", pub.Info())
	}
	pub.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "cam", "live"))
	if got := pt.codes(1); fmt.Sprint(got) != "[NetStream.Publish.Start]" {
		t.Fatalf("publish: %v", got)
	}
	// The publisher sends metadata and codec headers, then frames.
	md, _ := EncodeData("@setDataFrame", "onMetaData", amf.NewObject(amf.Property{Key: "width", Value: 320.0}))
	pub.HandleMessage(1, md)
	pub.HandleMessage(1, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}})
	pub.HandleMessage(1, media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}})
	pub.HandleMessage(1, video(0, true, 100))
	pub.HandleMessage(1, video(40, false, 100))

	// A second publisher of the same name is refused; the first goes on.
	other, ot := connectConn(t, srv, "other")
	other.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "cam", "live"))
	if got := ot.codes(1); fmt.Sprint(got) != "[NetStream.Publish.BadName]" {
		t.Fatalf("second publisher: %v", got)
	}

	// A late joiner gets metadata and headers first, then the next key frame.
	pl, plt := connectConn(t, srv, "player")
	pl.HandleMessage(1, cmdMsg(t, "play", 0, nil, "cam"))
	if got := plt.codes(1); fmt.Sprint(got) != "[NetStream.Play.Reset NetStream.Play.Start]" {
		t.Fatalf("play: %v", got)
	}
	pub.HandleMessage(1, video(80, false, 100)) // not a key frame: skipped for the new player
	pub.HandleMessage(1, video(120, true, 100))
	sink := plt.media[1]
	want := []string{"data", "video-hdr", "audio-hdr", "video-key"}
	for i, w := range want {
		select {
		case m := <-sink.ch:
			got := map[bool]string{true: "video-hdr"}[m.IsSequenceHeader() && m.IsVideo()]
			switch {
			case m.IsData():
				got = "data"
				vs, _ := DecodeData(m)
				if vs[0] != "onMetaData" {
					t.Fatalf("metadata sent as %v", vs[0])
				}
			case m.IsAudio() && m.IsSequenceHeader():
				got = "audio-hdr"
			case m.IsVideo() && !m.IsSequenceHeader() && m.IsKeyframe():
				got = "video-key"
			}
			if got != w {
				t.Fatalf("message %d is %s (%+v), want %s", i, got, m, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d (%s) not delivered", i, w)
		}
	}

	// Unpublish: the publisher hears Unpublish.Success, the player
	// UnpublishNotify; a new publish is announced with PublishNotify.
	pub.HandleMessage(1, cmdMsg(t, "closeStream", 0, nil))
	if got := pt.codes(1); got[len(got)-1] != UnpublishSuccess {
		t.Fatalf("publisher after closeStream: %v", got)
	}
	// The player hears of it after its queued media, on its own goroutine.
	plt.waitCode(t, 1, PlayUnpublishNotify)
	other.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "cam", "live"))
	plt.waitCode(t, 1, PlayPublishNotify)
	// A recorded stream asked for by start time does not exist.
	pl.HandleMessage(0, cmdMsg(t, "createStream", 3, nil))
	pl.HandleMessage(2, cmdMsg(t, "play", 0, nil, "nothing", 0.0))
	if got := plt.codes(2); fmt.Sprint(got) != "[NetStream.Play.StreamNotFound]" {
		t.Fatalf("missing recorded stream: %v", got)
	}
	// Unknown calls fail cleanly; without a recorder a recording is
	// published live with NetStream.Record.NoAccess (level status).
	pl.HandleMessage(0, cmdMsg(t, "noSuchMethod", 9, nil))
	if got := plt.codes(0); got[len(got)-1] != CallFailed {
		t.Fatalf("unknown call: %v", got)
	}
	pl.HandleMessage(0, cmdMsg(t, "createStream", 4, nil))
	pl.HandleMessage(3, cmdMsg(t, "publish", 0, nil, "rec", "record"))
	if got := plt.codes(3); fmt.Sprint(got) != "[NetStream.Publish.Start NetStream.Record.NoAccess]" || levelOf(got[1]) != LevelStatus {
		t.Fatalf("record: %v", got)
	}
}

func TestCommandsBeforeConnect(t *testing.T) {
	srv := NewServer(Config{Logger: quiet})
	ft := newFake("rtmfp")
	c := srv.NewConn(ft, "x")
	c.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "a"))
	c.HandleMessage(0, cmdMsg(t, "createStream", 2, nil))
	if got := ft.codes(1); fmt.Sprint(got) != "[NetStream.Publish.Failed]" {
		t.Fatalf("%v", got)
	}
	if got := ft.codes(0); fmt.Sprint(got) != "[NetConnection.Call.Failed]" {
		t.Fatalf("%v", got)
	}
	// Garbage is an error for the transport to close on.
	if err := c.HandleMessage(0, media.Message{Type: media.TypeCommandAMF0, Payload: []byte{0x02, 0xff}}); err == nil {
		t.Fatal("malformed command accepted")
	}
	// Rejection by the application.
	srv2 := NewServer(Config{Logger: quiet, Apps: []string{"live"}})
	ft2 := newFake("rtmp")
	c2 := srv2.NewConn(ft2, "y")
	c2.HandleMessage(0, cmdMsg(t, "connect", 1, amf.NewObject(amf.Property{Key: "app", Value: "other"})))
	if got := ft2.codes(0); fmt.Sprint(got) != "[NetConnection.Connect.InvalidApp]" || ft2.closed == nil {
		t.Fatalf("%v closed=%v", got, ft2.closed)
	}
}

// TestSlowPlayerDropsGOPs: a player that does not read loses whole groups
// of pictures, never the codec headers, while a fast player and the
// publisher go on.
func TestSlowPlayerDropsGOPs(t *testing.T) {
	srv := NewServer(Config{Logger: quiet, PlayerQueue: 20000})
	pub, _ := connectConn(t, srv, "pub")
	pub.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "s"))
	pub.HandleMessage(1, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}})
	slow, st := connectConn(t, srv, "slow")
	block := make(chan struct{})
	st.block = block
	slow.HandleMessage(1, cmdMsg(t, "play", 0, nil, "s"))
	fast, ft := connectConn(t, srv, "fast")
	fast.HandleMessage(1, cmdMsg(t, "play", 0, nil, "s"))
	const gops, per = 20, 10
	// The fast player keeps up (it is read after each frame); the slow one
	// reads nothing. The publisher is never held up.
	<-ft.media[1].ch // the codec header
	for g := range gops {
		for i := range per {
			pub.HandleMessage(1, video(uint32(g*per+i)*40, i == 0, 1000))
			select {
			case <-ft.media[1].ch:
			case <-time.After(5 * time.Second):
				t.Fatalf("fast player stalled at frame %d", g*per+i)
			}
		}
	}
	close(block)
	var got []media.Message
	for {
		select {
		case m := <-st.media[1].ch:
			got = append(got, m)
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
	if len(got) >= gops*per || len(got) == 0 {
		t.Fatalf("slow player got %d messages", len(got))
	}
	if !got[0].IsSequenceHeader() {
		t.Fatal("codec header dropped")
	}
	// After the header, delivery starts on a key frame and each GOP is whole.
	if !got[1].IsKeyframe() {
		t.Fatal("delivery resumed on a non-key frame")
	}
	for i := 1; i < len(got); i++ {
		if !got[i].IsKeyframe() && got[i].Timestamp != got[i-1].Timestamp+40 {
			t.Fatalf("partial GOP at %d: %d after %d", i, got[i].Timestamp, got[i-1].Timestamp)
		}
	}
	sub := func() *Subscription {
		ns := slow.stream(1)
		ns.mu.Lock()
		defer ns.mu.Unlock()
		return ns.sub
	}()
	if sub.Stats().Dropped == 0 {
		t.Fatal("no drops counted")
	}
}

// TestAfterFollowsQueuedMedia: a function queued with After runs once the
// messages queued before it have been delivered, not before.
func TestAfterFollowsQueuedMedia(t *testing.T) {
	reg := NewRegistry()
	s := reg.Get("app", DefaultInstance, "s")
	block := make(chan struct{})
	sink := &chanSink{ch: make(chan media.Message, 100), block: block}
	sub := s.Subscribe(sink, 1<<20)
	defer sub.Close()
	pub := &testPublisher{}
	if _, err := reg.Publish("app", DefaultInstance, "s", pub); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s.Write(pub, video(uint32(i*40), i == 0, 10))
	}
	ran := make(chan int, 1)
	sub.After(func() { ran <- len(sink.ch) })
	select {
	case <-ran:
		t.Fatal("After ran before the queued media was delivered")
	default:
	}
	close(block)
	select {
	case n := <-ran:
		if n != 5 {
			t.Fatalf("After ran with %d of 5 messages delivered", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("After never ran")
	}
}

type testPublisher struct{}

func (*testPublisher) PublisherName() string { return "test" }

// batchSink records the batches it is given.
type batchSink struct {
	chanSink
	mu      sync.Mutex
	batches [][]uint32
}

func (b *batchSink) WriteMediaBatch(ctx context.Context, msgs []media.Message) error {
	var ts []uint32
	for _, m := range msgs {
		if err := b.chanSink.WriteMedia(ctx, m); err != nil {
			return err
		}
		ts = append(ts, m.Timestamp)
	}
	b.mu.Lock()
	b.batches = append(b.batches, ts)
	b.mu.Unlock()
	return nil
}

// TestBatchSink: messages queued together reach a BatchSink as one batch,
// in order, never across an After marker.
func TestBatchSink(t *testing.T) {
	reg := NewRegistry()
	s := reg.Get("app", DefaultInstance, "s")
	block := make(chan struct{})
	sink := &batchSink{chanSink: chanSink{ch: make(chan media.Message, 100)}}
	gate := &gateSink{next: sink, block: block}
	sub := s.Subscribe(gate, 1<<20)
	defer sub.Close()
	pub := &testPublisher{}
	reg.Publish("app", DefaultInstance, "s", pub)
	s.Write(pub, video(0, true, 10)) // held by the gate: the others queue up
	for i := 1; i < 5; i++ {
		s.Write(pub, video(uint32(i*40), false, 10))
	}
	ran := make(chan struct{})
	sub.After(func() { close(ran) })
	s.Write(pub, video(200, false, 10))
	s.Write(pub, video(240, false, 10))
	end := make(chan struct{})
	sub.After(func() { close(end) })
	close(block)
	<-ran
	<-end
	sink.mu.Lock()
	defer sink.mu.Unlock()
	// Whether the first message was taken alone depends on scheduling;
	// the rest was queued while the sink was busy and comes in batches,
	// split at the After marker.
	var all []uint32
	for _, b := range sink.batches {
		all = append(all, b...)
	}
	last := sink.batches[len(sink.batches)-1]
	if fmt.Sprint(all) != "[0 40 80 120 160 200 240]" || fmt.Sprint(last) != "[200 240]" || len(sink.batches) > 3 {
		t.Fatalf("batches %v", sink.batches)
	}
	if d := sub.Stats().Delivered; d != 7 {
		t.Fatalf("delivered %d", d)
	}
}

// gateSink holds the first write until block is closed.
type gateSink struct {
	next  *batchSink
	block chan struct{}
}

func (g *gateSink) wait() { <-g.block }

func (g *gateSink) WriteMedia(ctx context.Context, m media.Message) error {
	g.wait()
	return g.next.WriteMediaBatch(ctx, []media.Message{m})
}

func (g *gateSink) WriteMediaBatch(ctx context.Context, msgs []media.Message) error {
	g.wait()
	return g.next.WriteMediaBatch(ctx, msgs)
}

// TestDropOldestGOPKeepsBound: with a codec header at the head of the
// queue, an overflow still drops the oldest group of pictures (the queue
// stays within its bound).
func TestDropOldestGOPKeepsBound(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	sub := newSubscription(nil, &chanSink{ch: make(chan media.Message, 1), block: block}, SubscribeOptions{Limit: 3500})
	defer sub.cancel()
	sub.push(media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}}, stickyVideo)
	for i := range 12 {
		sub.push(video(uint32(i*40), i%4 == 0, 1000), notSticky)
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.bytes > 3500 {
		t.Fatalf("queue holds %d bytes, bound 3500", sub.bytes)
	}
	if sub.stats.Dropped == 0 {
		t.Fatal("nothing dropped")
	}
	var firstMedia *media.Message
	for i := range sub.q {
		if !sub.q[i].sticky() {
			firstMedia = &sub.q[i].m
			break
		}
	}
	if firstMedia != nil && !firstMedia.IsKeyframe() {
		t.Fatal("after a drop the queue does not start on a key frame")
	}
}
