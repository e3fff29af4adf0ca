package groupstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

var quiet = slog.New(slog.DiscardHandler)

const testSpec = "G:027f0201010103010c050e74657374011b00"

// server runs the introducer and NetConnection stack on h and joins the
// group as a member itself, with g as its multicast layer.
func server(t testing.TB, h *simnet.Host, g *Group) string {
	in := introducer.New(introducer.Config{Logger: quiet})
	var ep *rtmfp.Endpoint
	ep = rtmfptest.Endpoint(t, h, 1935, rtmfp.Config{OnIntroduction: in.Hook(&ep), StartupRate: 1e6, StartupBurst: 1e6})
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	nc := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet, OnConn: in.AddConn, OnGroupFlow: in.HandleGroupFlow})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go netgroup.Serve(ctx, ep, func(s *rtmfp.Session) { go nc.HandleSession(s) })
	m, err := netgroup.Join(ctx, netgroup.Config{Endpoint: ep, Spec: testSpec, Logger: quiet,
		Rendezvous: netgroup.ServerRendezvous{Introducer: in, Endpoint: ep}, Handler: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	lastServerMember = m
	return fmt.Sprintf("rtmfp://%s/app", ep.LocalAddr())
}

// lastServerMember and lastPlayerMember let failing tests report the mesh.
var lastServerMember, lastPlayerMember *netgroup.Member

// player joins the group from a new host and plays name.
func player(t testing.TB, n *simnet.Network, url, name string) *Playback {
	pb, err := member(t, n, url).Play(name, multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// member joins the group from a new host through the server at url.
func member(t testing.TB, n *simnet.Network, url string) *Group {
	h, err := n.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	ep := rtmfptest.Endpoint(t, h, 0, rtmfp.Config{HandshakeTimeout: 10 * time.Second})
	ctx := context.Background()
	c, err := client.Dial(ctx, url, client.Options{Endpoint: ep, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go netgroup.Serve(ctx, ep, nil)
	g := New(quiet)
	t.Cleanup(g.Close)
	m, err := netgroup.Join(ctx, netgroup.Config{Endpoint: ep, Spec: testSpec, Logger: quiet,
		Rendezvous: netgroup.ClientRendezvous{Conn: c}, Handler: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	lastPlayerMember = m
	return g
}

// publishPaced writes msgs when their timestamps fall due (real time, or
// the bubble's).
func publishPaced(t testing.TB, msgs []media.Message, write func(media.Message) error) {
	start := time.Now()
	for _, m := range msgs {
		if d := time.Duration(m.Timestamp)*time.Millisecond - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if err := write(m); err != nil {
			t.Error(err)
			return
		}
	}
}

// readUntilIdle reads pb until nothing arrives for idle.
func readUntilIdle(pb *Playback, idle time.Duration) []media.Message {
	var got []media.Message
	for {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		m, err := pb.ReadMedia(ctx)
		cancel()
		if err != nil {
			return got
		}
		got = append(got, m)
	}
}

// synthetic makes rate bit/s of synthetic media for d: 25 video frames per
// second with a key frame each second, and audio.
func synthetic(rate int, d time.Duration) []media.Message {
	var out []media.Message
	for sec := 0; time.Duration(sec)*time.Second < d; sec++ {
		for i := range 25 {
			n := rate / 8 / 30
			flag := byte(0x27)
			if i == 0 {
				n, flag = n*5, 0x17
			}
			p := make([]byte, n)
			p[0], p[1] = flag, 1
			ts := uint32(sec*1000 + i*40)
			p[2], p[3] = byte(ts>>8), byte(ts)
			out = append(out, media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: p})
			a := make([]byte, 100)
			a[0], a[1], a[2], a[3] = 0xaf, 1, byte(ts>>8), byte(ts)
			out = append(out, media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: a})
		}
	}
	return out
}

// TestServerPublishesIntoGroup: the server, a member of the group,
// publishes a stream into P2P multicast; client members play it over the
// mesh and receive the media in order and intact.
func TestServerPublishesIntoGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 3, Link: simnet.LinkConfig{Delay: 20 * time.Millisecond, Jitter: 3 * time.Millisecond, Loss: 0.01}})
		defer n.Close()
		sh, _ := n.NewHost()
		sg := New(quiet)
		t.Cleanup(sg.Close)
		url := server(t, sh, sg)
		const players = 8
		var pbs []*Playback
		for range players {
			pbs = append(pbs, player(t, n, url, "cam"))
		}
		time.Sleep(20 * time.Second) // the mesh forms
		pub, err := sg.Publish("cam", multicast.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sg.Publish("cam", multicast.Config{}); !errors.Is(err, ErrNameInUse) {
			t.Fatalf("second publish of the same name: %v", err)
		}
		msgs := synthetic(500_000, 20*time.Second)
		publishPaced(t, msgs, func(m media.Message) error { return pub.WriteMedia(context.Background(), m) })
		time.Sleep(12 * time.Second) // window + margin
		pst := pub.Stats()
		pub.Close()
		for i, pb := range pbs {
			got := readUntilIdle(pb, time.Second)
			if len(got) < len(msgs)/2 {
				t.Fatalf("player %d got %d of %d messages; stats %+v", i, len(got), len(msgs), pb.Stats())
			}
			// Players join at the live edge: everything from their first
			// message on must be there, in order and intact.
			first := -1
			for k, m := range msgs {
				if m.Timestamp == got[0].Timestamp && m.Type == got[0].Type {
					first = k
					break
				}
			}
			// Video starts at a key frame: the inter frames before the
			// first one are not delivered.
			var want []media.Message
			keyed := false
			for _, m := range msgs[first:] {
				if m.IsVideo() {
					keyed = keyed || m.IsKeyframe()
					if !keyed {
						continue
					}
				}
				want = append(want, m)
			}
			if len(got) < len(want)*999/1000 {
				t.Fatalf("player %d: %d of %d messages after its join", i, len(got), len(want))
			}
			for k := range got {
				if k >= len(want) || !bytes.Equal(got[k].Payload, want[k].Payload) {
					t.Fatalf("player %d message %d differs", i, k)
				}
			}
		}
		t.Logf("publisher: %d neighbours fed; pushed %d fragments, pulled %d", players, pst.FragmentsPushedToPeers, pst.FragmentsRequestedByPeers)
	})
}

type fakePublisher struct{}

func (fakePublisher) PublisherName() string { return "test" }

// TestPublishStream: a server stream republished into the group reaches a
// member that joins late with the codec headers before its first key frame,
// and ends when the source unpublishes.
func TestPublishStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 4, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		sg := New(quiet)
		t.Cleanup(sg.Close)
		url := server(t, sh, sg)
		reg, src, sp := republish(t, sg)
		src.Write(fakePublisher{}, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 0xAA}})
		src.Write(fakePublisher{}, media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}})
		msgs := synthetic(200_000, 30*time.Second)
		published := make(chan struct{})
		go func() {
			defer close(published)
			publishPaced(t, msgs, func(m media.Message) error { src.Write(fakePublisher{}, m); return nil })
		}()
		time.Sleep(12 * time.Second) // the member joins late, mid-stream
		pb := player(t, n, url, "cam")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// The member joined mid-GOP: by its first key frame it must have
		// got both codec headers, sent again just before that key frame.
		var avc, aac bool
		for {
			m, err := pb.ReadMedia(ctx)
			if err != nil {
				t.Fatalf("%v; server member %+v; player member %+v", err, lastServerMember.Stats(), lastPlayerMember.Stats())
			}
			if m.IsSequenceHeader() {
				avc = avc || m.IsVideo()
				aac = aac || m.IsAudio()
				continue
			}
			if m.IsVideo() && m.IsKeyframe() {
				if !avc || !aac {
					t.Fatalf("first key frame without the codec headers (avc %v aac %v)", avc, aac)
				}
				break
			}
		}
		// The source stops: the group stream ends.
		<-published
		reg.Unpublish(src, fakePublisher{})
		select {
		case <-sp.s.ended:
		case <-time.After(time.Minute):
			t.Fatal("group stream did not end with its source")
		}
		for {
			select {
			case code := <-pb.Status():
				if code == StatusUnpublishNotify {
					return
				}
			case <-time.After(time.Minute):
				t.Fatal("player not told of the end of the stream")
			}
		}
	})
}

