package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amsmulticast"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
	"github.com/rtmfpd/rtmfpd/server/access"
)

// amsSpec builds a multicast groupspec named name the way Flash lays it
// out; with a password, the encoder's spec carries its authorization.
func amsSpec(name, password string) *group.Spec {
	b := group.NewSpecBuilder(name).Flag(group.OptFlag01).Flag(group.OptFlag03).Flag(group.OptFlag0C).Flag(group.OptFlag1B)
	if password != "" {
		d := sha256.Sum256([]byte(password))
		b.Option(group.OptPasswordDigest, d[:]).TrailerOption(group.OptAuthorization, []byte(password))
	}
	return b.Build()
}

// amsStreamName is the stream name the multicast configurator gives FMLE:
// the groupspec escape()d as ActionScript does (":" as %3A).
func amsStreamName(name, typ, spec string, extra ...string) string {
	s := name + "?fms.multicast.type=" + typ + "&fms.multicast.groupspec=" + strings.ReplaceAll(spec, ":", "%3A")
	for _, e := range extra {
		s += "&" + e
	}
	return s
}

// watchLeaves reports the groups the service leaves.
func watchLeaves(d *Daemon) <-chan string {
	left := make(chan string, 16)
	d.mcs.mu.Lock()
	d.mcs.onLeave = func(sg *serverGroup) { left <- sg.cfg.Spec }
	d.mcs.mu.Unlock()
	return left
}

