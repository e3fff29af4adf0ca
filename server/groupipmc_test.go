package server

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/netns"
)

// recordHandler passes the records whose message is msg to a channel.
type recordHandler struct {
	msg   string
	out   chan slog.Record
	attrs []slog.Attr
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		r = r.Clone()
		r.AddAttrs(h.attrs...)
		select {
		case h.out <- r:
		default:
		}
	}
	return nil
}
func (h recordHandler) WithAttrs(a []slog.Attr) slog.Handler {
	h.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], a...)
	return h
}
func (h recordHandler) WithGroup(string) slog.Handler { return h }

// TestGroupIPMulticastSendErrors: a group stream the server sends to
// native IP multicast on a host where the group is unreachable (a route
// says so, as a host with no multicast route does): one warning line with
// the error, not one per datagram, the failures counted in /status and
// /metrics, and P2P publishing goes on. It runs in a private network
// namespace.
func TestGroupIPMulticastSendErrors(t *testing.T) {
	netns.Run(t, func(t *testing.T) {
		if err := netns.AddUnreachableRoute(netip.MustParsePrefix("239.255.0.0/16")); err != nil {
			t.Fatal(err)
		}
		file, err := filepath.Abs("../testdata/media/test_6s.flv")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := loadJSON(t, `{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "127.0.0.1:0",
			"groups": [{"spec": "`+testGroupSpec+`", "files": [{"path": "`+file+`", "name": "promo", "loop": true,
				"ipMulticast": {"address": "239.255.0.1:30000"}}]}]}`)
		if err != nil {
			t.Fatal(err)
		}
		warned := make(chan slog.Record, 8)
		d, err := Start(cfg, slog.New(recordHandler{msg: "ip multicast send failed", out: warned}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Shutdown(context.Background()) })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		select {
		case r := <-warned:
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if r.Level != slog.LevelWarn || attrs["stream"] != "promo" || attrs["address"] != "239.255.0.1:30000" ||
				!regexp.MustCompile(`unreachable|no route`).MatchString(attrs["err"]) {
				t.Fatalf("%v %q %v", r.Level, r.Message, attrs)
			}
		case <-ctx.Done():
			t.Fatal("no warning for the failing IP multicast sends")
		}
		// The failures go on being counted, with no more lines.
		var errs uint64
		for errs < 20 {
			st := getStatus(t, d)
			if len(st.Groups) != 1 || len(st.Groups[0].Streams) != 1 || st.Groups[0].Streams[0].IPMulticastSent == nil {
				t.Fatalf("group streams %+v", st.Groups)
			}
			sent := st.Groups[0].Streams[0].IPMulticastSent
			if sent.Datagrams != 0 || sent.LastError == "" {
				t.Fatalf("ipMulticastSent %+v", sent)
			}
			errs = sent.Errors
			select {
			case <-ctx.Done():
				t.Fatalf("%d failures counted", errs)
			case <-time.After(50 * time.Millisecond):
			}
		}
		if n := len(warned); n != 0 {
			t.Fatalf("%d more warnings for one outage", n)
		}
		_, m := request(t, d, "GET", "/metrics", "", "")
		if !regexp.MustCompile(`(?m)^rtmfpd_group_stream_ip_multicast_send_errors_total\{group="[0-9a-f]+",stream="promo"\} [1-9]`).MatchString(m) {
			t.Error("/metrics lacks the IP multicast send errors")
		}
	})
}
