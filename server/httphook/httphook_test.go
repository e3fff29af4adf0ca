package httphook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// TestAsk: each kind of answer a hook server gives, over a real HTTP
// server in the test process.
func TestAsk(t *testing.T) {
	block := make(chan struct{})
	var lastBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lastBody.Store(string(b))
		switch r.URL.Path {
		case "/allow":
			w.Write([]byte("OK, whatever text"))
		case "/deny":
			http.Error(w, "no publishing today\nsecond line", http.StatusForbidden)
		case "/deny-json":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"allow": false, "description": "banned user"}`))
		case "/redirect":
			http.Redirect(w, r, "othername", http.StatusFound)
		case "/redirect-json":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"redirect": "rtmfp://edge/live"}`))
		case "/huge":
			w.Write([]byte(strings.Repeat("x", MaxAnswer+10)))
		case "/notjson":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write([]byte("<html>oops</html>"))
		case "/slow":
			<-block
		}
	}))
	defer srv.Close()
	defer close(block) // before the server's Close, which waits for the handlers
	c := New(quiet, time.Millisecond)
	defer c.Close(context.Background())
	ask := func(path string, timeout time.Duration) (Answer, error) {
		return c.Ask(context.Background(), Hook{URL: srv.URL + path, Timeout: timeout}, "onPublish", map[string]string{"app": "live", "stream": "cam"})
	}
	if a, err := ask("/allow", 0); err != nil || !a.Allow {
		t.Errorf("allow: %+v %v", a, err)
	}
	var body map[string]string
	json.Unmarshal([]byte(lastBody.Load().(string)), &body)
	if body["app"] != "live" || body["stream"] != "cam" {
		t.Errorf("body sent: %v", lastBody.Load())
	}
	if a, err := ask("/deny", 0); err != nil || a.Allow || a.Description != "no publishing today" || a.Status != 403 {
		t.Errorf("deny: %+v %v", a, err)
	}
	if a, err := ask("/deny-json", 0); err != nil || a.Allow || a.Description != "banned user" {
		t.Errorf("deny-json: %+v %v", a, err)
	}
	if a, err := ask("/redirect", 0); err != nil || !a.Allow || !strings.HasSuffix(a.Redirect, "othername") {
		t.Errorf("redirect: %+v %v", a, err)
	}
	if a, err := ask("/redirect-json", 0); err != nil || !a.Allow || a.Redirect != "rtmfp://edge/live" {
		t.Errorf("redirect-json: %+v %v", a, err)
	}
	if _, err := ask("/huge", 0); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge: %v", err)
	}
	if _, err := ask("/notjson", 0); err == nil || !strings.Contains(err.Error(), "is not") {
		t.Errorf("not JSON: %v", err)
	}
	if _, err := ask("/slow", 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("slow: %v", err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	if _, err := c.Ask(context.Background(), Hook{URL: url}, "onConnect", nil); err == nil {
		t.Error("server down: no error")
	}
}

// TestNotify: reports are retried until the server accepts them, and
// dropped after the retries.
func TestNotify(t *testing.T) {
	var calls atomic.Int32
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer srv.Close()
	c := New(quiet, time.Millisecond)
	c.Notify(Hook{URL: srv.URL + "/flaky"}, "onPublishDone", map[string]string{"stream": "cam"})
	if b := <-got; !strings.Contains(b, `"cam"`) {
		t.Errorf("report %s", b)
	}
	c.Notify(Hook{URL: srv.URL + "/down", Retries: 2}, "onPlayDone", nil)
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Sent != 1 || st.Dropped != 1 || st.Failed != 2+3 {
		t.Errorf("stats %+v, want 1 sent, 1 dropped, 5 failed attempts", st)
	}
}
