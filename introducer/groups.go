package introducer

import (
	"context"
	"slices"
	"sync"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Flow exception codes used when refusing a GC flow.
const (
	refuseMalformed uint64 = 1
	refuseLimit     uint64 = 2
	refuseDenied    uint64 = 3
)

// groupMetadata is the metadata of group control flows, both ways.
var groupMetadata = []byte("GC")

// grp is one group's membership.
type grp struct {
	id      group.GroupID
	ring    group.Ring
	members map[profile.PeerID]*membership // local and remote
	nlocal  int                            // local members
}

// local returns the number of members on this node.
func (g *grp) local() int { return g.nlocal }

// membership is one peer in one group: its GC flow and the server's
// return flow.
type membership struct {
	p  *peer
	g  *grp
	in *rtmfp.RecvFlow

	mu  sync.Mutex
	out *rtmfp.SendFlow
	// local replaces the GC flow for a member living on the server's own
	// endpoint (JoinLocal); closed marks it left.
	local  chan profile.PeerID
	closed bool
	// node is the cluster node holding a remote member (RemoteJoin); ""
	// for a member of this node.
	node string
}

// send introduces another member to this one (0B message).
func (m *membership) send(id profile.PeerID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.local != nil {
		if !m.closed {
			select {
			case m.local <- id:
			default: // nobody reads: drop, as a client does
			}
		}
		return
	}
	if m.out == nil {
		f, err := m.p.s.OpenFlow(groupMetadata, rtmfp.FlowOptions{ReturnFor: m.in})
		if err != nil {
			return
		}
		m.out = f
	}
	m.out.Write(group.Member{PeerID: id}.Append(nil))
}

// HandleGroupFlow serves a client's group-control flow (rtmfpnc's
// OnGroupFlow hook): the join, then membership until the flow or the
// session ends.
func (in *Introducer) HandleGroupFlow(s *rtmfp.Session, c *netstream.Conn, f *rtmfp.RecvFlow) {
	go in.serveGroupFlow(s, f)
}

func (in *Introducer) serveGroupFlow(s *rtmfp.Session, f *rtmfp.RecvFlow) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		b, err := f.ReadMessage(ctx)
		in.GroupMessage(s, nil, f, b, err)
		if err != nil {
			return
		}
	}
}

// GroupMessage is HandleGroupFlow for sessions read in arrival order
// (rtmfp.Session.ReadInOrder, rtmfpnc's OnGroupMessage hook): it is given
// each message of a client's GC flow, and the flow's end (msg nil, err
// set). The first message is the join; later ones carry nothing the server
// acts on; the membership lasts until the flow ends.
func (in *Introducer) GroupMessage(s *rtmfp.Session, c *netstream.Conn, f *rtmfp.RecvFlow, msg []byte, err error) {
	in.mu.Lock()
	m, seen := in.gcFlows[f]
	if err != nil {
		delete(in.gcFlows, f)
		if m != nil {
			in.leaveLocked(m)
		}
		in.mu.Unlock()
		return
	}
	if seen {
		in.mu.Unlock()
		return
	}
	if len(in.gcFlows) >= 4*in.cfg.MaxGroups {
		in.mu.Unlock()
		in.stats.refusedJoins.Add(1)
		f.Reject(refuseLimit)
		return
	}
	in.gcFlows[f] = nil
	in.mu.Unlock()
	j, jerr := group.ParseJoin(msg)
	if jerr != nil {
		in.stats.refusedJoins.Add(1)
		in.log.Info("group join refused", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "reason", "malformed join", "err", jerr)
		f.Reject(refuseMalformed)
		return
	}
	if in.cfg.OnJoin != nil {
		if err := in.cfg.OnJoin(in.connOf(s), s, j.ID()); err != nil {
			in.stats.refusedJoins.Add(1)
			in.log.Info("group join refused", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "group", j.ID().String(),
				"reason", err.Error())
			f.Reject(refuseDenied)
			return
		}
	}
	m = in.join(s, f, j.ID())
	if m == nil {
		in.log.Info("group join refused", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "group", j.ID().String(),
			"reason", "a group limit is reached (maxGroups, maxMembers or maxGroupsPerSession)")
		in.stats.refusedJoins.Add(1)
		f.Reject(refuseLimit)
		return
	}
	in.mu.Lock()
	if _, still := in.gcFlows[f]; still {
		in.gcFlows[f] = m
	} else {
		in.leaveLocked(m) // the flow ended meanwhile
	}
	in.mu.Unlock()
}

// join adds the session's peer to a group and exchanges introductions.
func (in *Introducer) join(s *rtmfp.Session, f *rtmfp.RecvFlow, id group.GroupID) *membership {
	in.mu.Lock()
	p := in.peers[s.FarPeerID()]
	if p == nil || p.s != s {
		in.mu.Unlock()
		return nil
	}
	g := in.groupForJoinLocked(p, id)
	if g == nil {
		in.mu.Unlock()
		return nil
	}
	return in.addMemberLocked(p, g, &membership{p: p, g: g, in: f})
}

