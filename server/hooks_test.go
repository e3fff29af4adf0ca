package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// hookServer is an HTTP callback server in the test process: it answers
// by the stream name and keeps the bodies it was sent.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]Event // by path
	done   chan string        // paths of the report hooks, as they come
	block  chan struct{}
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{bodies: map[string][]Event{}, done: make(chan string, 100), block: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var e Event
		json.Unmarshal(b, &e)
		h.mu.Lock()
		h.bodies[r.URL.Path] = append(h.bodies[r.URL.Path], e)
		h.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "Done") {
			h.done <- r.URL.Path
			return
		}
		switch {
		case strings.HasPrefix(e.Stream, "deny"):
			http.Error(w, "not this one", http.StatusForbidden)
		case strings.HasPrefix(e.Stream, "redirect"):
			w.Header().Set("Location", "elsewhere")
			w.WriteHeader(http.StatusFound)
		case strings.HasPrefix(e.Stream, "slow"), e.Connect["login"] == "slow":
			<-h.block
		case strings.HasPrefix(e.Stream, "huge"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"description": "` + strings.Repeat("x", 100<<10) + `"}`))
		case strings.HasPrefix(e.Stream, "notjson"):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`<html>`))
		case e.Connect["login"] == "banned":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"allow": false, "description": "banned user"}`))
		case e.Call == "groupJoin":
			http.Error(w, "no groups", http.StatusForbidden)
		}
	}))
	t.Cleanup(h.Close)
	t.Cleanup(func() { close(h.block) }) // runs before Close: handlers end
	return h
}

func (h *hookServer) last(path string) Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.bodies[path]
	if len(b) == 0 {
		return Event{}
	}
	return b[len(b)-1]
}

