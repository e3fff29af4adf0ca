package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

var quiet = slog.New(slog.DiscardHandler)

// loadFLV reads the committed test file (H.264 + AAC, 6 s).
func loadFLV(t testing.TB) []media.Message {
	out, err := flv.ReadFile(filepath.Join("..", "testdata", "media", "test_6s.flv"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newEndpoint(t testing.TB, conn rtmfp.PacketConn) *rtmfp.Endpoint {
	p, err := flash.New(flash.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := rtmfp.NewEndpoint(conn, rtmfp.Config{Profile: p, Logger: quiet, CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// startServer runs the NetConnection server on ep.
func startServer(t testing.TB, ep *rtmfp.Endpoint) *netstream.Server {
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	srv := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Serve(ctx, ep)
	return ns
}

// publish sends msgs in real time by their timestamps.
func publish(ctx context.Context, st *Stream, msgs []media.Message) error {
	start := time.Now()
	for _, m := range msgs {
		if d := time.Duration(m.Timestamp)*time.Millisecond - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if err := st.WriteMedia(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// TestPublishToManyPlayers publishes a real H.264/AAC file to the server and
// has 20 players receive it: every message byte-identical, metadata and
// sequence headers first; over a simulated lossy network.
func TestPublishToManyPlayers(t *testing.T) {
	msgs := loadFLV(t)
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 11, Link: simnet.LinkConfig{Delay: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 0.03}})
		defer n.Close()
		sh, _ := n.NewHost()
		sc, _ := sh.Listen(1935)
		startServer(t, newEndpoint(t, sc))
		url := fmt.Sprintf("rtmfp://%s/live", sc.AddrPort())
		ctx := context.Background()
		dial := func() *Conn {
			h, _ := n.NewHost()
			c, _ := h.Listen(0)
			conn, err := Dial(ctx, url, Options{Endpoint: newEndpoint(t, c), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			return conn
		}
		const players = 20
		type result struct {
			got []media.Message
			err error
		}
		results := make([]result, players)
		var wg sync.WaitGroup
		for i := range players {
			pc := dial()
			st, err := pc.CreateStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Play(ctx, "cam"); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for len(results[i].got) < len(msgs) {
					rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					m, err := st.ReadMedia(rctx)
					cancel()
					if err != nil {
						results[i].err = err
						return
					}
					if vs, err := netstream.DecodeData(m); err == nil && vs[0] == "|RtmpSampleAccess" {
						continue // sent by the server at play, not by the publisher
					}
					results[i].got = append(results[i].got, m)
				}
			}()
		}
		pub := dial()
		ps, err := pub.CreateStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.Publish(ctx, "cam", "live"); err != nil {
			t.Fatal(err)
		}
		// A second publisher of the same name is refused with BadName.
		other := dial()
		os, _ := other.CreateStream(ctx)
		var se *StatusError
		if err := os.Publish(ctx, "cam", "live"); !errors.As(err, &se) || se.Status.Code != netstream.PublishBadName {
			t.Fatalf("second publisher: %v", err)
		}
		if err := publish(ctx, ps, msgs); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("player %d: %v after %d messages", i, r.err, len(r.got))
			}
			// Audio, video and data travel on separate flows: compare
			// per type, in order.
			for _, typ := range []uint8{media.TypeAudio, media.TypeVideo, media.TypeDataAMF0} {
				var want, got []media.Message
				for _, m := range msgs {
					if m.Type == typ {
						want = append(want, m)
					}
				}
				for _, m := range r.got {
					if m.Type == typ {
						got = append(got, m)
					}
				}
				if len(got) != len(want) {
					seen := map[uint32]int{}
					for _, m := range got {
						seen[m.Timestamp]++
					}
					for _, m := range want {
						if seen[m.Timestamp] == 0 {
							t.Logf("missing ts %d len %d", m.Timestamp, len(m.Payload))
						}
						seen[m.Timestamp]--
					}
					t.Fatalf("player %d type %d: %d messages, want %d", i, typ, len(got), len(want))
				}
				for k := range want {
					if got[k].Timestamp != want[k].Timestamp || !bytes.Equal(got[k].Payload, want[k].Payload) {
						t.Fatalf("player %d type %d message %d differs", i, typ, k)
					}
				}
			}
		}
	})
}

// TestLateJoinerLoopback joins a player after the publisher started, over
// real loopback UDP: it gets the metadata and both sequence headers before
// any frame, and starts on a key frame.
func TestLateJoinerLoopback(t *testing.T) {
	msgs := loadFLV(t)
	mk := func() *rtmfp.Endpoint {
		p, _ := flash.New(flash.Config{})
		e, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{Profile: p, Logger: quiet, CloseTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	sep := mk()
	startServer(t, sep)
	url := "rtmfp://" + netip.MustParseAddrPort(sep.LocalAddr().String()).String() + "/live/room1"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := Dial(ctx, url, Options{Endpoint: mk(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := pub.CreateStream(ctx)
	if err := ps.Publish(ctx, "late", "live"); err != nil {
		t.Fatal(err)
	}
	half := len(msgs) / 2
	for _, m := range msgs[:half] {
		if err := ps.WriteMedia(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	pl, err := Dial(ctx, url, Options{Endpoint: mk(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := pl.CreateStream(ctx)
	if err := st.Play(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs[half:] {
		if err := ps.WriteMedia(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Audio, video and data come on separate flows, so only the order
	// within each is defined: each starts with its header (metadata for
	// data), and video with a key frame right after its header.
	firstOf := map[uint8][]media.Message{}
	for len(firstOf[media.TypeVideo]) < 2 || len(firstOf[media.TypeAudio]) < 1 || len(firstOf[media.TypeDataAMF0]) < 2 {
		m, err := st.ReadMedia(ctx)
		if err != nil {
			t.Fatal(err)
		}
		firstOf[m.Type] = append(firstOf[m.Type], m)
	}
	v, a, d := firstOf[media.TypeVideo], firstOf[media.TypeAudio], firstOf[media.TypeDataAMF0]
	if !v[0].IsSequenceHeader() || !v[1].IsKeyframe() || v[1].IsSequenceHeader() {
		t.Fatal("video does not start with the AVC header and a key frame")
	}
	if !a[0].IsSequenceHeader() {
		t.Fatal("audio does not start with the AAC header")
	}
	// The data flow carries |RtmpSampleAccess (sent at play) and then
	// the stored metadata.
	found := false
	for _, m := range d {
		if vs, err := netstream.DecodeData(m); err == nil && vs[0] == "onMetaData" {
			found = true
		}
	}
	if !found {
		t.Fatal("no metadata for the late joiner")
	}
	pub.Close()
	pl.Close()
}
