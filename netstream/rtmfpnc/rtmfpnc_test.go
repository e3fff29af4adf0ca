package rtmfpnc_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

var quiet = slog.New(slog.DiscardHandler)

func endpoint(t *testing.T) *rtmfp.Endpoint {
	p, _ := flash.New(flash.Config{})
	e, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: p, Logger: quiet, CloseTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestBadInput: a client sending malformed messages is disconnected while
// another client's stream goes on; flows that are not TC flows, or
// NetStream flows before the NetConnection flow, are refused.
func TestBadInput(t *testing.T) {
	sep := endpoint(t)
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	srv := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go srv.Serve(ctx, sep)
	addr := netip.MustParseAddrPort(sep.LocalAddr().String())
	url := "rtmfp://" + addr.String() + "/live"

	// A well-behaved publisher and player.
	good, err := client.Dial(ctx, url, client.Options{Endpoint: endpoint(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	gs, _ := good.CreateStream(ctx)
	if err := gs.Publish(ctx, "ok", "live"); err != nil {
		t.Fatal(err)
	}
	player, _ := client.Dial(ctx, url, client.Options{Endpoint: endpoint(t), Logger: quiet})
	ps, _ := player.CreateStream(ctx)
	if err := ps.Play(ctx, "ok"); err != nil {
		t.Fatal(err)
	}

	// A raw session that sends garbage.
	bad := endpoint(t)
	s, err := bad.Connect(ctx, flash.URLEPD(url), addr)
	if err != nil {
		t.Fatal(err)
	}
	// Not a TC flow: refused with a flow exception.
	other, _ := s.OpenFlow([]byte("XY"), rtmfp.FlowOptions{})
	other.Write([]byte("hello"))
	select {
	case <-other.Done():
		var fe *rtmfp.FlowException
		if !errors.As(other.Err(), &fe) {
			t.Fatalf("unknown flow: %v", other.Err())
		}
	case <-ctx.Done():
		t.Fatal("unknown flow not refused")
	}
	// A NetStream flow before any NetConnection flow: refused.
	early, _ := s.OpenFlow(tcflow.Metadata(1), rtmfp.FlowOptions{})
	early.Write(tcflow.Append(nil, media.Message{Type: media.TypeCommandAMF0, Payload: []byte{2, 0, 4, 'p', 'l', 'a', 'y'}}))
	select {
	case <-early.Done():
	case <-ctx.Done():
		t.Fatal("early NetStream flow not refused")
	}
	// Malformed AMF on the NetConnection flow: the session is closed.
	nc, _ := s.OpenFlow(tcflow.Metadata(0), rtmfp.FlowOptions{})
	nc.Write(tcflow.Append(nil, media.Message{Type: media.TypeCommandAMF0, Payload: []byte{0x02, 0xff, 0xff, 'x'}}))
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("session with malformed AMF not closed")
	}
	// The good stream still flows.
	gs.WriteMedia(ctx, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 1, 0, 0, 0, 9}})
	for {
		m, err := ps.ReadMedia(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.IsVideo() {
			break
		}
	}
}
