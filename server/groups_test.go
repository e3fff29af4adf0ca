package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

const testGroupSpec = "G:027f0201010103010c050e74657374011b00"

// TestDaemonPublishesIntoGroup: with a "groups" rule, a stream published to
// the server over RTMFP is republished into the NetGroup, and a member that
// joins the group through the server plays it over P2P multicast with the
// codec headers before its first key frame.
func TestDaemonPublishesIntoGroup(t *testing.T) {
	d := startJSON(t, `{
		"rtmfp": ["127.0.0.1:0"],
		"rtmp": [],
		"status": "127.0.0.1:0",
		"apps": ["live"],
		"groups": [{"spec": "`+testGroupSpec+`",
			"publish": [{"app": "live", "stream": "cam*", "name": "{app}-{name}",
				"multicast": {"multicastWindowDuration": "4s", "multicastPushNeighborLimit": 2}}]}]
	}`)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/live"

	// The member joins first and plays the stream before it exists.
	pb := groupPlayer(ctx, t, d, "live-cam1")

	c, err := client.Dial(ctx, url, client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, _ := c.CreateStream(ctx)
	if err := st.Publish(ctx, "cam1", "live"); err != nil {
		t.Fatal(err)
	}
	// Publish paced media until the member has what it needs (bounded by
	// ctx).
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go publishSynthetic(pubCtx, st)
	readFromKeyFrame(ctx, t, d, pb, 50)
	stopPub()

	// The server's reports announce the address it is bound to.
	if got := d.reportAddresses(); len(got) != 1 || got[0].String() != d.Endpoints()[0].LocalAddr().String() {
		t.Fatalf("report addresses %v, endpoint %v", got, d.Endpoints()[0].LocalAddr())
	}
	status := getStatus(t, d)
	if len(status.Groups) != 1 || status.Groups[0].Member.Neighbors < 1 || !strings.HasPrefix(status.Groups[0].Spec, "G:") {
		t.Fatalf("groups status %+v", status.Groups)
	}
	if ss := status.Groups[0].Streams; len(ss) != 1 || ss[0].Name != "live-cam1" || ss[0].MulticastInfo.MessagesPublished < 50 || ss[0].MulticastInfo.SentDataBytes == 0 {
		t.Fatalf("group streams status %+v", ss)
	}
}

// publishSynthetic publishes codec headers, then 25 frames a second with a
// key frame each second, until ctx ends.
func publishSynthetic(ctx context.Context, st interface {
	WriteMedia(context.Context, media.Message) error
}) {
	st.WriteMedia(ctx, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 0xAA}})
	st.WriteMedia(ctx, media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}})
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := uint32(0); ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		flag := byte(0x27)
		if i%25 == 0 {
			flag = 0x17
		}
		p := make([]byte, 2000)
		p[0], p[1] = flag, 1
		st.WriteMedia(ctx, media.Message{Type: media.TypeVideo, Timestamp: i * 40, Payload: p})
	}
}

// groupPlayer joins the group through d as a client member and plays name.
func groupPlayer(ctx context.Context, t *testing.T, d *Daemon, name string) *groupstream.Playback {
	t.Helper()
	return groupPlayerIn(ctx, t, d, "live", testGroupSpec, name)
}

