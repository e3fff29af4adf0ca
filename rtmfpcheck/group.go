package rtmfpcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

const (
	idJoin       = "group.join"
	idBootstrap  = "group.bootstrap"
	idNeighbours = "group.neighbours"
)

func groupChecks() category {
	return category{name: "group", checks: []check{
		{id: idJoin, title: "a NetGroup join over the server channel (GC flow) is taken: the flow is not refused and the connection goes on",
			ref: "Flash Player NetGroup, serverChannelEnabled (rtmfp-facts §6.3)", needs: []string{idConnect}, run: checkJoin},
		{id: idBootstrap, title: "the server names the two members to each other (the newcomer is told of the first, or the first of the newcomer)",
			ref: "Flash NetGroup bootstrap through the server (rtmfp-facts §6.3)", needs: []string{idJoin}, run: checkBootstrap},
		{id: idNeighbours, title: "the two members open a P2P session, pass the group handshake and become neighbours",
			ref: "Flash NetGroup (rtmfp-facts §6.4, §6.5)", needs: []string{idBootstrap}, run: checkNeighbours},
		{id: "group.multicast", title: "a multicast stream published by one member reaches the other",
			ref: "Flash P2P multicast, NetStream(nc, groupspec) (rtmfp-facts §7)", needs: []string{idNeighbours}, run: checkMulticast},
	}}
}

// groupRun holds the two members of the group checks.
type groupRun struct {
	a, b     *groupstream.Member
	ida, idb profile.PeerID
}

func (e *env) groupID(r *rec) (group.GroupID, bool) {
	spec, err := group.ParseSpec(e.opts.GroupSpec)
	if err != nil {
		r.failf("groupspec %q: %v", e.opts.GroupSpec, err)
		return group.GroupID{}, false
	}
	return spec.GroupID(), true
}

func checkJoin(ctx context.Context, e *env, r *rec) {
	id, ok := e.groupID(r)
	if !ok {
		return
	}
	c, _, ok := e.connect(ctx, r, client.Options{})
	if !ok {
		return
	}
	g, err := c.JoinGroup(ctx, id)
	if err != nil {
		r.failf("join: %s", plain(err))
		return
	}
	defer g.Leave()
	if err := barrier(ctx, c); err != nil {
		r.failf("%s", e.noAnswer(ctx, "a call after the join", err))
		return
	}
	if err := g.Err(); err != nil {
		r.failf("the server refused the group control flow: %s", plain(err))
		return
	}
	r.fact("group", "%s", e.opts.GroupSpec)
	r.fact("group ID", "%s", id)
	r.passf("joined group %s…", id.String()[:16])
}

// member connects a client that announces its addresses and joins the
// group with it.
func (e *env) member(ctx context.Context, r *rec) (*groupstream.Member, profile.PeerID, error) {
	c, t, err := e.dial(ctx, r, client.Options{})
	if err != nil {
		return nil, profile.PeerID{}, fmt.Errorf("connect: %s%s", plain(err), t.summary())
	}
	id := c.Session().Endpoint().PeerID()
	if err := c.SetPeerInfo(ctx, e.localAddrs(c.Session().Endpoint())...); err != nil {
		return nil, id, err
	}
	m, err := groupstream.JoinClient(ctx, c, e.opts.GroupSpec)
	if err != nil {
		return nil, id, err
	}
	e.closers = append(e.closers, func() { m.Close() })
	return m, id, nil
}

// until waits for cond, looking every 20 ms (the member's counters have
// no signal), within ctx.
func until(ctx context.Context, cond func() bool) bool {
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}

func checkBootstrap(ctx context.Context, e *env, r *rec) {
	run := &groupRun{}
	e.groupRun = run
	var err error
	if run.a, run.ida, err = e.member(ctx, r); err == nil {
		run.b, run.idb, err = e.member(ctx, r)
	}
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "joining", err))
		return
	}
	start := time.Now()
	ok := until(ctx, func() bool {
		return run.b.NetGroup.Stats().IntroducedByServer > 0 || run.a.NetGroup.Stats().IntroducedByServer > 0
	})
	sa, sb := run.a.NetGroup.Stats(), run.b.NetGroup.Stats()
	r.fact("peers named by the server", "to the first member %d, to the newcomer %d", sa.IntroducedByServer, sb.IntroducedByServer)
	if !ok {
		r.failf("the server named no member to the other within %v", e.opts.Timeout)
		return
	}
	r.passf("named in %s", since(start))
}

// isNeighbour reports whether m has id among its connected neighbours.
func isNeighbour(m *groupstream.Member, id profile.PeerID) bool {
	for _, n := range m.NetGroup.Neighbors() {
		if n.ID() == id {
			return true
		}
	}
	return false
}

func checkNeighbours(ctx context.Context, e *env, r *rec) {
	run := e.groupRun
	ida, idb := run.ida, run.idb
	start := time.Now()
	ok := until(ctx, func() bool { return isNeighbour(run.a, idb) && isNeighbour(run.b, ida) })
	sa, sb := run.a.NetGroup.Stats(), run.b.NetGroup.Stats()
	r.fact("neighbours", "first member %d, second %d", sa.Neighbors, sb.Neighbors)
	r.fact("connects", "first member %d (%d failed), second %d (%d failed)", sa.Connects, sa.ConnectFailures, sb.Connects, sb.ConnectFailures)
	if !ok {
		r.failf("the members did not become neighbours within %v", e.opts.Timeout)
		return
	}
	r.passf("neighbours in %s", since(start))
}

func checkMulticast(ctx context.Context, e *env, r *rec) {
	run := e.groupRun
	name := e.opts.Stream + "-multicast"
	pb, err := run.b.Play(name, multicast.DefaultConfig())
	if err != nil {
		r.failf("play: %s", plain(err))
		return
	}
	defer pb.Close()
	pub, err := run.a.Publish(name, multicast.DefaultConfig())
	if err != nil {
		r.failf("publish: %s", plain(err))
		return
	}
	defer pub.Close()
	gen := startGenerator(pub.WriteMedia)
	defer gen.close()
	video, audio, lat, err := countFrames(ctx, pb.ReadMedia, gen, 25)
	if err != nil {
		r.failf("%d video and %d audio frames arrived: %s", video, audio, e.noAnswer(ctx, "multicast play", err))
		return
	}
	st := pb.Stats()
	p50, _, mx := latencies(lat)
	r.fact("fragments", "pushed %d, pulled %d, lost %d", st.FragmentsPushedFromPeers, st.FragmentsRequestedFromPeers, st.FragmentsLost)
	r.fact("latency", "median %s, max %s", ms(p50), ms(mx))
	r.passf("%d video and %d audio frames, median latency %s", video, audio, ms(p50))
}
