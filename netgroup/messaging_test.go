package netgroup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// msgRecorder is a MessageHandler keeping what arrives.
type msgRecorder struct {
	mu     sync.Mutex
	posts  map[string]int
	sendTo [][]byte
	from   []profile.PeerID
}

func (r *msgRecorder) Post(id string, msg []byte, from profile.PeerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.posts == nil {
		r.posts = map[string]int{}
	}
	r.posts[id+":"+string(msg)]++
}

func (r *msgRecorder) SendTo(_ group.Address, msg []byte, from profile.PeerID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sendTo = append(r.sendTo, msg)
	r.from = append(r.from, from)
}

// TestGroupMessages: the server member and twelve client members with
// message handlers: a post reaches every member once, sendToNearest
// reaches the member nearest to the address (and only it), and
// sendToAllNeighbors each neighbour; oversized messages are refused.
func TestGroupMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 9, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		in, sep, url := testServer(t, sh)
		srec := &msgRecorder{}
		cfg := testConfig(77)
		cfg.Endpoint, cfg.Spec, cfg.Rendezvous, cfg.Handler, cfg.Messages = sep, testSpec, ServerRendezvous{Introducer: in, Endpoint: sep}, newRecorder(), srec
		sm, err := Join(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sm.Close() })
		var nodes []*node
		var recs []*msgRecorder
		for i := range 12 {
			r := &msgRecorder{}
			nodes = append(nodes, joinClientWith(t, n, url, testSpec, uint64(300+i), func(c *Config) { c.Messages = r }))
			recs = append(recs, r)
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		id, err := sm.Post([]byte("hello group"))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for i, r := range recs {
			r.mu.Lock()
			if r.posts[id+":hello group"] != 1 || len(r.posts) != 1 {
				t.Errorf("member %d got posts %v", i, r.posts)
			}
			r.mu.Unlock()
		}
		if srec.posts != nil {
			t.Errorf("the poster got its own post: %v", srec.posts)
		}
		// Routed to the member nearest to a member's own address: that one.
		target := nodes[5].m.Address()
		if err := nodes[0].m.SendToNearest([]byte("to five"), target); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for i, r := range recs {
			r.mu.Lock()
			got := len(r.sendTo)
			r.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[i == 5]; got != want {
				t.Errorf("member %d got %d routed messages, want %d", i, got, want)
			}
		}
		// To every neighbour.
		sent, err := sm.SendToAllNeighbors([]byte("neighbours"))
		if err != nil || sent != len(sm.Neighbors()) || sent == 0 {
			t.Fatalf("sent to %d of %d neighbours: %v", sent, len(sm.Neighbors()), err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		got := 0
		for _, r := range recs {
			r.mu.Lock()
			for k, m := range r.sendTo {
				if bytes.Equal(m, []byte("neighbours")) && r.from[k] == sep.PeerID() {
					got++
				}
			}
			r.mu.Unlock()
		}
		if got != sent {
			t.Errorf("%d neighbours got the message, %d sent", got, sent)
		}
		if _, err := sm.Post(make([]byte, MaxGroupMessage+1)); err != ErrMessageTooLarge {
			t.Errorf("oversized post: %v", err)
		}
	})
}

// FuzzGroupMessage: the RD 01 decoder never panics, bounds what it
// accepts, and a post it accepts carries its own hash.
func FuzzGroupMessage(f *testing.F) {
	body := []byte("x")
	id := sha256.Sum256(body)
	f.Add([]byte{rdHello})
	f.Add(append(append([]byte{rdPost}, id[:]...), body...))
	f.Add(append(append([]byte{rdSendTo}, make([]byte, 32)...), 3, 'y'))
	f.Add([]byte{rdNeighbor, 'z'})
	f.Add([]byte{0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGroupMessage(b)
		if err != nil {
			return
		}
		if len(g.body) > MaxGroupMessage || g.hops > maxHops {
			t.Fatalf("accepted %+v", g)
		}
		if g.typ == rdPost && sha256.Sum256(g.body) != g.key {
			t.Fatal("post with a wrong ID accepted")
		}
	})
}