// groupWithPlayer runs, on a simulated network of 10 ms links (in a
// synctest bubble), a server whose group stream is sg and one player of its
// stream "cam".
func groupWithPlayer(t *testing.T) (*Group, *Playback) {
	n := simnet.New(simnet.Config{Seed: 5, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond}})
	t.Cleanup(func() { n.Close() })
	sh, _ := n.NewHost()
	sg := New(quiet)
	t.Cleanup(sg.Close)
	url := server(t, sh, sg)
	return sg, player(t, n, url, "cam")
}

// TestPublishStreamDeliversItsQueue: when the source unpublishes right
// after a burst (an encoder's last frames), the group gets every message
// the republication still held before the stream ends.
func TestPublishStreamDeliversItsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sg, pb := groupWithPlayer(t)
		time.Sleep(10 * time.Second) // the mesh forms
		reg, src, sp := republish(t, sg)
		msgs := synthetic(200_000, 4*time.Second)
		publishPaced(t, msgs[:100], func(m media.Message) error { src.Write(fakePublisher{}, m); return nil })
		for _, m := range msgs[100:] { // the rest at once, then the end
			src.Write(fakePublisher{}, m)
		}
		reg.Unpublish(src, fakePublisher{})
		<-sp.Closed()
		got := readUntilIdle(pb, 5*time.Second)
		if len(got) == 0 || got[len(got)-1].Timestamp != msgs[len(msgs)-1].Timestamp || got[len(got)-1].Type != msgs[len(msgs)-1].Type {
			t.Fatalf("got %d messages, the last %+v; want the last of %d", len(got), got[len(got)-1:], len(msgs))
		}
	})
}

// republish publishes a server stream live/cam in a new registry and
// republishes it into sg's group as "cam", closed at the end of the test.
func republish(t *testing.T, sg *Group) (*netstream.Registry, *netstream.Stream, *StreamPublication) {
	t.Helper()
	reg := netstream.NewRegistry()
	src, err := reg.Publish("live", netstream.DefaultInstance, "cam", fakePublisher{})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := sg.PublishStream(src, "cam", multicast.Config{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	return reg, src, sp
}
