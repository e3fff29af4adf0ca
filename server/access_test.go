package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
	"github.com/rtmfpd/rtmfpd/server/access"
)

const testSecret = "a test secret of enough bytes"

var quiet = slog.New(slog.DiscardHandler)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialRTMFP connects (the test fails if it cannot).
func dialRTMFP(t *testing.T, d *Daemon, path string, args ...any) *client.Conn {
	t.Helper()
	c, err := client.Dial(testCtx(t), rtmfpURL(d, path), client.Options{Logger: quiet, Args: args})
	if err != nil {
		t.Fatalf("connect %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// statusCode returns the code of a refusal, "" for no error.
func statusCode(err error) string {
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.Status.Code + ": " + se.Status.Description
	}
	var re *rtmp.StatusError
	if errors.As(err, &re) {
		return re.Code + ": " + re.Description
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// publish publishes name on a new stream of c; it returns the refusal.
func publish(t *testing.T, c *client.Conn, name string) string {
	t.Helper()
	st, err := c.CreateStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return statusCode(st.Publish(testCtx(t), name, "live"))
}

func play(t *testing.T, c *client.Conn, name string) string {
	t.Helper()
	st, err := c.CreateStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return statusCode(st.Play(testCtx(t), name))
}

func mint(t *testing.T, c access.Claims) string {
	t.Helper()
	if c.Exp == 0 {
		c.Exp = time.Now().Add(time.Hour).Unix()
	}
	tok, err := access.Mint([]byte(testSecret), c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantPrefix(t *testing.T, what, got, want string) {
	t.Helper()
	if want == "" && got != "" || !strings.HasPrefix(got, want) {
		t.Errorf("%s: got %q, want %q...", what, got, want)
	}
}

// TestAccessAddresses: allow and deny lists for connect, publish and play,
// over real sockets from 127.0.0.1.
func TestAccessAddresses(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"apps": [
			{"name": "lan", "connect": {"allow": ["10.0.0.0/8"]}},
			{"name": "live", "publish": {"deny": ["127.0.0.0/8"]}, "play": {"allow": ["127.0.0.1", "::1"]}},
			{"name": "watch", "play": {"allow": ["192.0.2.0/24"]}},
			"open"
		]}`)
	_, err := client.Dial(testCtx(t), rtmfpURL(d, "lan"), client.Options{Logger: quiet})
	wantPrefix(t, "connect from outside the allowed list", statusCode(err), "NetConnection.Connect.Rejected: address 127.0.0.1 is not in the allowed list")
	_, err = client.Dial(testCtx(t), rtmfpURL(d, "nothere"), client.Options{Logger: quiet})
	wantPrefix(t, "unknown app", statusCode(err), "NetConnection.Connect.InvalidApp")
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "denied publish", publish(t, c, "cam"), "NetStream.Publish.Failed: address 127.0.0.1 is denied (127.0.0.0/8)")
	wantPrefix(t, "allowed play", play(t, c, "cam"), "")
	w := dialRTMFP(t, d, "watch")
	wantPrefix(t, "play outside the list", play(t, w, "cam"), "NetStream.Play.Failed: address 127.0.0.1 is not in the allowed list")
	o := dialRTMFP(t, d, "open")
	wantPrefix(t, "open app", publish(t, o, "cam"), "")
	// BadName stays for a name someone else publishes.
	o2 := dialRTMFP(t, d, "open")
	wantPrefix(t, "name in use", publish(t, o2, "cam"), "NetStream.Publish.BadName")
}

// TestAccessTokens: every token case, in the stream name's query, the
// connection URL's query and a connect argument, over RTMFP and RTMP.
func TestAccessTokens(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off",
		"tokens": {"secrets": ["`+testSecret+`"]},
		"apps": [{"name": "live", "publish": {"token": true}, "play": {"token": true}}]}`)
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "no token", publish(t, c, "cam"), "NetStream.Publish.Failed: a token is required to publish")
	pubTok := mint(t, access.Claims{App: "live", Stream: "cam*", Act: access.ActPublish})
	wantPrefix(t, "valid", publish(t, c, "cam1?token="+pubTok), "")
	expired := mint(t, access.Claims{App: "live", Act: access.ActPublish, Exp: time.Now().Add(-time.Minute).Unix()})
	wantPrefix(t, "expired", publish(t, c, "cam2?token="+expired), "NetStream.Publish.Failed: token: token expired at")
	wantPrefix(t, "wrong stream", publish(t, c, "mic?token="+pubTok), "NetStream.Publish.Failed: token: token does not grant this: stream \"mic\"")
	wantPrefix(t, "publish token to play", play(t, c, "cam1?token="+pubTok), "NetStream.Play.Failed: token: token does not grant this: it is for publish")
	otherApp := mint(t, access.Claims{App: "vod", Act: access.ActPublish})
	wantPrefix(t, "other app", publish(t, c, "cam3?token="+otherApp), "NetStream.Publish.Failed: token: token does not grant this: application")
	parts := strings.Split(pubTok, ".")
	forged, _ := access.Mint([]byte("another secret of 16+ bytes"), access.Claims{App: "*", Exp: time.Now().Add(time.Hour).Unix()})
	tampered := strings.Split(forged, ".")[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
	wantPrefix(t, "tampered", publish(t, c, "cam4?token="+tampered), "NetStream.Publish.Failed: token: token signature does not match")
	wantPrefix(t, "malformed", publish(t, c, "cam5?token=%25%00garbage"), "NetStream.Publish.Failed: token: malformed token")

	// In the connection URL's query: a bad one refuses the connect.
	_, err := client.Dial(testCtx(t), rtmfpURL(d, "live?token=garbage"), client.Options{Logger: quiet})
	wantPrefix(t, "malformed at connect", statusCode(err), "NetConnection.Connect.Rejected: token: malformed token")
	playTok := mint(t, access.Claims{App: "live", Act: access.ActPlay})
	q := dialRTMFP(t, d, "live?token="+playTok)
	wantPrefix(t, "token of the connection URL", play(t, q, "anything"), "")
	wantPrefix(t, "play token does not publish", publish(t, q, "cam9"), "NetStream.Publish.Failed: token: token does not grant this")
	// As a connect argument.
	a := dialRTMFP(t, d, "live", pubTok)
	wantPrefix(t, "token as a connect argument", publish(t, a, "cam7"), "")

	// RTMP: rtmp://host/app?token=.../stream.
	rc, err := rtmp.Dial(testCtx(t), "rtmp://"+d.RTMPAddrs()[0]+"/live?token="+pubTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	wantPrefix(t, "RTMP with the token in the app's query", statusCode(rc.Publish(testCtx(t), "cam8", rtmp.ModeLive)), "")
	rc2, err := rtmp.Dial(testCtx(t), "rtmp://"+d.RTMPAddrs()[0]+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	wantPrefix(t, "RTMP without a token", statusCode(rc2.Publish(testCtx(t), "cam10", rtmp.ModeLive)), "NetStream.Publish.Failed: a token is required")
}

// TestDefaultAppAndAppKey: seed 003's applications: a default application
// for URLs that name none, and the application taken from an appKey.
func TestDefaultAppAndAppKey(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "off",
		"apps": ["flashStreamingApp", "key1"], "defaultApp": "flashStreamingApp"}`)
	c := dialRTMFP(t, d, "")
	wantPrefix(t, "rtmfp://host/ publishes", publish(t, c, "s1"), "")
	if _, ok := d.NetStream().Registry.Lookup("flashStreamingApp", netstream.DefaultInstance, "s1"); !ok {
		t.Error("rtmfp://host/ did not land in the default application")
	}
	// rtmp://host/streamName: the application named is not served.
	rc, err := rtmp.Dial(testCtx(t), "rtmp://"+d.RTMPAddrs()[0]+"/s2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Publish(testCtx(t), "s2", rtmp.ModeLive); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.NetStream().Registry.Lookup("flashStreamingApp", netstream.DefaultInstance, "s2"); !ok {
		t.Error("rtmp://host/s2 did not land in the default application")
	}

	q := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off",
		"apps": ["flashStreamingApp", "key1"], "defaultApp": "flashStreamingApp", "appKey": "query"}`)
	k := dialRTMFP(t, q, "live?appKey=key1")
	wantPrefix(t, "appKey in the query", publish(t, k, "s3"), "")
	if _, ok := q.NetStream().Registry.Lookup("key1", netstream.DefaultInstance, "s3"); !ok {
		t.Error("?appKey=key1 did not select key1")
	}
	dflt := dialRTMFP(t, q, "live")
	wantPrefix(t, "no appKey", publish(t, dflt, "s4"), "")
	if _, ok := q.NetStream().Registry.Lookup("flashStreamingApp", netstream.DefaultInstance, "s4"); !ok {
		t.Error("no appKey did not select the default application")
	}
	_, err = client.Dial(testCtx(t), rtmfpURL(q, "live?appKey=nokey"), client.Options{Logger: quiet})
	wantPrefix(t, "unknown appKey", statusCode(err), "NetConnection.Connect.InvalidApp")
}

// TestAccessConfigErrors: mistakes are named.
func TestAccessConfigErrors(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("short\n"), 0o600)
	for js, want := range map[string]string{
		`{"apps": [{"name": "live", "publish": {"allow": ["10.0.0.300/8"]}}]}`:                  "apps[0].publish.allow[0]",
		`{"apps": [{"name": "live", "publish": {"token": true}}]}`:                              "apps[0]: a token is required but tokens has no secret",
		`{"tokens": {"secrets": ["short"]}}`:                                                    "tokens.secrets[0]: shorter than 16 bytes",
		`{"tokens": {"secretFile": "` + secretFile + `"}}`:                                      "tokens.secretFile",
		`{"apps": [{"name": "live", "hooks": {"onPublish": "ftp://x"}}]}`:                       "apps[0].hooks.onPublish.url",
		`{"apps": ["live"], "defaultApp": "other"}`:                                             "defaultApp \"other\" is not one of apps",
		`{"appKey": "header"}`:                                                                  "appKey \"header\"",
		`{"apps": [{"name": "live", "hooks": {"onPlay": {"url": "http://x", "timeout": -1}}}]}`: "apps[0].hooks.onPlay.timeout",
		`{"admin": {"enabled": true}, "status": "0.0.0.0:8935"}`:                                "admin.passwordHash: required",
		`{"admin": {"enabled": true, "passwordHash": "plain"}}`:                                 "admin.passwordHash: not a bcrypt hash",
		`{"apps": [{"name": "live", "publish": {"tokens": true}}]}`:                             "unknown field",
	} {
		_, err := loadJSON(t, js)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
}
