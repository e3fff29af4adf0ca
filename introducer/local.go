package introducer

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// localMemberQueue is how many introductions wait for a local member to read
// them; more are dropped, as a client drops what it does not read.
const localMemberQueue = 1024

// ErrJoinRefused is returned by JoinLocal when a limit (groups, members)
// refuses the join.
var ErrJoinRefused = errors.New("introducer: group join refused")

// LocalMember is the group membership of a NetGroup member that lives on
// the server's own endpoint (package netgroup run by the server): it is
// placed on the group ring and introduced to other members like any client,
// and the members it is introduced to arrive on Members. Others reach it by
// opening a P2P session to its peer ID at the server's address, which the
// endpoint answers as a peer.
type LocalMember struct {
	in   *Introducer
	m    *membership
	once sync.Once
}

// JoinLocal joins the group id as the peer id (the peer ID of the endpoint
// the introducer serves, or any identity the caller answers for).
func (in *Introducer) JoinLocal(id profile.PeerID, gid group.GroupID) (*LocalMember, error) {
	in.mu.Lock()
	p := in.locals[id]
	if p == nil {
		p = &peer{id: id, groups: map[group.GroupID]*membership{}}
		in.locals[id] = p
	}
	g := in.groupForJoinLocked(p, gid)
	if g == nil {
		if len(p.groups) == 0 {
			delete(in.locals, id)
		}
		in.mu.Unlock()
		in.stats.refusedJoins.Add(1)
		return nil, ErrJoinRefused
	}
	m := &membership{p: p, g: g, local: make(chan profile.PeerID, localMemberQueue)}
	in.addMemberLocked(p, g, m)
	return &LocalMember{in: in, m: m}, nil
}

// Members returns the peer IDs the introducer gives this member: its
// bootstrap peers, then newcomers placed near it on the ring. The channel
// is closed when the membership ends.
func (l *LocalMember) Members() <-chan profile.PeerID { return l.m.local }

// Leave ends the membership.
func (l *LocalMember) Leave() error {
	l.once.Do(func() {
		in := l.in
		in.mu.Lock()
		in.leaveLocked(l.m)
		if p := l.m.p; len(p.groups) == 0 && in.locals[p.id] == p {
			delete(in.locals, p.id)
		}
		in.mu.Unlock()
	})
	return nil
}

// PeerAddresses returns where a connected client can be reached: the
// address its session comes from, then the addresses it announced with
// setPeerInfo. It returns nil for a peer that is not connected.
func (in *Introducer) PeerAddresses(id profile.PeerID) []netip.AddrPort {
	in.mu.Lock()
	p := in.peers[id]
	in.mu.Unlock()
	if p == nil {
		return nil
	}
	observed := p.s.RemoteAddr()
	var announced []string
	if p.conn != nil {
		announced = p.conn.PeerAddresses()
	}
	list := appendReported(nil, announced, observed)
	out := make([]netip.AddrPort, 0, 1+len(list))
	out = append(out, observed)
	for _, a := range list {
		if a.AddrPort != observed {
			out = append(out, a.AddrPort)
		}
	}
	return out
}
