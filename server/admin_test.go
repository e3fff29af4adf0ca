package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// request makes an HTTP request to the status listener, with the basic
// credentials user:pass when user is set, and returns the status and body.
func request(t *testing.T, d *Daemon, method, path, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(t), method, "http://"+d.StatusAddr()+path, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminAPI: credentials, sessions (list, close), streams (list, stop a
// publisher), groups and members, pprof only when asked for.
func TestAdminAPI(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": ["127.0.0.1:0"], "status": "127.0.0.1:0",
		"admin": {"enabled": true, "user": "ops", "passwordHash": "`+string(hash)+`"}}`)
	for _, c := range []struct{ user, pass string }{{"", ""}, {"ops", "wrong"}, {"root", "s3cret"}} {
		if code, body := request(t, d, "GET", "/admin/sessions", c.user, c.pass); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("%v: %d %s", c, code, body)
		}
	}
	get := func(path string, v any) {
		t.Helper()
		code, body := request(t, d, "GET", path, "ops", "s3cret")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "publish", publish(t, c, "cam"), "")
	spec, _ := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
	if _, err := c.JoinGroup(testCtx(t), spec.GroupID()); err != nil {
		t.Fatal(err)
	}
	rc, err := rtmp.Dial(testCtx(t), "rtmp://"+d.RTMPAddrs()[0]+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.Publish(testCtx(t), "enc", rtmp.ModeLive); err != nil {
		t.Fatal(err)
	}
	var sessions []SessionInfo
	get("/admin/sessions", &sessions)
	if len(sessions) != 2 {
		t.Fatalf("sessions %+v", sessions)
	}
	var streams []StreamStatus
	get("/admin/streams", &streams)
	if len(streams) != 2 || streams[0].Key != "live/_definst_/cam" {
		t.Errorf("streams %+v", streams)
	}
	waitUntil(t, 10e9, "the member", func() bool { return d.Introducer().Stats().Members == 1 })
	var groups []GroupInfo
	get("/admin/groups", &groups)
	if len(groups) != 1 || groups[0].Members != 1 {
		t.Errorf("groups %+v", groups)
	}
	var members GroupInfo
	get("/admin/groups/"+groups[0].Group, &members)
	if len(members.PeerIDs) != 1 || members.PeerIDs[0] != c.Session().Endpoint().PeerID().String() {
		t.Errorf("members %+v", members)
	}
	if code, _ := request(t, d, "GET", "/admin/groups/nothex", "ops", "s3cret"); code != http.StatusBadRequest {
		t.Errorf("bad group ID: %d", code)
	}
	// Stop the RTMP publisher: its connection is closed.
	if code, body := request(t, d, "DELETE", "/admin/streams/live/_definst_/enc", "ops", "s3cret"); code != http.StatusOK {
		t.Fatalf("stop publisher: %d %s", code, body)
	}
	waitUntil(t, 10e9, "the publisher gone", func() bool {
		s, ok := d.NetStream().Registry.Lookup("live", "_definst_", "enc")
		return !ok || s.Publisher() == nil
	})
	if code, _ := request(t, d, "DELETE", "/admin/streams/live/_definst_/nobody", "ops", "s3cret"); code != http.StatusNotFound {
		t.Errorf("stop nobody: %d", code)
	}
	// Close the RTMFP session.
	id := c.Session().Endpoint().PeerID().String()
	if code, body := request(t, d, "DELETE", "/admin/sessions/"+id, "ops", "s3cret"); code != http.StatusOK {
		t.Fatalf("close session: %d %s", code, body)
	}
	<-c.Done()
	if code, _ := request(t, d, "DELETE", "/admin/sessions/"+id, "ops", "s3cret"); code != http.StatusNotFound {
		t.Errorf("closing a closed session: %d", code)
	}
	if code, _ := request(t, d, "GET", "/debug/pprof/", "ops", "s3cret"); code != http.StatusNotFound {
		t.Errorf("pprof served without admin.pprof: %d", code)
	}
}

// TestAdminLoopbackOnly: without a password the admin API (and pprof,
// when asked for) answers loopback clients.
func TestAdminLoopbackOnly(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0", "admin": {"enabled": true, "pprof": true}}`)
	if code, body := request(t, d, "GET", "/admin/sessions", "", ""); code != http.StatusOK || strings.TrimSpace(body) != "null" {
		t.Errorf("sessions: %d %s", code, body)
	}
	if code, _ := request(t, d, "GET", "/debug/pprof/", "", ""); code != http.StatusOK {
		t.Errorf("pprof: %d", code)
	}
	off := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0"}`)
	if code, _ := request(t, off, "GET", "/admin/sessions", "", ""); code != http.StatusNotFound {
		t.Errorf("admin API served while not enabled: %d", code)
	}
}

