package relay

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/netstream/rtmpnc"
	"github.com/rtmfpd/rtmfpd/recorder"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

var quiet = slog.New(slog.DiscardHandler)

// remoteServer is a target server in the same process: RTMP on a loopback
// TCP port and RTMFP on a loopback UDP port, one NetStream registry.
type remoteServer struct {
	ns    *netstream.Server
	rtmp  string // host:port
	rtmfp string // host:port
}

func startRemote(t *testing.T, apps ...string) *remoteServer {
	return startRemoteWith(t, netstream.Config{Logger: quiet, Apps: apps})
}

func startRemoteWith(t *testing.T, cfg netstream.Config) *remoteServer {
	ns := netstream.NewServer(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rtmpnc.New(rtmpnc.Config{NS: ns, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Serve(ctx, l)
	prof, err := flash.New(flash.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// NetConnections read in arrival order across flows, as rtmfpd does.
	ep, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: prof, Logger: quiet,
		InOrder: func(s *rtmfp.Session) bool { return !s.PeerMode() }})
	if err != nil {
		t.Fatal(err)
	}
	go rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet}).Serve(ctx, ep)
	t.Cleanup(func() {
		cancel()
		srv.Shutdown(context.Background())
		ep.Close()
	})
	return &remoteServer{ns: ns, rtmp: l.Addr().String(), rtmfp: ep.LocalAddr().String()}
}

// player subscribes to a stream of the remote's registry.
type player struct {
	ch  chan media.Message
	sub *netstream.Subscription
}

func (p *player) WriteMedia(ctx context.Context, m media.Message) error {
	select {
	case p.ch <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (rs *remoteServer) play(t *testing.T, name string) *player {
	p := &player{ch: make(chan media.Message, 1000)}
	s := rs.ns.Registry.Get("live", netstream.DefaultInstance, name)
	p.sub = s.Subscribe(p, 1<<20)
	t.Cleanup(p.sub.Close)
	return p
}

// next returns the next audio or video message.
func (p *player) next(t *testing.T) media.Message {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-p.ch:
			if m.IsAudio() || m.IsVideo() {
				return m
			}
		case <-timeout:
			t.Fatal("no media")
		}
	}
}

func (rs *remoteServer) publisher(name string) netstream.Publisher {
	s, ok := rs.ns.Registry.Lookup("live", netstream.DefaultInstance, name)
	if !ok {
		return nil
	}
	return s.Publisher()
}

// local is the stream being relayed, published straight into a registry.
type local struct {
	reg *netstream.Registry
	s   *netstream.Stream
	pub *fakePublisher
	ts  uint32
}

type fakePublisher struct{}

func (*fakePublisher) PublisherName() string { return "test" }

func publishLocal(t *testing.T, m *Manager, name string) *local {
	reg := netstream.NewRegistry()
	l := &local{reg: reg, pub: &fakePublisher{}}
	s, err := reg.Publish("live", netstream.DefaultInstance, name, l.pub)
	if err != nil {
		t.Fatal(err)
	}
	l.s = s
	m.Publish(s)
	md, _ := netstream.EncodeData("@setDataFrame", "onMetaData", amf.NewObject(amf.Property{Key: "width", Value: 320.0}))
	s.Write(l.pub, md)
	s.Write(l.pub, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1}})
	return l
}

// frame publishes one video frame, a key frame every 10.
func (l *local) frame() uint32 {
	ts := l.ts
	p := []byte{0x27, 1, 0, 0, 0, byte(ts >> 8), byte(ts)}
	if ts%400 == 0 {
		p[0] = 0x17
	}
	l.s.Write(l.pub, media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: p})
	l.ts += 40
	return ts
}

func (l *local) unpublish(m *Manager) {
	l.reg.Unpublish(l.s, l.pub)
	m.Unpublish(l.s)
}

