package introducer

import (
	"net/netip"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Cluster is what the introducer asks of the other nodes of a cluster
// (package cluster) when it is one node of several. Nil (the default) is a
// single node: the cluster of one, whose every peer and member is local.
//
// The introducer tells the cluster about its own clients and members; the
// cluster places the members of other nodes on the introducer's group rings
// (RemoteJoin, RemoteLeave) and hands it what other nodes ask of it
// (ForwardIntroduction, Tell). PeerUp, PeerDown, Joined and Left may be
// called with the introducer's lock held: they must only record, never call
// back into the introducer. None may block for long (Introduce runs on the
// endpoint's receive goroutine).
type Cluster interface {
	// PeerUp says that a client is connected here, reachable at addrs
	// (observed first, then the addresses it announced); called again
	// when the announced addresses change.
	PeerUp(id profile.PeerID, addrs []netip.AddrPort)
	// PeerDown says the client is gone.
	PeerDown(id profile.PeerID)
	// Introduce is asked for an IHello whose target is no local client.
	// It asks the node holding target to send it the Forwarded IHellos
	// (one per address in from) and returns the target's addresses for the
	// Redirect; ok is false when no node holds it (RFC 7016 §3.5.1.4–5).
	Introduce(target profile.PeerID, epd, tag []byte, from []wire.Address) (to []wire.Address, ok bool)
	// Joined and Left say that a local member joined or left a group.
	Joined(gid group.GroupID, id profile.PeerID)
	Left(gid group.GroupID, id profile.PeerID)
	// Tell asks node, which holds member, to tell member about newcomer
	// (a 0B message on member's group-control flow).
	Tell(node string, gid group.GroupID, member, newcomer profile.PeerID)
}

// SetCluster makes the introducer one node of a cluster. It must be
// called before the introducer serves anything.
func (in *Introducer) SetCluster(c Cluster) { in.cluster = c }

// ForwardIntroduction sends a local client the Forwarded IHellos another
// node asks for on behalf of an initiator that reached it (one per address
// in from, within the client's ForwardRate, as for a local introduction).
// It reports whether target is a local client.
func (in *Introducer) ForwardIntroduction(target profile.PeerID, epd, tag []byte, from []wire.Address) bool {
	in.mu.Lock()
	p := in.peers[target]
	in.mu.Unlock()
	if p == nil {
		return false
	}
	in.forward(p, epd, tag, from, time.Now())
	return true
}

// RemoteJoin places a member of another node on the group's ring, so that
// local newcomers are told about it and it about them. It is refused
// (false) when a group limit is reached.
func (in *Introducer) RemoteJoin(gid group.GroupID, id profile.PeerID, node string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	g := in.groups[gid]
	if g == nil {
		if len(in.groups) >= 2*in.cfg.MaxGroups {
			return false
		}
		g = &grp{id: gid, members: map[profile.PeerID]*membership{}}
		in.groups[gid] = g
	}
	if old := g.members[id]; old != nil {
		if old.node == node {
			return true
		}
		if old.node == "" {
			return true // a local client: it wins
		}
		in.leaveLocked(old)
	}
	if len(g.members) >= in.cfg.MaxMembers {
		if len(g.members) == 0 {
			delete(in.groups, gid)
		}
		return false
	}
	g.members[id] = &membership{p: &peer{id: id}, g: g, node: node}
	g.ring.Add(id)
	return true
}

// RemoteLeave takes a member of node off the group's ring.
func (in *Introducer) RemoteLeave(gid group.GroupID, id profile.PeerID, node string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	g := in.groups[gid]
	if g == nil {
		return
	}
	if m := g.members[id]; m != nil && m.node == node && node != "" {
		in.leaveLocked(m)
	}
}

// Tell introduces newcomer (a member on another node) to the local member
// of the group gid, as the newcomer's node asked. It reports whether member
// is a local member of the group.
func (in *Introducer) Tell(gid group.GroupID, member, newcomer profile.PeerID) bool {
	in.mu.Lock()
	var m *membership
	if g := in.groups[gid]; g != nil {
		m = g.members[member]
	}
	in.mu.Unlock()
	if m == nil || m.node != "" {
		return false
	}
	m.send(newcomer)
	in.stats.membersIntroduced.Add(1)
	return true
}

// PeerInfo is told that a client announced its addresses (setPeerInfo,
// the netstream hook): the cluster learns them, as the introducer keeps
// them.
func (in *Introducer) PeerInfo(c *netstream.Conn, _ []string) {
	if in.cluster == nil {
		return
	}
	in.mu.Lock()
	p := in.byConn[c]
	in.mu.Unlock()
	if p != nil {
		in.cluster.PeerUp(p.id, in.PeerAddresses(p.id))
	}
}

// remoteIntroduce answers an IHello for a peer of another node: that node
// sends the Forwarded IHellos, this one the Redirect.
func (in *Introducer) remoteIntroduce(redirect func([]wire.Address) bool, target profile.PeerID, epd, tag []byte, from []wire.Address) bool {
	to, ok := in.cluster.Introduce(target, epd, tag, from)
	if !ok {
		return false
	}
	if redirect(to) {
		in.stats.redirects.Add(1)
	}
	in.stats.introductions.Add(1)
	in.stats.remoteIntroductions.Add(1)
	return true
}