// httpGet returns the status and body of a GET on the status listener.
func httpGet(t *testing.T, d *Daemon, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + d.StatusAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestMulticastServiceP2P: an encoder with a token publishes over RTMFP
// with the configurator's stream name for a peer-to-peer event (a group
// with a publish password): the server joins the group and republishes the
// stream, which a member that joined with the manifest's groupspec plays;
// the manifest names that groupspec (without the password) and the stream.
// When the encoder stops, the member hears the end, the manifest goes,
// and the server leaves the group once the stream's window is over.
func TestMulticastServiceP2P(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0",
		"tokens": {"secrets": ["`+testSecret+`"]},
		"apps": [{"name": "multicast", "publish": {"token": true}}],
		"multicastService": {"enabled": true}}`)
	left := watchLeaves(d)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	spec := amsSpec("ams.multicast.p2p", "encoder password")
	playerSpec := spec.WithoutAuthorizations()
	pb := groupPlayerIn(ctx, t, d, "multicast", playerSpec, "livestream")

	c := dialRTMFP(t, d, "multicast")
	name := amsStreamName("livestream", "3", spec.String(), "fms.multicast.windowDuration=2",
		"fms.multicast.relayMarginDuration=0", "fms.multicast.fetchPeriod=0.5")
	// The application's rule: an encoder needs a token.
	wantPrefix(t, "publish without a token", publish(t, c, name), "NetStream.Publish.Failed: a token is required to publish")
	if len(d.mcs.ownGroups()) != 0 {
		t.Fatal("a refused encoder made the server join a group")
	}
	tok := mint(t, access.Claims{App: "multicast", Stream: "livestream", Act: access.ActPublish})
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(ctx, name+"&token="+tok, "live"); err != nil {
		t.Fatal(err)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go publishSynthetic(pubCtx, st)
	readFromKeyFrame(ctx, t, d, pb, 30)

	// The manifest, as OSMF reads it.
	code, body := httpGet(t, d, "/multicast/livestream.f4m")
	if code != http.StatusOK {
		t.Fatalf("manifest: %d %s", code, body)
	}
	m, err := amsmulticast.ParseManifest(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	wantURL := "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/multicast"
	if m.Groupspec != playerSpec || m.StreamName != "livestream" || m.URL != wantURL || strings.Contains(string(body), "encoder password") ||
		!strings.Contains(string(body), `rtmfpGroupspec="`+playerSpec+`"`) || !strings.Contains(string(body), `rtmfpStreamName="livestream"`) {
		t.Fatalf("manifest %+v (want url %s, groupspec %s):\n%s", m, wantURL, playerSpec, body)
	}
	var list []MulticastPublication
	if code, body := httpGet(t, d, "/multicast/"); code != http.StatusOK || json.Unmarshal(body, &list) != nil ||
		len(list) != 1 || list[0].Stream != "livestream" || list[0].Type != 3 || list[0].Groupspec != playerSpec ||
		list[0].Manifest != "/multicast/livestream.f4m" || list[0].GroupID != spec.GroupID().String() {
		t.Fatalf("publications: %d %s", code, body)
	}
	status := getStatus(t, d)
	if len(status.Groups) != 1 || status.Groups[0].Spec != playerSpec || len(status.Groups[0].Streams) != 1 ||
		status.Groups[0].Streams[0].Multicast.WindowDuration != 2 || status.Groups[0].Streams[0].Multicast.FetchPeriod != 0.5 {
		t.Fatalf("status groups %+v", status.Groups)
	}
	if code, _ := httpGet(t, d, "/multicast/other.f4m"); code != http.StatusNotFound {
		t.Fatalf("manifest of a stream not published: %d", code)
	}
	// A reload that lists the group the service is in is refused (one
	// membership per group and endpoint), and the event goes on.
	if err := d.reloadGroups([]GroupConfig{{Spec: playerSpec}}); !errors.Is(err, netgroup.ErrDuplicateGroup) {
		t.Fatalf("reload with the service's group: %v", err)
	}
	for range 10 {
		if _, err := pb.ReadMedia(ctx); err != nil {
			t.Fatalf("after the refused reload: %v", err)
		}
	}

	// The encoder stops.
	stopPub()
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, pb, groupstream.StatusUnpublishNotify)
	if code, _ := httpGet(t, d, "/multicast/livestream.f4m"); code != http.StatusNotFound {
		t.Fatalf("manifest after the end: %d", code)
	}
	select {
	case s := <-left:
		if s != playerSpec {
			t.Fatalf("left %s", s)
		}
	case <-ctx.Done():
		t.Fatal("the server did not leave the group")
	}
	if st := getStatus(t, d); len(st.Groups) != 0 || len(d.mcs.ownGroups()) != 0 {
		t.Fatalf("groups after the leave: %+v", st.Groups)
	}
}

// waitStatus waits for a group stream's status code.
func waitStatus(ctx context.Context, t *testing.T, pb *groupstream.Playback, code string) {
	t.Helper()
	for {
		select {
		case s := <-pb.Status():
			if s == code {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %s", code)
		}
	}
}

// TestMulticastServiceRefusals: each bad parameter is refused with the
// status and a description naming it, over RTMFP and RTMP, and leaves
// nothing behind: no server stream, no group joined for it.
func TestMulticastServiceRefusals(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"apps": ["multicast", "live"],
		"multicastService": {"enabled": true, "groups": ["ams.*"], "maxGroups": 1}}`)
	left := watchLeaves(d)
	a := amsSpec("ams.a", "")
	b := amsSpec("ams.b", "")
	locked := amsSpec("ams.locked", "pw")
	c := dialRTMFP(t, d, "multicast")
	for _, tc := range []struct{ name, want string }{
		{amsStreamName("s1", "4", a.String()), `NetStream.Publish.Failed: fms.multicast.type "4": unknown type`},
		{"s1?fms.multicast.groupspec=" + a.String(), "NetStream.Publish.Failed: fms.multicast.type: required"},
		{amsStreamName("s1", "3", "G:zz"), `NetStream.Publish.Failed: fms.multicast.groupspec "G:zz": malformed`},
		{amsStreamName("s1", "3", locked.WithoutAuthorizations()), "NetStream.Publish.Failed: fms.multicast.groupspec \"" + netstream.Clip(locked.WithoutAuthorizations()) + "\": unauthorised: the group has a password"},
		{amsStreamName("s1", "3", amsSpec("other", "").String()), `NetStream.Publish.Failed: fms.multicast.groupspec "G:`},
		{amsStreamName("s1", "1", a.String()), "NetStream.Publish.Failed: fms.multicast.address: required for a fusion event"},
		{amsStreamName("s1", "1", a.String(), "fms.multicast.address=10.0.0.1:30000"), `NetStream.Publish.Failed: fms.multicast.address "10.0.0.1:30000": not a multicast group address`},
		{amsStreamName("s1", "2", a.String(), "fms.multicast.address=239.255.0.1:30000", "fms.multicast.interface=nosuch0"), `NetStream.Publish.Failed: fms.multicast.interface "nosuch0": no such interface`},
		{amsStreamName("s1", "3", a.String(), "fms.multicast.windowDuration=long"), `NetStream.Publish.Failed: fms.multicast.windowDuration "long": not a number`},
	} {
		wantPrefix(t, tc.name, publish(t, c, tc.name), tc.want)
		if s, ok := d.NetStream().Registry.Lookup("multicast", netstream.DefaultInstance, "s1"); ok && s.Publisher() != nil {
			t.Fatalf("%s: the stream is published", tc.name)
		}
	}
	// The group joined for the bad interface was left at once.
	if s := <-left; s != a.String() {
		t.Fatalf("left %s", s)
	}
	if len(d.mcs.ownGroups()) != 0 || len(d.mcs.publications()) != 0 {
		t.Fatalf("after the refusals: groups %d, publications %d", len(d.mcs.ownGroups()), len(d.mcs.publications()))
	}
	if st := getStatus(t, d); len(st.Groups) != 0 {
		t.Fatalf("status groups %+v", st.Groups)
	}

	// Over RTMP, as FMLE or ffmpeg would publish.
	rc, err := rtmp.Dial(testCtx(t), "rtmp://"+d.RTMPAddrs()[0]+"/multicast", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	wantPrefix(t, "RTMP", statusCode(rc.Publish(testCtx(t), amsStreamName("s1", "0", a.String()), "live")),
		`NetStream.Publish.Failed: fms.multicast.type "0": unknown type`)

	// One encoder per group stream: a second one on another instance is
	// BadName, and the first goes on. maxGroups: a second group is refused.
	if got := publish(t, c, amsStreamName("s1", "3", a.String())); got != "" {
		t.Fatal(got)
	}
	c2 := dialRTMFP(t, d, "multicast/other")
	wantPrefix(t, "second encoder", publish(t, c2, amsStreamName("s1", "3", a.String())),
		`NetStream.Publish.BadName: fms.multicast.groupspec "`+a.String()+`": the group already has a stream "s1" (another encoder publishes it)`)
	wantPrefix(t, "second group", publish(t, c2, amsStreamName("s2", "3", b.String())),
		`NetStream.Publish.Failed: fms.multicast.groupspec "`+b.String()+`": the service is in 1 groups already (multicastService.maxGroups)`)
	if ps := d.mcs.publications(); len(ps) != 1 || ps[0].inst != netstream.DefaultInstance || len(d.mcs.ownGroups()) != 1 {
		t.Fatalf("publications %+v", ps)
	}
	// A stream name without the service's parameters publishes as usual;
	// another application is not the service's.
	if got := publish(t, c, "plain"); got != "" || len(d.mcs.publications()) != 1 {
		t.Fatalf("plain publish: %q", got)
	}
	// The manifests leave the application's HTTP-FLV paths alone.
	req, _ := http.NewRequestWithContext(testCtx(t), "GET", "http://"+d.StatusAddr()+"/multicast/plain.flv", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("HTTP-FLV of multicast/plain: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := publish(t, dialRTMFP(t, d, "live"), amsStreamName("s1", "4", a.String())); got != "" {
		t.Fatalf("another application: %q", got)
	}
}

// TestMulticastServiceConfig: the service's configuration errors name the
// field; it is off unless enabled.
func TestMulticastServiceConfig(t *testing.T) {
	for _, c := range []struct{ js, want string }{
		{`{"apps": ["live"], "multicastService": {"enabled": true}}`, `multicastService.app "multicast" is not one of apps`},
		{`{"multicastService": {"app": "m*"}}`, `multicastService.app "m*": an application name`},
		{`{"multicastService": {"groups": ["["]}}`, `multicastService.groups[0]`},
		{`{"multicastService": {"ipMulticast": {"ttl": 300}}}`, `multicastService.ipMulticast.ttl`},
		{`{"multicastService": {"url": "http://x/"}}`, `multicastService.url`},
	} {
		if _, err := loadJSON(t, c.js); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want …%s…", c.js, err, c.want)
		}
	}
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0"}`)
	if got := publish(t, dialRTMFP(t, d, "multicast"), amsStreamName("s", "3", amsSpec("g", "").String())); got != "" || len(d.mcs.ownGroups()) != 0 {
		t.Fatalf("disabled service: %q, groups %d", got, len(d.mcs.ownGroups()))
	}
	if code, _ := httpGet(t, d, "/multicast/"); code != http.StatusNotFound {
		t.Fatalf("manifests of a disabled service: %d", code)
	}
}

