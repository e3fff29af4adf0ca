package server

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amsmulticast"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/internal/netns"
	"github.com/rtmfpd/rtmfpd/internal/testtools"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// ffmpegAMS starts ffmpeg publishing src in real time over RTMP to the
// multicast application with an AMS multicast stream name (as FMLE does:
// the query is part of the stream name).
func ffmpegAMS(ctx context.Context, t *testing.T, d *Daemon, src, streamName string) *exec.Cmd {
	t.Helper()
	cmd := testtools.FFmpegCommand(ctx, t, "-re", "-i", src, "-c", "copy", "-f", "flv",
		"rtmp://"+d.RTMPAddrs()[0]+"/multicast/"+streamName)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("ffmpeg: %v\n%s", err, out.String())
		}
	})
	return cmd
}

// readVideo reads n video frames.
func readVideo(ctx context.Context, t *testing.T, pb *groupstream.Playback, n int) {
	t.Helper()
	for got := 0; got < n; {
		m, err := pb.ReadMedia(ctx)
		if err != nil {
			t.Fatalf("after %d frames: %v", got, err)
		}
		if m.IsVideo() && !m.IsSequenceHeader() {
			got++
		}
	}
}

// TestMulticastServiceFFmpegP2P: ffmpeg publishes over RTMP with the
// configurator's stream name for a peer-to-peer event; a member of the
// group plays the stream from its first key frame with the codec headers,
// and the manifest names the group and the stream. An RTMP player of the
// application with the URL AMS's RTMP players used
// (rtmp://host/multicast/livestream?fms.multicast.type=3; ffprobe here)
// plays the encoder's stream to its end, every frame.
func TestMulticastServiceFFmpegP2P(t *testing.T) {
	testtools.Require(t, "ffmpeg", "ffprobe")
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"apps": ["multicast"], "multicastService": {"enabled": true}}`)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	spec := amsSpec("ams.ffmpeg", "secret")
	src := testtools.GenerateFLV(t, 8)
	pb := groupPlayerIn(ctx, t, d, "multicast", spec.WithoutAuthorizations(), "livestream")
	probed := make(chan []testtools.Stream, 1)
	go func() {
		probed <- testtools.ProbeContext(ctx, t, "rtmp://"+d.RTMPAddrs()[0]+"/multicast/livestream?fms.multicast.type=3")
	}()
	waitUntil(t, 30*time.Second, "ffprobe playing", func() bool {
		s, ok := d.NetStream().Registry.Lookup("multicast", netstream.DefaultInstance, "livestream")
		return ok && s.Subscribers() == 1
	})
	ffmpegAMS(ctx, t, d, src, amsStreamName("livestream", "3", spec.String()))
	readFromKeyFrame(ctx, t, d, pb, 45) // 3 s at 15 frames/s
	code, body := httpGet(t, d, "/multicast/livestream.f4m")
	m, err := amsmulticast.ParseManifest(body)
	if code != 200 || err != nil || m.Groupspec != spec.WithoutAuthorizations() || m.StreamName != "livestream" {
		t.Fatalf("manifest %d %+v %v:\n%s", code, m, err, body)
	}
	waitStatus(ctx, t, pb, groupstream.StatusUnpublishNotify)
	got, want := <-probed, testtools.Probe(t, src)
	for _, kind := range []string{"video", "audio"} {
		g, _ := testtools.Find(got, kind)
		w, _ := testtools.Find(want, kind)
		if w.Frames == 0 || g.Frames != w.Frames || !g.SameCodec(w) {
			t.Errorf("%s over RTMP: %+v, source %+v", kind, g, w)
		}
	}
}

// TestMulticastServiceFFmpegFusion: ffmpeg publishes a fusion event (type
// 1) over RTMP, in a private network namespace. The member plays the group
// stream with the groupspec of the manifest, and once it listens on the IP
// multicast address the groupspec lists, it merges the fragments that come
// over IP multicast with those that came over P2P. The event's push limit
// is 0: after a new member's first second (pushed to it whatever the
// limit), fragments reach it over IP multicast, or pulled from a peer
// when IP multicast missed one. An IP multicast event (type 2) with the
// same groupspec is sent the same way (the server serves P2P to any member
// that asks; a Flash member of a P2P-disabled spec would not ask).
func TestMulticastServiceFFmpegFusion(t *testing.T) {
	for _, typ := range []string{"1", "2"} {
		t.Run("type"+typ, func(t *testing.T) {
			netns.Run(t, func(t *testing.T) { ffmpegIPMulticastEvent(t, typ) })
		})
	}
}

// ffmpegIPMulticastEvent runs an event of type typ (1 or 2) with ffmpeg.
func ffmpegIPMulticastEvent(t *testing.T, typ string) {
	testtools.Require(t, "ffmpeg")
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"apps": ["multicast"], "multicastService": {"enabled": true, "ipMulticast": {"interface": "lo", "loopback": true}}}`)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ga := netip.MustParseAddrPort("239.255.0.1:30000")
	spec := group.NewSpecBuilder("ams.fusion").Flag(group.OptFlag01).Flag(group.OptFlag0C).Flag(group.OptFlag1B).IPMulticast(ga).Build()
	src := testtools.GenerateFLV(t, 10)
	pb := groupPlayerIn(ctx, t, d, "multicast", spec.String(), "livestream")
	ffmpegAMS(ctx, t, d, src, amsStreamName("livestream", typ, spec.String(),
		"fms.multicast.address="+ga.String(), "fms.multicast.pushNeighborLimit=0"))
	readFromKeyFrame(ctx, t, d, pb, 10)
	p2p := pb.Stats()
	if p2p.FragmentsPushedFromPeers+p2p.FragmentsRequestedFromPeers == 0 {
		t.Fatalf("the first frames came from no peer: %+v", p2p)
	}
	if err := pb.ListenIPMulticast(spec.IPMulticastAddresses(), ipmulticast.ReceiverOptions{Interfaces: []string{"lo"}}); err != nil {
		t.Fatal(err)
	}
	readVideo(ctx, t, pb, 60)
	st, ip := pb.Stats(), pb.IPMulticastStats()
	if st.FragmentsReceivedFromIPMulticast == 0 || ip.Datagrams == 0 {
		t.Fatalf("nothing from IP multicast: %+v, %+v", st, ip)
	}
	t.Logf("fragments from IP multicast %d, pushed by peers %d, pulled from peers %d",
		st.FragmentsReceivedFromIPMulticast, st.FragmentsPushedFromPeers, st.FragmentsRequestedFromPeers)
	var sent bool
	for _, g := range getStatus(t, d).Groups {
		for _, s := range g.Streams {
			sent = sent || s.Name == "livestream" && s.IPMulticast == ga.String() &&
				s.IPMulticastSent != nil && s.IPMulticastSent.Datagrams > 0 && s.IPMulticastSent.Errors == 0
		}
	}
	if !sent {
		t.Fatalf("status: %s", fmt.Sprint(getStatus(t, d).Groups))
	}
	waitStatus(ctx, t, pb, groupstream.StatusUnpublishNotify)
}