// TestHTTPHooks: each hook answer (allow, deny, redirect, timeout with
// fail-closed and fail-open, server down, huge and non-JSON answers), the
// body's fields, and the reports, with a real HTTP server.
func TestHTTPHooks(t *testing.T) {
	hs := newHookServer(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"hooks": {"onConnect": "`+hs.URL+`/connect", "onPublishDone": "`+hs.URL+`/publishDone"},
		"apps": [
			{"name": "live", "hooks": {
				"onPublish": {"url": "`+hs.URL+`/publish", "timeout": "200ms"},
				"onPlay": {"url": "`+hs.URL+`/play", "timeout": "200ms", "failOpen": true},
				"onPlayDone": "`+hs.URL+`/playDone",
				"onGroupJoin": "`+hs.URL+`/groupJoin"}},
			{"name": "down", "hooks": {"onPublish": "`+downURL+`/x", "onPlay": {"url": "`+downURL+`/x", "failOpen": true}}}
		]}`)
	ctx := testCtx(t)
	_, err := client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// onConnect sees the connect object's fields.
	banned, err := client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: quiet, Args: []any{fields("login", "banned", "appKey", "k")}})
	if err == nil {
		banned.Close()
	}
	wantPrefix(t, "onConnect denies", statusCode(err), "NetConnection.Connect.Rejected: banned user")
	if e := hs.last("/connect"); e.Connect["login"] != "banned" || e.Connect["appKey"] != "k" || e.App != "live" || e.Proto != "rtmfp" || e.Session == "" || e.Remote == "" {
		t.Errorf("onConnect body %+v", e)
	}
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "allow", publish(t, c, "cam?k=v"), "")
	if e := hs.last("/publish"); e.Stream != "cam" || e.Query["k"] != "v" || e.Mode != "live" || e.Instance != netstream.DefaultInstance {
		t.Errorf("onPublish body %+v", e)
	}
	wantPrefix(t, "deny", publish(t, c, "deny1"), "NetStream.Publish.Failed: not this one")
	wantPrefix(t, "redirect", publish(t, c, "redirect1"), "")
	if _, ok := d.NetStream().Registry.Lookup("live", netstream.DefaultInstance, "elsewhere"); !ok {
		t.Error("the redirect did not publish under the new name")
	}
	wantPrefix(t, "timeout, fail-closed", publish(t, c, "slow1"), "NetStream.Publish.Failed: onPublish did not answer")
	wantPrefix(t, "timeout, fail-open", play(t, c, "slow2"), "")
	wantPrefix(t, "huge answer", publish(t, c, "huge1"), "NetStream.Publish.Failed: onPublish did not answer")
	wantPrefix(t, "answer labelled JSON that is not", publish(t, c, "notjson1"), "NetStream.Publish.Failed: onPublish did not answer")
	dc := dialRTMFP(t, d, "down")
	wantPrefix(t, "server down, fail-closed", publish(t, dc, "x"), "NetStream.Publish.Failed: onPublish did not answer")
	wantPrefix(t, "server down, fail-open", play(t, dc, "x"), "")

	// A group join refused by onGroupJoin: the client's join fails.
	spec, _ := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
	jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.JoinGroup(jctx, spec.GroupID()); err == nil {
		waitUntil(t, 10*time.Second, "the refused join", func() bool { return d.Introducer().Stats().RefusedJoins == 1 })
	}
	if e := hs.last("/groupJoin"); e.Group != spec.GroupID().String() {
		t.Errorf("onGroupJoin body %+v", e)
	}
	if st := d.Introducer().Stats(); st.Members != 0 {
		t.Errorf("a refused member joined: %+v", st)
	}

	// Reports: the stream's end, and the player's.
	c.Close()
	got := map[string]bool{}
	for !got["/publishDone"] || !got["/playDone"] {
		select {
		case p := <-hs.done:
			got[p] = true
		case <-ctx.Done():
			t.Fatalf("reports received: %v", got)
		}
	}
	if e := hs.last("/publishDone"); e.Call != "publishDone" || e.Duration <= 0 {
		t.Errorf("onPublishDone body %+v", e)
	}
}

// TestGoHooks: the typed hooks decide after the rules and the callbacks:
// allow, deny, redirect (a connect gets FMS's ex.redirect).
func TestGoHooks(t *testing.T) {
	var unpublished = make(chan string, 4)
	hooks := Hooks{
		OnConnect: func(ctx context.Context, e *Event) Decision {
			switch e.Connect["login"] {
			case "moved":
				return Redirect("rtmfp://other.example/live")
			case "nobody":
				return Deny("who are you?")
			}
			return Allow()
		},
		OnPublish: func(ctx context.Context, e *Event) Decision {
			if e.Stream == "old" {
				return Redirect("new")
			}
			return Allow()
		},
		OnUnpublish: func(e *Event) { unpublished <- e.Stream },
		OnPlay: func(ctx context.Context, e *Event) Decision {
			if e.Stream == "secret" {
				return Deny("not for you")
			}
			return Allow()
		},
		OnGroupJoin: func(ctx context.Context, e *Event) Decision { return Deny("no groups here") },
	}
	cfg, err := loadJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off"}`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(cfg, quiet, WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	ctx := testCtx(t)
	_, err = client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: quiet, Args: []any{fields("login", "nobody")}})
	wantPrefix(t, "deny", statusCode(err), "NetConnection.Connect.Rejected: who are you?")
	_, err = client.Dial(ctx, rtmfpURL(d, "live"), client.Options{Logger: quiet, Args: []any{fields("login", "moved")}})
	var se *client.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("redirect: %v", err)
	}
	ex, _ := se.Status.Info.Get("ex")
	exo, _ := amf.AsObject(ex)
	if r, _ := exo.GetString("redirect"); r != "rtmfp://other.example/live" || se.Status.Code != netstream.ConnectRejected {
		t.Errorf("redirect: %v ex %v", se.Status, ex)
	}
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "publish redirect", publish(t, c, "old"), "")
	if _, ok := d.NetStream().Registry.Lookup("live", netstream.DefaultInstance, "new"); !ok {
		t.Error("publish not redirected")
	}
	wantPrefix(t, "play deny", play(t, c, "secret"), "NetStream.Play.Failed: not for you")
	c.Close()
	select {
	case name := <-unpublished:
		if name != "new" {
			t.Errorf("OnUnpublish for %q", name)
		}
	case <-ctx.Done():
		t.Fatal("no OnUnpublish")
	}
}

// fields is the object a Flash client passes to connect:
// nc.connect(url, {login: ..., appKey: ...}).
func fields(kv ...string) *amf.Object {
	o := amf.NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i], kv[i+1])
	}
	return o
}

// TestRecordDoneHook: a recording that ends is reported to onRecordDone.
func TestRecordDoneHook(t *testing.T) {
	hs := newHookServer(t)
	root := t.TempDir()
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"media": {"root": "`+root+`", "apps": [{"app": "live", "record": true}]},
		"apps": [{"name": "live", "hooks": {"onRecordDone": "`+hs.URL+`/recordDone"}}]}`)
	c := dialRTMFP(t, d, "live")
	st, err := c.CreateStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(testCtx(t), "cam", "record"); err != nil {
		t.Fatal(err)
	}
	st.WriteMedia(testCtx(t), media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}})
	st.WriteMedia(testCtx(t), media.Message{Type: media.TypeVideo, Timestamp: 40, Payload: []byte{0x27, 1, 0, 0, 0, 1}})
	c.Close()
	select {
	case <-hs.done:
	case <-testCtx(t).Done():
		t.Fatal("no report")
	}
	if e := hs.last("/recordDone"); e.Call != "recordDone" || e.App != "live" || e.Stream != "cam" || e.Mode != "record" ||
		!strings.HasSuffix(e.Path, "cam.flv") || e.File != "cam" {
		t.Errorf("onRecordDone body %+v", e)
	}
}