// groupPlayerIn joins spec through d's application app as a client member
// and plays name.
func groupPlayerIn(ctx context.Context, t *testing.T, d *Daemon, app, spec, name string) *groupstream.Playback {
	t.Helper()
	url := "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/" + app
	pc, err := client.Dial(ctx, url, client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	m, err := groupstream.JoinClient(ctx, pc, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	pb, err := m.Play(name, multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// readFromKeyFrame reads until frames video frames arrived, checking that
// both codec headers came before the first, a key frame.
func readFromKeyFrame(ctx context.Context, t *testing.T, d *Daemon, pb *groupstream.Playback, frames int) {
	t.Helper()
	var avc, aac bool
	for n := 0; n < frames; {
		msg, err := pb.ReadMedia(ctx)
		if err != nil {
			t.Fatalf("after %d frames: %v; server group %+v", n, err, d.groupStatus())
		}
		if msg.IsSequenceHeader() {
			avc = avc || msg.IsVideo()
			aac = aac || msg.IsAudio()
			continue
		}
		if n == 0 && msg.IsVideo() && !(msg.IsKeyframe() && avc && aac) {
			t.Fatalf("first frame key %v with headers avc %v aac %v: % x", msg.IsKeyframe(), avc, aac, msg.Payload[:min(8, len(msg.Payload))])
		}
		if msg.IsVideo() {
			n++
		}
	}
}

// TestDaemonPublishesFileIntoGroup: a configured FLV file is published
// into the group in a loop; a member plays it from a key frame with its
// codec headers.
func TestDaemonPublishesFileIntoGroup(t *testing.T) {
	file, err := filepath.Abs("../testdata/media/test_6s.flv")
	if err != nil {
		t.Fatal(err)
	}
	d := startJSON(t, `{
		"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"groups": [{"spec": "`+testGroupSpec+`", "files": [{"path": "`+file+`", "loop": true}]}]
	}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	readFromKeyFrame(ctx, t, d, groupPlayer(ctx, t, d, "test_6s"), 30)
}

func TestGroupConfigErrors(t *testing.T) {
	for _, bad := range []string{
		`{"groups": [{"spec": "nonsense"}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "files": [{"path": "/nonexistent.flv"}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "files": [{"path": "../README.md"}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "files": [{}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "publish": [{"stream": "[x"}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "publish": [{"ipMulticast": {"address": "10.0.0.1:1"}}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "publish": [{"ipMulticast": {"address": "224.0.0.254:30000", "ttl": 300}}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "play": [{"name": "cam"}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "play": [{"app": "live"}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "play": [{"name": "a", "app": "live"}, {"name": "a", "app": "x"}]}]}`,
		`{"groups": [{"spec": "` + testGroupSpec + `", "play": [{"name": "a", "app": "live", "multicast": {"multicastFetchPeriod": "soon"}}]}]}`,
	} {
		if _, err := loadJSON(t, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestREADMEConfigurations: every JSON example in the README loads.
func TestREADMEConfigurations(t *testing.T) {
	t.Chdir("..") // the examples' paths are relative to the repository
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```json\n")[1:]
	if len(blocks) < 3 {
		t.Fatalf("%d JSON examples in the README", len(blocks))
	}
	for i, blk := range blocks {
		js, _, ok := strings.Cut(blk, "```")
		if !ok {
			t.Fatalf("example %d not closed", i)
		}
		if _, err := loadJSON(t, js); err != nil {
			t.Errorf("README example %d: %v\n%s", i, err, js)
		}
	}
}

// TestMulticastProperties: the NetStream properties in the configuration
// follow Flash's coercion (seed 002): absent or null is the default, 0 is
// 0, negative is 0, beyond the range is the maximum, numbers are seconds,
// and nothing of it is an error.
func TestMulticastProperties(t *testing.T) {
	def := multicast.DefaultConfig()
	for _, c := range []struct {
		js   string
		want multicast.Config
	}{
		{`{}`, def},
		{`{"multicastFetchPeriod": null, "multicastPushNeighborLimit": null}`, def},
		{`{"multicastFetchPeriod": 0, "multicastWindowDuration": "0s", "multicastRelayMarginDuration": 0,
		   "multicastAvailabilityUpdatePeriod": 0, "multicastPushNeighborLimit": 0}`,
			multicast.Config{}},
		{`{"multicastFetchPeriod": -1, "multicastWindowDuration": "-3s", "multicastPushNeighborLimit": -7}`,
			multicast.Config{UpdatePeriod: def.UpdatePeriod, RelayMargin: def.RelayMargin}},
		{`{"multicastFetchPeriod": 1e12, "multicastWindowDuration": "100000000000h", "multicastRelayMarginDuration": 4294967.295,
		   "multicastAvailabilityUpdatePeriod": "5000000s", "multicastPushNeighborLimit": 1e15}`,
			multicast.Config{Window: multicast.MaxPeriod, FetchPeriod: multicast.MaxPeriod, RelayMargin: multicast.MaxPeriod,
				UpdatePeriod: multicast.MaxPeriod, PushNeighborLimit: multicast.MaxPushNeighborLimit}},
		{`{"multicastFetchPeriod": 0.5, "multicastWindowDuration": 2, "multicastPushNeighborLimit": 1.9, "multicastAvailabilitySendToAll": true}`,
			multicast.Config{Window: 2 * time.Second, FetchPeriod: 500 * time.Millisecond, UpdatePeriod: def.UpdatePeriod,
				RelayMargin: def.RelayMargin, PushNeighborLimit: 1, SendToAll: true}},
	} {
		var mc MulticastConfig
		if err := json.Unmarshal([]byte(c.js), &mc); err != nil {
			t.Errorf("%s: %v", c.js, err)
			continue
		}
		if got := mc.config(); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.js, got, c.want)
		}
	}
	for _, bad := range []string{`{"multicastFetchPeriod": "soon"}`, `{"multicastPushNeighborLimit": "4"}`, `{"multicastWindowDuration": true}`} {
		var mc MulticastConfig
		if err := json.Unmarshal([]byte(bad), &mc); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestDaemonPlaysGroupStream: with a "play" rule the server plays a group
// stream into a server stream (MulticastStreamIngest); a client that does
// not take part in the group plays it over unicast RTMFP, from the first
// key frame with the codec headers, and the status lists the ingest.
func TestDaemonPlaysGroupStream(t *testing.T) {
	d := startJSON(t, `{
		"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0",
		"groups": [{"spec": "`+testGroupSpec+`",
			"play": [{"name": "cam", "app": "live", "stream": "fromgroup"}]}]
	}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/live"
	// A member of the group publishes "cam" into it.
	mc, err := client.Dial(ctx, url, client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	m, err := groupstream.JoinClient(ctx, mc, testGroupSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pub, err := m.Publish("cam", multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go publishSynthetic(pubCtx, pub)
	// A unicast player of the server stream.
	pc, err := client.Dial(ctx, url, client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	st, err := pc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Play(ctx, "fromgroup"); err != nil {
		t.Fatal(err)
	}
	// Audio and video travel on their own RTMFP flows (rtmfpnc), so only
	// the order within each kind is kept: the video header comes before
	// the first video frame, a key frame; the audio header arrives too.
	var avc, aac bool
	frames := 0
	for frames < 50 || !aac {
		msg, err := st.ReadMedia(ctx)
		if err != nil {
			t.Fatalf("after %d frames (audio header %v): %v; status %+v", frames, aac, err, d.groupStatus())
		}
		switch {
		case msg.IsSequenceHeader():
			avc, aac = avc || msg.IsVideo(), aac || msg.IsAudio()
		case msg.IsVideo():
			if frames == 0 && !(msg.IsKeyframe() && avc) {
				t.Fatalf("first frame: key %v, video header %v", msg.IsKeyframe(), avc)
			}
			frames++
		}
	}
	gs := getStatus(t, d).Groups
	if len(gs) != 1 || len(gs[0].Play) != 1 || !gs[0].Play[0].Published || gs[0].Play[0].Stream != "live/_definst_/fromgroup" || gs[0].Play[0].Messages < 50 {
		t.Fatalf("status %+v", gs)
	}
}

// postBox is a netgroup.MessageHandler handing posts to a channel.
type postBox chan string

func (p postBox) Post(_ string, msg []byte, _ profile.PeerID) {
	select {
	case p <- string(msg):
	default:
	}
}
func (p postBox) SendTo(group.Address, []byte, profile.PeerID) {}

// TestDaemonGroupMessages: the server's member posts into its group from
// the Go API (GroupMember) and its Messages hook gets a member's post.
func TestDaemonGroupMessages(t *testing.T) {
	cfg, err := loadJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "groups": [{"spec": "`+testGroupSpec+`"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	serverBox := make(postBox, 4)
	cfg.Groups[0].Messages = serverBox
	d, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, "rtmfp://"+d.Endpoints()[0].LocalAddr().String()+"/live", client.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ep := c.Session().Endpoint()
	go netgroup.Serve(ctx, ep, nil)
	memberBox := make(postBox, 4)
	m, err := netgroup.Join(ctx, netgroup.Config{Endpoint: ep, Spec: testGroupSpec, Rendezvous: netgroup.ClientRendezvous{Conn: c}, Messages: memberBox})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sm := d.GroupMember(testGroupSpec)
	if sm == nil || d.GroupMember("G:00") != nil {
		t.Fatal("GroupMember")
	}
	// Post until the neighbourhood (and its message flows) is up.
	for i := 0; ; i++ {
		if _, err := sm.Post([]byte(fmt.Sprint("from the server ", i))); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-memberBox:
			if !strings.HasPrefix(got, "from the server") {
				t.Fatalf("member got %q", got)
			}
		case <-time.After(200 * time.Millisecond):
			continue
		case <-ctx.Done():
			t.Fatal("the member never got the server's post")
		}
		break
	}
	if _, err := m.Post([]byte("from a member")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-serverBox:
		if got != "from a member" {
			t.Fatalf("server got %q", got)
		}
	case <-ctx.Done():
		t.Fatal("the server never got the member's post")
	}
}
