package groupstream

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// collector is a netstream.Sink keeping what it is given.
type collector struct {
	mu   sync.Mutex
	msgs []media.Message
}

func (c *collector) WriteMedia(_ context.Context, m media.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *collector) taken() []media.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]media.Message(nil), c.msgs...)
}

// TestPlayStreamIntoServer: a member plays a group stream into a server
// stream of its own (MulticastStreamIngest); a unicast subscriber of that
// stream gets every message from the first key frame on, the stream is
// unpublished when the group stream ends, and published again, with the
// hooks told, when a new publication starts.
func TestPlayStreamIntoServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 6, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond, Loss: 0.01}})
		defer n.Close()
		sh, _ := n.NewHost()
		sg := New(quiet)
		t.Cleanup(sg.Close)
		url := server(t, sh, sg)
		edge := member(t, n, url)
		reg := netstream.NewRegistry()
		var mu sync.Mutex
		var started, stopped int
		in, err := edge.PlayStream("cam", IngestConfig{Registry: reg, App: "live", Name: "relayed",
			OnPublish:   func(*netstream.Stream) { mu.Lock(); started++; mu.Unlock() },
			OnUnpublish: func(*netstream.Stream) { mu.Lock(); stopped++; mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		if _, err := edge.PlayStream("x", IngestConfig{}); err != ErrIngestConfig {
			t.Errorf("ingest without registry: %v", err)
		}
		sink := &collector{}
		sub := reg.Get("live", netstream.DefaultInstance, "relayed").Subscribe(sink, 1<<20)
		defer sub.Close()
		time.Sleep(5 * time.Second) // the mesh forms

		msgs := synthetic(300_000, 6*time.Second)
		for round := 1; round <= 2; round++ {
			pub, err := sg.Publish("cam", multicast.Config{})
			if err != nil {
				t.Fatal(err)
			}
			publishPaced(t, msgs, func(m media.Message) error { return pub.WriteMedia(context.Background(), m) })
			time.Sleep(4 * time.Second)
			pub.Close()
			time.Sleep(12 * time.Second) // the end reaches the edge; the closed publication lingers
			st := in.Stats()
			mu.Lock()
			s, u := started, stopped
			mu.Unlock()
			if st.Published || st.Publications != uint64(round) || s != round || u != round {
				t.Fatalf("round %d: %+v, hooks %d/%d", round, st, s, u)
			}
			got := sink.taken()
			// The edge joined before the publication: the subscriber gets
			// every message (video from the first key frame).
			if len(got) != round*len(msgs) {
				t.Fatalf("round %d: subscriber got %d messages, want %d", round, len(got), round*len(msgs))
			}
			for k, m := range got[(round-1)*len(msgs):] {
				if !bytes.Equal(m.Payload, msgs[k].Payload) {
					t.Fatalf("round %d: message %d differs", round, k)
				}
			}
		}
	})
}