func newManager(t *testing.T, cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// waitFor polls cond until it holds, failing after 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// statusOf returns the status of the target whose URL contains sub.
func statusOf(m *Manager, sub string) (TargetStatus, bool) {
	for _, st := range m.Status() {
		if strings.Contains(st.Target, sub) {
			return st, true
		}
	}
	return TargetStatus{}, false
}

// TestRelayRTMPAndRTMFP: a stream goes to an RTMP and an RTMFP target under
// a mapped name, metadata and codec headers first; unpublishing it
// unpublishes both remote streams after the last frame.
func TestRelayRTMPAndRTMFP(t *testing.T) {
	b, c := startRemote(t), startRemote(t)
	m := newManager(t, Config{Rules: []Rule{{App: "live", Stream: "cam*", Targets: []Target{
		{URL: "rtmp://" + b.rtmp + "/live/{name}_b"},
		{URL: "rtmfp://" + c.rtmfp + "/live/{name}_c"},
	}}}})
	pb, pc := b.play(t, "cam1_b"), c.play(t, "cam1_c")
	l := publishLocal(t, m, "cam1")
	// Frames sent while the targets connect are queued, not lost.
	var sent []uint32
	for range 30 {
		sent = append(sent, l.frame())
	}
	for _, p := range []*player{pb, pc} {
		if h := p.next(t); !h.IsSequenceHeader() {
			t.Fatalf("first message %+v", h)
		}
		for _, ts := range sent {
			if m := p.next(t); m.Timestamp != ts {
				t.Fatalf("frame %d came as %d", ts, m.Timestamp)
			}
		}
	}
	for _, r := range []*remoteServer{b, c} {
		s, _ := r.ns.Registry.Lookup("live", netstream.DefaultInstance, map[*remoteServer]string{b: "cam1_b", c: "cam1_c"}[r])
		if md, ok := s.Metadata(); !ok || md.Props[0].Key != "width" {
			t.Errorf("metadata not relayed: %v", md)
		}
	}
	for _, want := range []string{"rtmp://", "rtmfp://"} {
		st, ok := statusOf(m, want)
		if !ok || st.State != StatePublishing || st.Attempts != 1 || st.MessagesSent < 30 || st.BytesSent == 0 {
			t.Errorf("%s status %+v", want, st)
		}
	}
	last := l.frame()
	l.unpublish(m)
	for _, p := range []*player{pb, pc} {
		if f := p.next(t); f.Timestamp != last {
			t.Errorf("last frame %d came as %d", last, f.Timestamp)
		}
	}
	waitFor(t, "both remote streams unpublished", func() bool {
		return b.publisher("cam1_b") == nil && c.publisher("cam1_c") == nil && len(m.Status()) == 0
	})
}

// TestRelayRetriesRefusals: a target that refuses (the name is taken there,
// or the connection is rejected, or nothing listens) is retried with
// backoff and reported, while another target of the same stream relays
// from the start; once the name is free the refused target catches up at
// a key frame.
func TestRelayRetriesRefusals(t *testing.T) {
	b, c := startRemote(t), startRemote(t, "otherapp")
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := down.Addr().String()
	down.Close()
	squat := &fakePublisher{}
	bs, err := b.ns.Registry.Publish("live", netstream.DefaultInstance, "cam", squat)
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Config{})
	var mu sync.Mutex
	var hooked []string
	m.OnPublish = func(s *netstream.Stream) []Target {
		mu.Lock()
		hooked = append(hooked, s.Key())
		mu.Unlock()
		return []Target{
			{URL: "rtmp://" + b.rtmp + "/live/{name}"},   // name taken: BadName
			{URL: "rtmp://" + c.rtmp + "/live/{name}"},   // app not served: connect rejected
			{URL: "rtmp://" + downAddr + "/live/{name}"}, // nothing listens
			{URL: "rtmfp://" + b.rtmfp + "/live/ok"},     // fine
		}
	}
	ok := b.play(t, "ok")
	l := publishLocal(t, m, "cam")
	for range 10 {
		l.frame()
	}
	if h := ok.next(t); !h.IsSequenceHeader() {
		t.Fatalf("good target: first message %+v", h)
	}
	for range 10 {
		ok.next(t)
	}
	waitFor(t, "three failing targets retried", func() bool {
		n := 0
		for _, st := range m.Status() {
			if st.Failures >= 2 && st.State != StatePublishing {
				n++
			}
		}
		return n == 3
	})
	for sub, reason := range map[string]string{b.rtmp: "BadName", c.rtmp: "NetConnection.Connect.InvalidApp", downAddr: "refused"} {
		st, _ := statusOf(m, sub)
		if !strings.Contains(st.LastError, reason) {
			t.Errorf("%s: last error %q, want %q", sub, st.LastError, reason)
		}
		t.Logf("%s: %s after %d attempts: %s", st.Target, st.State, st.Attempts, st.LastError)
	}
	if st, _ := statusOf(m, "/live/ok"); st.State != StatePublishing || st.Attempts != 1 {
		t.Errorf("good target %+v", st)
	}
	// The name is freed: the target catches up at the next key frame.
	pb := b.play(t, "cam")
	b.ns.Registry.Unpublish(bs, squat)
	waitFor(t, "the refused target publishing", func() bool {
		st, _ := statusOf(m, b.rtmp)
		return st.State == StatePublishing
	})
	for l.ts%400 != 0 {
		l.frame()
	}
	key := l.frame()
	for {
		f := pb.next(t)
		if f.IsSequenceHeader() {
			continue
		}
		if f.Timestamp != key || !f.IsKeyframe() {
			t.Fatalf("resumed with %+v, want the key frame %d", f, key)
		}
		break
	}
	mu.Lock()
	if len(hooked) != 1 || hooked[0] != "live/_definst_/cam" {
		t.Errorf("OnPublish calls %v", hooked)
	}
	mu.Unlock()
}

