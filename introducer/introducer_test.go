package introducer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

var quiet = slog.New(slog.DiscardHandler)

// server runs the introducer stack on host h, port 1935.
func server(t testing.TB, h *simnet.Host, cfg Config) (*Introducer, string) {
	cfg.Logger = quiet
	in := New(cfg)
	var ep *rtmfp.Endpoint
	ep = rtmfptest.Endpoint(t, h, 1935, rtmfp.Config{OnIntroduction: in.Hook(&ep), StartupRate: 1e6, StartupBurst: 1e6})
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	nc := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet, OnConn: in.AddConn, OnGroupFlow: in.HandleGroupFlow})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go nc.Serve(ctx, ep)
	return in, fmt.Sprintf("rtmfp://%s/app", ep.LocalAddr())
}

func dial(t testing.TB, h *simnet.Host, url string) *client.Conn {
	t.Helper()
	c, err := client.Dial(context.Background(), url, client.Options{Endpoint: rtmfptest.Endpoint(t, h, 0, rtmfp.Config{HandshakeTimeout: 10 * time.Second}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGroupMembership: 200 clients join one group and 50 another. Every
// member is introduced only to members of its own group, the graph of the
// server's introductions is connected in each group, and departures are
// reflected.
func TestGroupMembership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 5, Link: simnet.LinkConfig{Delay: 10 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		in, url := server(t, sh, Config{})
		specA, errA := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
		specB, errB := group.ParseSpec("G:027f0201010103010c060e6f74686572011b00")
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		ids := []group.GroupID{specA.GroupID(), specB.GroupID()}
		sizes := []int{200, 50}
		type member struct {
			c *client.Conn
			g *client.Group
		}
		var members [2][]member
		ctx := context.Background()
		for gi, size := range sizes {
			for range size {
				h, _ := n.NewHost()
				c := dial(t, h, url)
				g, err := c.JoinGroup(ctx, ids[gi])
				if err != nil {
					t.Fatal(err)
				}
				members[gi] = append(members[gi], member{c, g})
			}
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := in.Stats(); st.Groups != 2 || st.Members != 250 || st.Joins != 250 {
			t.Fatalf("stats %+v", st)
		}
		for gi := range sizes {
			own := map[profile.PeerID]int{}
			for i, m := range members[gi] {
				own[m.c.Session().Endpoint().PeerID()] = i
			}
			// Edges: whoever a member was told about.
			adj := make([][]int, len(members[gi]))
			for i, m := range members[gi] {
			drain:
				for {
					select {
					case id := <-m.g.Members():
						j, ok := own[id]
						if !ok {
							t.Fatalf("group %d member %d was introduced to %v, not a member of its group", gi, i, id)
						}
						adj[i] = append(adj[i], j)
						adj[j] = append(adj[j], i)
					default:
						break drain
					}
				}
			}
			seen := map[int]bool{0: true}
			stack := []int{0}
			for len(stack) > 0 {
				v := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, w := range adj[v] {
					if !seen[w] {
						seen[w] = true
						stack = append(stack, w)
					}
				}
			}
			if len(seen) != len(members[gi]) {
				t.Fatalf("group %d: introductions reach %d of %d members", gi, len(seen), len(members[gi]))
			}
		}
		// Departures: 10 leave their group, 10 others close their session.
		for _, m := range members[0][:10] {
			m.g.Leave()
		}
		for _, m := range members[0][10:20] {
			m.c.Close()
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := len(in.GroupMembers(ids[0])); got != 180 {
			t.Fatalf("%d members left in group A, want 180", got)
		}
		for _, m := range members[0][:10] {
			if in.isMember(ids[0], m.c.Session().Endpoint().PeerID()) {
				t.Fatal("a member that left is still listed")
			}
		}
	})
}

func (in *Introducer) isMember(g group.GroupID, id profile.PeerID) bool {
	for _, m := range in.GroupMembers(g) {
		if m == id {
			return true
		}
	}
	return false
}

// TestIntroductionNATs: two clients behind NATs reach each other by peer ID
// through the introducer; a P2P NetStream runs on the direct session where
// hole punching can work, and symmetric-to-symmetric fails clearly.
func TestIntroductionNATs(t *testing.T) {
	for _, c := range []struct {
		a, b simnet.NATType
		ok   bool
	}{
		{simnet.FullCone, simnet.AddressRestricted, true},
		{simnet.PortRestricted, simnet.Symmetric, false}, // port-restricted filtering meets a symmetric mapping
		{simnet.AddressRestricted, simnet.Symmetric, true},
		{simnet.Symmetric, simnet.Symmetric, false},
	} {
		t.Run(c.a.String()+"/"+c.b.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				setup := simnet.BehindNATs(t, simnet.Config{Seed: 2, Link: simnet.LinkConfig{Delay: 20 * time.Millisecond}}, c.a, c.b)
				in, url := server(t, setup.Server, Config{})
				a := dial(t, setup.Clients[0], url)
				b := dial(t, setup.Clients[1], url)
				// b offers a direct stream (NetStream.DIRECT_CONNECTIONS).
				pub, err := client.PublishDirect(b, "direct")
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				start := time.Now()
				s, err := a.ConnectPeer(ctx, b.Session().Endpoint().PeerID())
				if !c.ok {
					if !errors.Is(err, rtmfp.ErrNoSuchPeer) {
						t.Fatalf("want ErrNoSuchPeer, got %v", err)
					}
					if el := time.Since(start); el > 11*time.Second {
						t.Fatalf("failure reported after %v", el)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				st, err := client.PlayDirect(ctx, s, "direct")
				if err != nil {
					t.Fatal(err)
				}
				// Real frames, not the |RtmpSampleAccess data message
				// every play starts with: a player registered under
				// another instance than the publisher gets only that.
				const frames = 10
				for i := range frames {
					pub.WriteMedia(media.Message{Type: media.TypeVideo, Timestamp: uint32(40 * i), Payload: []byte{0x17, 1, 0, 0, 0, byte(i)}})
					pub.WriteMedia(media.Message{Type: media.TypeAudio, Timestamp: uint32(40 * i), Payload: []byte{0xaf, 1, byte(i)}})
				}
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				audio, video := 0, 0
				for audio < frames || video < frames {
					m, err := st.ReadMedia(rctx)
					if err != nil {
						t.Fatalf("direct play got %d video and %d audio frames of %d each: %v", video, audio, frames, err)
					}
					switch m.Type {
					case media.TypeAudio:
						audio++
					case media.TypeVideo:
						video++
					}
				}
				if st := in.Stats(); st.Introductions == 0 || st.Redirects == 0 || st.ForwardedIHellos == 0 {
					t.Fatalf("introducer stats %+v", st)
				}
			})
		})
	}
}

// TestLocalMember: a member on the server's own endpoint is introduced to
// clients and told about them like any member, and leaves cleanly.
func TestLocalMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 9, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		in, url := server(t, sh, Config{})
		spec, err := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
		if err != nil {
			t.Fatal(err)
		}
		var self profile.PeerID
		self[0] = 0x42
		local, err := in.JoinLocal(self, spec.GroupID())
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var clients []*client.Conn
		var groups []*client.Group
		for range 3 {
			h, _ := n.NewHost()
			c := dial(t, h, url)
			g, err := c.JoinGroup(ctx, spec.GroupID())
			if err != nil {
				t.Fatal(err)
			}
			clients, groups = append(clients, c), append(groups, g)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		told := map[profile.PeerID]bool{}
	drain:
		for {
			select {
			case id := <-local.Members():
				told[id] = true
			default:
				break drain
			}
		}
		for i, c := range clients {
			id := c.Session().Endpoint().PeerID()
			if !told[id] {
				t.Errorf("local member not told about client %d", i)
			}
			if got := in.PeerAddresses(id); len(got) == 0 || got[0] != c.Session().Endpoint().LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort() {
				t.Errorf("client %d addresses %v", i, got)
			}
			select {
			case got := <-groups[i].Members():
				if got != self && i == 0 {
					t.Errorf("first client introduced to %v, want the local member", got)
				}
			default:
				t.Errorf("client %d was introduced to nobody", i)
			}
		}
		if !in.isMember(spec.GroupID(), self) {
			t.Fatal("local member not listed")
		}
		local.Leave()
		local.Leave()
		if in.isMember(spec.GroupID(), self) {
			t.Fatal("local member still listed after Leave")
		}
		if _, ok := <-local.Members(); ok {
			t.Fatal("Members channel open after Leave")
		}
		if got := in.PeerAddresses(self); got != nil {
			t.Fatalf("addresses of a non-client: %v", got)
		}
	})
}

// TestIntroductionsLimitedPerTarget: 2,000 spoofed sources ask for one
// connected client's peer ID, two IHellos a second each, for 10 s. Each
// Forwarded IHello would make the client send an RHello to a spoofed
// address; the client receives at most ForwardBurst plus ForwardRate a
// second of them, and every source still gets its Redirect.
func TestIntroductionsLimitedPerTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := simnet.New(simnet.Config{Seed: 11, RecvQueue: 1 << 16, Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		defer n.Close()
		sh, _ := n.NewHost()
		in, url := server(t, sh, Config{})
		h, _ := n.NewHost()
		target := dial(t, h, url)
		ep := target.Session().Endpoint()
		pkts := make([][]byte, 256)
		for i := range pkts {
			tag := bytes.Repeat([]byte{byte(i)}, 16)
			pkts[i] = rtmfptest.StartupPacket(wire.IHello{EPD: flash.PeerEPD(ep.PeerID()), Tag: tag}.Append(nil))
		}
		srv := netip.MustParseAddrPort(strings.TrimSuffix(strings.TrimPrefix(url, "rtmfp://"), "/app"))
		src := simnet.NewSources(t, n, 2000)
		before := ep.Stats().FIHellosIn
		start := time.Now()
		src.Flood(srv, pkts, 4000, 10*time.Second)
		got := ep.Stats().FIHellosIn - before
		limit := 20 + 5*uint64(time.Since(start)/time.Second+1)
		t.Logf("%d IHellos from 2000 sources: the target got %d Forwarded IHellos and sent %d bytes to the sources; %d sources got a Redirect; %+v",
			40000, got, src.FromOthers(), src.Answered(), in.Stats())
		if got > limit {
			t.Errorf("the target got %d Forwarded IHellos in %v, more than %d", got, time.Since(start), limit)
		}
		if a := src.Answered(); a != 2000 {
			t.Errorf("%d of 2000 sources got a Redirect", a)
		}
	})
}
