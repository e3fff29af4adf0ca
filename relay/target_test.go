package relay

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		url, mode                    string
		conn, name, display, wantErr string
	}{
		{url: "rtmp://origin2/live/{name}", conn: "rtmp://origin2/live", name: "cam", display: "rtmp://origin2/live/cam"},
		{url: "rtmp://origin2:1936/live/inst/{name}_hd", mode: "record", conn: "rtmp://origin2:1936/live/inst", name: "cam_hd"},
		{url: "rtmfp://[::1]:1935/{app}/{instance}/{name}", conn: "rtmfp://[::1]:1935/live/_definst_", name: "cam"},
		{url: "rtmp://h/live/{name}?key=s3cret", conn: "rtmp://h/live", name: "cam?key=s3cret", display: "rtmp://h/live/cam"},
		{url: "rtmp://h/fixed/name", conn: "rtmp://h/fixed", name: "name"},
		{url: "http://h/live/{name}", wantErr: "scheme"},
		{url: "rtmp:///live/x", wantErr: "no host"},
		{url: "rtmp://h/live", wantErr: "last path segment"},
		{url: "rtmp://h/live/", wantErr: "last path segment"},
		{url: "rtmp://h/live/x", mode: "loud", wantErr: "mode"},
		{url: "rtmp://h/%zz/x", wantErr: "invalid"},
	}
	for _, c := range cases {
		r, err := Target{URL: c.url, Mode: c.mode}.resolve("live", "_definst_", "cam")
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want %q", c.url, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if r.connURL != c.conn || r.name != c.name || (c.display != "" && r.display != c.display) {
			t.Errorf("%s: %+v", c.url, r)
		}
		if want := map[string]string{"": "live"}[c.mode]; want != "" && r.mode != want || c.mode != "" && r.mode != c.mode {
			t.Errorf("%s: mode %q", c.url, r.mode)
		}
	}
}

func TestRules(t *testing.T) {
	r := Rule{App: "live*", Instance: "_definst_", Stream: "cam?", Targets: []Target{{URL: "rtmp://h/a/{name}"}}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		app, inst, name string
		want            bool
	}{{"live", "_definst_", "cam1", true}, {"live2", "_definst_", "camX", true}, {"other", "_definst_", "cam1", false},
		{"live", "_definst_", "cam12", false}, {"live", "anotherinstance", "cam1", false}} {
		if r.Matches(c.app, c.inst, c.name) != c.want {
			t.Errorf("%s/%s/%s: %v", c.app, c.inst, c.name, !c.want)
		}
	}
	if !(Rule{}).Matches("any", "inst", "thing") {
		t.Error("empty patterns must match anything")
	}
	for _, bad := range []Rule{
		{Targets: nil},
		{App: "[", Targets: []Target{{URL: "rtmp://h/a/b"}}},
		{Instance: "[", Targets: []Target{{URL: "rtmp://h/a/b"}}},
		{Targets: []Target{{URL: "ftp://h/a/b"}}},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := New(Config{Rules: []Rule{{}}}); err == nil {
		t.Error("New accepted a rule without targets")
	}
}

func TestSetDataFrame(t *testing.T) {
	md := media.Message{Type: media.TypeDataAMF0, Payload: append(append([]byte(nil), onMetaData...), 0x05)}
	got := setDataFrame(md)
	if !strings.HasPrefix(string(got.Payload), "\x02\x00\x0d@setDataFrame\x02\x00\x0aonMetaData") {
		t.Fatalf("%q", got.Payload)
	}
	other := media.Message{Type: media.TypeDataAMF0, Payload: []byte{2, 0, 1, 'x'}}
	if string(setDataFrame(other).Payload) != string(other.Payload) {
		t.Fatal("other data changed")
	}
}

// TestCloseIdleWithExpiredContext: closing a manager with nothing to send
// succeeds even when the context has already expired (a daemon's shutdown
// that used its time elsewhere must not blame an idle relay).
func TestCloseIdleWithExpiredContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 200 {
		m, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Close(ctx); err != nil {
			t.Fatalf("Close of an idle relay with an expired context: %v", err)
		}
	}
}