// groupForJoinLocked returns the group p joins, creating it, or nil when a
// limit refuses the join. A previous membership of p in the group ends.
func (in *Introducer) groupForJoinLocked(p *peer, id group.GroupID) *grp {
	g := in.groups[id]
	switch {
	case p.groups[id] != nil:
		// Joining twice: the new membership replaces the old one.
		in.leaveLocked(p.groups[id])
		g = in.groups[id]
	case len(p.groups) >= in.cfg.MaxGroupsPerSession:
		return nil
	}
	if g == nil || g.nlocal == 0 {
		if in.nLocalGroups >= in.cfg.MaxGroups {
			return nil
		}
	}
	if g == nil {
		g = &grp{id: id, members: map[profile.PeerID]*membership{}}
		in.groups[id] = g
	}
	if len(g.members) >= in.cfg.MaxMembers {
		return nil
	}
	return g
}

// addMemberLocked puts a membership on its group's ring, exchanges
// introductions and unlocks in.mu.
func (in *Introducer) addMemberLocked(p *peer, g *grp, m *membership) *membership {
	id := g.id
	if old := g.members[p.id]; old != nil {
		in.leaveLocked(old) // a remote claim of the same peer: the local one wins
	}
	g.members[p.id] = m
	p.groups[id] = m
	g.ring.Add(p.id)
	if g.nlocal++; g.nlocal == 1 {
		in.nLocalGroups++
	}
	if in.cluster != nil {
		in.cluster.Joined(id, p.id)
	}
	bootstrap, told := in.bootstrapLocked(g, p.id)
	size := g.ring.Len()
	in.mu.Unlock()

	in.stats.joins.Add(1)
	for _, other := range bootstrap {
		m.send(other.p.id)
	}
	for _, other := range told {
		if other.node != "" {
			in.cluster.Tell(other.node, id, other.p.id, p.id)
			continue
		}
		other.send(p.id)
	}
	in.stats.membersIntroduced.Add(uint64(len(bootstrap) + len(told)))
	in.log.Info("group join", "session", p.id.String(), "group", id.String(), "members", size, "bootstrap", len(bootstrap))
	return m
}

// bootstrapLocked picks the members a newcomer is told about: its ring
// neighbours (told about the newcomer in turn) and a few random others.
func (in *Introducer) bootstrapLocked(g *grp, newcomer profile.PeerID) (bootstrap, told []*membership) {
	before := in.cfg.BootstrapRing / 2
	after := in.cfg.BootstrapRing - before
	addr := group.AddressOf(newcomer)
	for _, n := range g.ring.Neighbours(addr, before, after) {
		if m := g.members[n.ID]; m != nil && n.ID != newcomer && !slices.Contains(bootstrap, m) {
			bootstrap = append(bootstrap, m)
		}
	}
	told = slices.Clone(bootstrap)
	members := g.ring.Members()
	for tries := 0; tries < 4*in.cfg.BootstrapRandom && len(bootstrap) < len(told)+in.cfg.BootstrapRandom; tries++ {
		if len(members) <= len(bootstrap)+1 {
			break
		}
		n := members[in.rnd.IntN(len(members))]
		if m := g.members[n.ID]; m != nil && n.ID != newcomer && !slices.Contains(bootstrap, m) {
			bootstrap = append(bootstrap, m)
		}
	}
	return bootstrap, told
}

// leaveLocked ends a membership; an empty group is forgotten.
func (in *Introducer) leaveLocked(m *membership) {
	g := m.g
	if g.members[m.p.id] != m {
		return
	}
	delete(g.members, m.p.id)
	g.ring.Remove(m.p.id)
	if len(g.members) == 0 {
		delete(in.groups, g.id)
	}
	if m.node != "" {
		return
	}
	delete(m.p.groups, g.id)
	if in.gcFlows[m.in] == m {
		delete(in.gcFlows, m.in)
	}
	if g.nlocal--; g.nlocal == 0 {
		in.nLocalGroups--
	}
	if in.cluster != nil {
		in.cluster.Left(g.id, m.p.id)
	}
	in.stats.leaves.Add(1)
	in.log.Info("group leave", "session", m.p.id.String(), "group", g.id.String(), "members", len(g.members))
	m.mu.Lock()
	if m.out != nil {
		m.out.Close()
	}
	if m.local != nil && !m.closed {
		m.closed = true
		close(m.local)
	}
	m.mu.Unlock()
}

// GroupMembers returns the peer IDs of a group's members on this node.
func (in *Introducer) GroupMembers(id group.GroupID) []profile.PeerID {
	in.mu.Lock()
	defer in.mu.Unlock()
	g := in.groups[id]
	if g == nil {
		return nil
	}
	out := make([]profile.PeerID, 0, g.nlocal)
	for pid, m := range g.members {
		if m.node == "" {
			out = append(out, pid)
		}
	}
	return out
}

// connOf returns the NetConnection of a session's peer, or nil.
func (in *Introducer) connOf(s *rtmfp.Session) *netstream.Conn {
	in.mu.Lock()
	defer in.mu.Unlock()
	if p := in.peers[s.FarPeerID()]; p != nil && p.s == s {
		return p.conn
	}
	return nil
}

// GroupInfo describes one group the introducer keeps.
type GroupInfo struct {
	ID      group.GroupID
	Members int
	// Remote counts the members of other cluster nodes.
	Remote int
}

// Groups returns the groups and their member counts, in no order.
func (in *Introducer) Groups() []GroupInfo {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]GroupInfo, 0, in.nLocalGroups)
	for id, g := range in.groups {
		if g.nlocal > 0 {
			out = append(out, GroupInfo{ID: id, Members: g.nlocal, Remote: len(g.members) - g.nlocal})
		}
	}
	return out
}
