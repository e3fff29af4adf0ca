package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// TestDaemonRTMP: with no rtmp field the RTMP listener follows the RTMFP
// addresses; an RTMP publisher is played over RTMFP; the status endpoint
// counts RTMP connections; shutdown closes them.
func TestDaemonRTMP(t *testing.T) {
	cfg := Default()
	cfg.RTMFP = []string{"127.0.0.1:0"}
	cfg.Status = "127.0.0.1:0"
	log := slog.New(slog.DiscardHandler)
	d, err := Start(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	if len(d.RTMPAddrs()) != 1 {
		t.Fatalf("RTMP addresses %v", d.RTMPAddrs())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	pc, err := client.Dial(ctx, "rtmfp://"+d.Endpoints()[0].LocalAddr().String()+"/live", client.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	player, err := pc.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := player.Play(ctx, "cam"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the player subscribed", func() bool {
		s, ok := d.NetStream().Registry.Lookup("live", netstream.DefaultInstance, "cam")
		return ok && s.Subscribers() == 1
	})
	pub, err := rtmp.Dial(ctx, "rtmp://"+d.RTMPAddrs()[0]+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, "cam", rtmp.ModeLive); err != nil {
		t.Fatal(err)
	}
	key := media.Message{Type: media.TypeVideo, Timestamp: 40, Payload: []byte{0x17, 1, 0, 0, 0, 42}}
	if err := pub.WriteMedia(key); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := player.ReadMedia(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.IsVideo() {
			if len(m.Payload) != 6 || m.Payload[5] != 42 {
				t.Fatalf("played %+v", m)
			}
			break
		}
	}
	st := getStatus(t, d)
	if st.RTMP.Active != 1 || st.RTMP.Accepted != 1 || len(st.RTMP.Addresses) != 1 {
		t.Fatalf("rtmp status %+v", st.RTMP)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := d.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := pub.ReadMessage(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.Logf("after shutdown: %v", err)
			}
			break
		}
	}
}

// TestDaemonRTMPOff: "rtmp": [] disables RTMP.
func TestDaemonRTMPOff(t *testing.T) {
	cfg := Default()
	cfg.RTMFP = []string{"127.0.0.1:0"}
	cfg.RTMP = []string{}
	cfg.Status = "off"
	d, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	if len(d.RTMPAddrs()) != 0 {
		t.Fatalf("RTMP listening on %v", d.RTMPAddrs())
	}
}
