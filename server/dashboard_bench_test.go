package server

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// benchDaemon starts a server with n client connections (fake transports:
// what they cost the dashboard, without their sockets).
func benchDaemon(b *testing.B, n int) *Daemon {
	cfg, err := Decode([]byte(`{"rtmfp": ["127.0.0.1:0"], "rtmp": [], "status": "off"}`))
	if err != nil {
		b.Fatal(err)
	}
	d, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Shutdown(b.Context()) })
	for i := range n {
		c := d.ns.NewConn(fakeTransport{remote: fmt.Sprintf("192.0.2.%d:%d", i%250, 1000+i)}, fmt.Sprintf("s%05d", i))
		m, _ := netstream.EncodeCommand("connect", 1, amf.NewObject(amf.Property{Key: "app", Value: fmt.Sprintf("app%d", i%50)}))
		c.HandleMessage(0, m)
	}
	return d
}

// BenchmarkDashboardFrame: one dashboard update (a page of 50 of 1,000
// sessions, totals over all, encoded) against the /status document of the
// same server as the baseline.
func BenchmarkDashboardFrame(b *testing.B) {
	d := benchDaemon(b, 1000)
	q := dashboardQuery{limit: defaultPage, sLimit: defaultPage, sort: "session"}
	b.Run("dashboard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := camelJSON(d.dashboardFrame(q)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("status", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := camelJSON(d.Snapshot()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