// TestRelayGivesUp: with MaxAttempts, a target that keeps failing is
// reported as failed and left alone.
func TestRelayGivesUp(t *testing.T) {
	c := startRemote(t, "otherapp")
	m := newManager(t, Config{MaxAttempts: 3, Rules: []Rule{{Targets: []Target{{URL: "rtmp://" + c.rtmp + "/live/{name}"}}}}})
	l := publishLocal(t, m, "cam")
	waitFor(t, "the target given up", func() bool {
		st, _ := statusOf(m, c.rtmp)
		return st.State == StateFailed
	})
	if st, _ := statusOf(m, c.rtmp); st.Attempts != 3 || st.Failures != 3 {
		t.Errorf("status %+v", st)
	}
	l.unpublish(m)
	waitFor(t, "the failed target gone", func() bool { return len(m.Status()) == 0 })
}

// TestRelayModeSent: the target's mode is what the remote is asked for: a
// server without recording publishes the stream live all the same (with
// NetStream.Record.NoAccess, a status), over RTMP and RTMFP alike.
func TestRelayModeSent(t *testing.T) {
	b := startRemote(t)
	m := newManager(t, Config{MaxAttempts: 1, Rules: []Rule{{Targets: []Target{
		{URL: "rtmp://" + b.rtmp + "/live/{name}", Mode: ModeRecord},
		{URL: "rtmfp://" + b.rtmfp + "/live/{name}_2", Mode: ModeRecord},
	}}}})
	l := publishLocal(t, m, "cam")
	defer l.unpublish(m)
	for _, sub := range []string{"rtmp://", "rtmfp://"} {
		waitFor(t, sub+" publishing", func() bool {
			st, _ := statusOf(m, sub)
			return st.State == StatePublishing && st.Mode == ModeRecord
		})
	}
	waitFor(t, "both published remotely", func() bool { return b.publisher("cam") != nil && b.publisher("cam_2") != nil })
}

// TestRelayRecordsOnTarget: record and append targets on an rtmfpd that
// records make files there holding every frame relayed, completed when the
// local stream is unpublished.
func TestRelayRecordsOnTarget(t *testing.T) {
	lib, err := mediafile.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	done := make(chan recorder.Done, 2)
	rec, err := recorder.New(recorder.Config{Library: lib, Logger: quiet, OnRecordDone: func(d recorder.Done) { done <- d }})
	if err != nil {
		t.Fatal(err)
	}
	b := startRemoteWith(t, netstream.Config{Logger: quiet, Recorder: rec})
	m := newManager(t, Config{Rules: []Rule{{Targets: []Target{
		{URL: "rtmp://" + b.rtmp + "/live/{name}", Mode: ModeRecord},
		{URL: "rtmfp://" + b.rtmfp + "/live/{name}_2", Mode: ModeAppend},
	}}}})
	l := publishLocal(t, m, "cam")
	for _, sub := range []string{"rtmp://", "rtmfp://"} {
		waitFor(t, sub+" publishing", func() bool {
			st, _ := statusOf(m, sub)
			return st.State == StatePublishing
		})
	}
	for range 25 {
		l.frame()
	}
	l.unpublish(m)
	for range 2 {
		select {
		case d := <-done:
			if d.Err != nil {
				t.Fatalf("recording %+v", d)
			}
			if frames := videoFrames(t, d.Path); frames != 25 {
				t.Errorf("%s holds %d frames, 25 relayed", d.Path, frames)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no recording completed")
		}
	}
}

// gatedProxy forwards TCP connections to addr once open is closed: a target
// that is slow to answer.
func gatedProxy(t *testing.T, addr string, open <-chan struct{}) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				<-open
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return l.Addr().String()
}

// TestRelayUnpublishWhileConnecting: a stream unpublished while its target
// is still connecting reaches the target whole (the queue is drained once
// the connection is up, within DrainTimeout).
func TestRelayUnpublishWhileConnecting(t *testing.T) {
	lib, err := mediafile.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	done := make(chan recorder.Done, 1)
	rec, err := recorder.New(recorder.Config{Library: lib, Logger: quiet, OnRecordDone: func(d recorder.Done) { done <- d }})
	if err != nil {
		t.Fatal(err)
	}
	b := startRemoteWith(t, netstream.Config{Logger: quiet, Recorder: rec})
	open := make(chan struct{})
	proxy := gatedProxy(t, b.rtmp, open)
	m := newManager(t, Config{Rules: []Rule{{Targets: []Target{{URL: "rtmp://" + proxy + "/live/{name}", Mode: ModeRecord}}}}})
	l := publishLocal(t, m, "cam")
	for range 25 {
		l.frame()
	}
	l.unpublish(m)
	if st, _ := statusOf(m, "rtmp://"); st.State != StateConnecting {
		t.Fatalf("target %s before the proxy opened, want %s", st.State, StateConnecting)
	}
	close(open)
	select {
	case d := <-done:
		if d.Err != nil {
			t.Fatalf("recording %+v", d)
		}
		if frames := videoFrames(t, d.Path); frames != 25 {
			t.Errorf("the target recorded %d frames, 25 published", frames)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the target recorded nothing")
	}
}

// videoFrames counts the video frames (codec headers aside) of an FLV file.
func videoFrames(t *testing.T, path string) int {
	t.Helper()
	msgs, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	frames := 0
	for _, m := range msgs {
		if m.IsVideo() && !m.IsSequenceHeader() {
			frames++
		}
	}
	return frames
}