// TestReload: a valid file replaces the rules without dropping the
// session; an invalid one is refused with its error and the old rules are
// kept; both from the admin API.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rtmfpd.json")
	write := func(js string) {
		if err := os.WriteFile(path, []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := `"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0", "admin": {"enabled": true}`
	write(`{` + base + `, "apps": [{"name": "live", "publish": {"deny": ["127.0.0.1"]}}]}`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(cfg, quiet, WithConfigSource(func() (Config, error) { return Load(path) }))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(t.Context())
	c := dialRTMFP(t, d, "live")
	wantPrefix(t, "denied before", publish(t, c, "a"), "NetStream.Publish.Failed: address 127.0.0.1 is denied")

	write(`{` + base + `, "apps": ["live", "other"]}`)
	if code, body := request(t, d, "POST", "/admin/reload", "", ""); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	wantPrefix(t, "allowed after, same session", publish(t, c, "b"), "")
	dialRTMFP(t, d, "other")

	write(`{` + base + `, "apps": [{"name": "live", "publish": {"allow": ["not an address"]}}]}`)
	code, body := request(t, d, "POST", "/admin/reload", "", "")
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `apps[0].publish.allow[0]: \"not an address\"`) {
		t.Errorf("invalid reload: %d %s", code, body)
	}
	wantPrefix(t, "old rules kept", publish(t, c, "c"), "")
	select {
	case <-c.Done():
		t.Fatal("the session was dropped")
	default:
	}
	// A field that needs a restart is kept as started (and logged); the
	// rest applies.
	write(`{"rtmfp": ["127.0.0.1:1"], "rtmp": [], "status": "127.0.0.1:0", "admin": {"enabled": true}, "apps": ["live"]}`)
	if err := d.ReloadFromSource(); err != nil {
		t.Fatal(err)
	}
	dialRTMFP(t, d, "live")
	_, err = client.Dial(testCtx(t), rtmfpURL(d, "other"), client.Options{Logger: quiet})
	wantPrefix(t, "app removed by the reload", statusCode(err), "NetConnection.Connect.InvalidApp")
	// /metrics counts the reloads that applied.
	_, m := request(t, d, "GET", "/metrics", "", "")
	if !regexp.MustCompile(`(?m)^rtmfpd_config_reloads_total 2$`).MatchString(m) {
		t.Errorf("config_reloads_total not 1 in:\n%s", grepLines(m, "reload"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReloadGroups: a reload joins a new group, keeps an unchanged one as
// it is, and leaves one no longer listed; client sessions stay.
func TestReloadGroups(t *testing.T) {
	d := startJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off"}`)
	c := dialRTMFP(t, d, "live")
	const other = "G:027f0201010103010c060e6f74686572011b00"
	reload := func(js string) {
		t.Helper()
		cfg, err := loadJSON(t, js)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	specs := func() []string {
		var out []string
		for _, g := range d.groupStatus() {
			out = append(out, g.Spec)
		}
		return out
	}
	reload(`{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "groups": [{"spec": "` + testGroupSpec + `", "publish": [{"app": "live"}]}]}`)
	if s := specs(); len(s) != 1 || s[0] != testGroupSpec {
		t.Fatalf("after joining: %v", s)
	}
	first := d.groupList()[0]
	wantPrefix(t, "publish into the new group", publish(t, c, "cam"), "")
	waitUntil(t, 10e9, "the group stream", func() bool { return len(d.groupStatus()[0].Streams) == 1 })
	reload(`{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "groups": [{"spec": "` + testGroupSpec + `", "publish": [{"app": "live"}]}, {"spec": "` + other + `"}]}`)
	if s := specs(); len(s) != 2 || d.groupList()[0] != first {
		t.Fatalf("after adding: %v (the unchanged group must be kept)", s)
	}
	reload(`{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off", "groups": [{"spec": "` + other + `"}]}`)
	if s := specs(); len(s) != 1 || s[0] != other {
		t.Fatalf("after removing: %v", s)
	}
	select {
	case <-c.Done():
		t.Fatal("the client's session was dropped")
	default:
	}
}