// TestMulticastServiceConfiguredGroup: when the event's group is one of
// the configured groups (joined at startup, so members waiting for the
// event are the server's neighbours already), the service publishes into
// that membership, which stays when the encoder stops.
func TestMulticastServiceConfiguredGroup(t *testing.T) {
	spec := amsSpec("ams.prejoined", "pw")
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0", "apps": ["multicast"],
		"groups": [{"spec": "`+spec.WithoutAuthorizations()+`"}], "multicastService": {"enabled": true}}`)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pb := groupPlayerIn(ctx, t, d, "multicast", spec.WithoutAuthorizations(), "event")
	c := dialRTMFP(t, d, "multicast")
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(ctx, amsStreamName("event", "3", spec.String()), "live"); err != nil {
		t.Fatal(err)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go publishSynthetic(pubCtx, st)
	readFromKeyFrame(ctx, t, d, pb, 20)
	if gs := getStatus(t, d).Groups; len(d.mcs.ownGroups()) != 0 || len(gs) != 1 || len(gs[0].Streams) != 1 || gs[0].Streams[0].Name != "event" {
		t.Fatalf("groups %+v, own %d", gs, len(d.mcs.ownGroups()))
	}
	stopPub()
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, pb, groupstream.StatusUnpublishNotify)
	if gs := getStatus(t, d).Groups; len(gs) != 1 || len(gs[0].Streams) != 0 {
		t.Fatalf("groups after the end %+v", gs)
	}
}

// TestMulticastServiceReloadLeavesGroup: a reload that removes from groups
// the group an event publishes into ends the event's republication: its
// manifest and its entry in the list go, though the encoder goes on.
func TestMulticastServiceReloadLeavesGroup(t *testing.T) {
	spec := amsSpec("ams.reloaded", "")
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0", "apps": ["multicast"],
		"groups": [{"spec": "`+spec.String()+`"}], "multicastService": {"enabled": true}}`)
	if got := publish(t, dialRTMFP(t, d, "multicast"), amsStreamName("event", "3", spec.String())); got != "" {
		t.Fatal(got)
	}
	if code, body := httpGet(t, d, "/multicast/event.f4m"); code != http.StatusOK {
		t.Fatalf("manifest: %d %s", code, body)
	}
	if err := d.reloadGroups(nil); err != nil {
		t.Fatal(err)
	}
	if code, _ := httpGet(t, d, "/multicast/event.f4m"); code != http.StatusNotFound {
		t.Fatalf("manifest after the group was left: %d", code)
	}
	if code, body := httpGet(t, d, "/multicast/"); code != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("publications after the group was left: %d %s", code, body)
	}
	if s, ok := d.NetStream().Registry.Lookup("multicast", netstream.DefaultInstance, "event"); !ok || s.Publisher() == nil {
		t.Fatal("the encoder's stream ended")
	}
}
