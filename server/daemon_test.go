package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/media"
)

func TestDaemonServesAndReports(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadJSON(t, `{
		"rtmfp": ["127.0.0.1:0"],
		"status": "127.0.0.1:0",
		"identityFile": "`+filepath.Join(dir, "id.key")+`",
		"apps": ["live"],
		"session": {"keepalive": "5s"}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	d, err := Start(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	peerID := d.PeerID()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "rtmfp://" + d.Endpoints()[0].LocalAddr().String() + "/live"
	c, err := client.Dial(ctx, url, client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := c.CreateStream(ctx)
	if err := st.Publish(ctx, "cam", "live"); err != nil {
		t.Fatal(err)
	}
	st.WriteMedia(ctx, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0}})
	// An application that is not configured is refused.
	if _, err := client.Dial(ctx, "rtmfp://"+d.Endpoints()[0].LocalAddr().String()+"/other", client.Options{Logger: log}); err == nil {
		t.Fatal("connect to an unknown app accepted")
	}
	// Group membership through clients whose sessions are read in
	// arrival order: the second member is told about the first.
	spec, _ := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
	g1, err := c.JoinGroup(ctx, spec.GroupID())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := client.Dial(ctx, url, client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := c2.JoinGroup(ctx, spec.GroupID())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-g2.Members():
		if id != c.Session().Endpoint().PeerID() {
			t.Fatal("introduced to the wrong member")
		}
	case <-ctx.Done():
		t.Fatal("no member introduced")
	}
	select {
	case id := <-g1.Members():
		if id != c2.Session().Endpoint().PeerID() {
			t.Fatal("first member told about the wrong newcomer")
		}
	case <-ctx.Done():
		t.Fatal("first member not told about the newcomer")
	}
	c2.Close()
	status := getStatus(t, d)
	if status.NetStream.Publishes != 1 || status.NetStream.Rejects != 1 || len(status.Streams) != 1 || status.Streams[0].Key != "live/_definst_/cam" {
		t.Fatalf("status %+v", status)
	}
	c.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := d.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	// The identity survives a restart.
	d2, err := Start(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Shutdown(context.Background())
	if d2.PeerID() != peerID {
		t.Fatal("peer ID changed across restarts with an identity file")
	}
}

// getStatus fetches GET /status.
func getStatus(t *testing.T, d *Daemon) Status {
	t.Helper()
	resp, err := http.Get("http://" + d.StatusAddr() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// loadJSON loads a configuration file holding js.
func loadJSON(t *testing.T, js string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rtmfpd.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

// startJSON starts a daemon from the configuration js, shut down at the
// end of the test.
func startJSON(t *testing.T, js string) *Daemon {
	t.Helper()
	cfg, err := loadJSON(t, js)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return d
}

func TestConfigErrors(t *testing.T) {
	for _, bad := range []string{`{"rtmfp": ["nonsense"]}`, `{"rtmp": ["1935"]}`, `{"rtmpOptions": {"chunkSize": -1}}`, `{"logLevel": "loud"}`, `{"unknownField": 1}`, `{"status": "x"}`} {
		if _, err := loadJSON(t, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
