package groupstream

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// statuses reads the status codes queued on ch.
func statuses(ch <-chan string) []string {
	var out []string
	for {
		select {
		case c := <-ch:
			out = append(out, c)
		default:
			return out
		}
	}
}

// TestStreamStatuses: a group stream reports NetStream.Connect.Success
// before Publish.Start / Play.Start; failures carry Flash's codes.
func TestStreamStatuses(t *testing.T) {
	g := New(quiet)
	pub, err := g.Publish("a", multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(pub.Status()); len(got) != 2 || got[0] != StatusConnectSuccess || got[1] != StatusPublishStart {
		t.Errorf("publisher statuses %v", got)
	}
	pb, err := g.Play("b", multicast.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(pb.Status()); len(got) != 2 || got[0] != StatusConnectSuccess || got[1] != StatusPlayStart {
		t.Errorf("player statuses %v", got)
	}
	var se *StatusError
	if _, err := g.Publish("a", multicast.Config{}); !errors.As(err, &se) || se.Code != StatusPublishBadName || !errors.Is(err, ErrNameInUse) {
		t.Errorf("second publish: %v", err)
	}
	if _, err := g.Play("a", multicast.Config{}); !errors.As(err, &se) || se.Code != StatusPlayFailed {
		t.Errorf("play of a published name: %v", err)
	}
	g.Close()
	if _, err := g.Play("c", multicast.Config{}); !errors.As(err, &se) || se.Code != StatusConnectFailed || !errors.Is(err, ErrClosed) {
		t.Errorf("play after close: %v", err)
	}
	if _, err := g.Publish("c", multicast.Config{}); !errors.As(err, &se) || se.Code != StatusConnectFailed {
		t.Errorf("publish after close: %v", err)
	}
}

// TestResetDropsOverrides: a player without overrides plays with the
// parameters its publisher announces; one with overrides keeps them until a
// new publication of the name (NetStream.MulticastStream.Reset), after
// which it plays with the new stream's parameters (seed 002: "Local
// overrides of multicast stream parameters are lost").
func TestResetDropsOverrides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 7, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		sg := New(quiet)
		t.Cleanup(sg.Close)
		url := server(t, sh, sg)
		plain := player(t, n, url, "cam")
		tuned, err := member(t, n, url).Play("cam", multicast.Config{Window: 6 * time.Second, FetchPeriod: 500 * time.Millisecond,
			UpdatePeriod: 50 * time.Millisecond, RelayMargin: time.Second, PushNeighborLimit: 1})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		a := multicast.Config{Window: 4 * time.Second, FetchPeriod: time.Second, UpdatePeriod: 200 * time.Millisecond, RelayMargin: 2 * time.Second, PushNeighborLimit: 4}
		publish := func(c multicast.Config) {
			pub, err := sg.Publish("cam", c)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				_ = pub.WriteMedia(context.Background(), media.Message{Type: media.TypeAudio, Timestamp: uint32(i * 20), Payload: []byte{0xaf, 1, byte(i)}})
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(3 * time.Second)
			pub.Close()
		}
		publish(a)
		announced := func(c multicast.Config) multicast.Config {
			return multicast.Config{Window: c.Window, FetchPeriod: c.FetchPeriod, UpdatePeriod: c.UpdatePeriod, SendToAll: c.SendToAll,
				RelayMargin: multicast.DefaultConfig().RelayMargin, PushNeighborLimit: multicast.DefaultConfig().PushNeighborLimit}
		}
		if got := plain.MulticastConfig(); got != announced(a) {
			t.Errorf("player without overrides uses %+v, want the announced %+v", got, announced(a))
		}
		if got := tuned.MulticastConfig(); got.Window != 6*time.Second || got.PushNeighborLimit != 1 {
			t.Errorf("overrides lost before any reset: %+v", got)
		}
		b := multicast.Config{Window: 3 * time.Second, FetchPeriod: 700 * time.Millisecond, UpdatePeriod: 100 * time.Millisecond, RelayMargin: 2 * time.Second, PushNeighborLimit: 4}
		publish(b)
		for _, pb := range []*Playback{plain, tuned} {
			reset := false
			for _, c := range statuses(pb.Status()) {
				reset = reset || c == StatusReset
			}
			if !reset {
				t.Error("no NetStream.MulticastStream.Reset")
			}
			if got := pb.MulticastConfig(); got != announced(b) {
				t.Errorf("after the reset the player uses %+v, want the new stream's %+v", got, announced(b))
			}
		}
		// Overrides applied again stay.
		tuned.SetMulticastConfig(multicast.Config{Window: 5 * time.Second, PushNeighborLimit: 2})
		if got := tuned.MulticastConfig(); got.Window != 5*time.Second || got.PushNeighborLimit != 2 || got.FetchPeriod != 0 {
			t.Errorf("overrides set again: %+v", got)
		}
	})
}
