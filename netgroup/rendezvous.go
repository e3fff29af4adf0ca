package netgroup

import (
	"context"
	"net/netip"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// ClientRendezvous is the Rendezvous of a client member: it joins over the
// connection's GC flow (client.Conn.JoinGroup) and reaches peers through
// the server's introduction (client.Conn.ConnectPeer).
type ClientRendezvous struct {
	Conn *client.Conn
}

// Join joins the group over the server connection.
func (r ClientRendezvous) Join(ctx context.Context, id group.GroupID) (Membership, error) {
	return r.Conn.JoinGroup(ctx, id)
}

// Connect opens a P2P session to peer, introduced by the server.
func (r ClientRendezvous) Connect(ctx context.Context, peer profile.PeerID) (*rtmfp.Session, error) {
	return r.Conn.ConnectPeer(ctx, peer)
}

// ServerAddress is the address of the client's server.
func (r ClientRendezvous) ServerAddress() (netip.AddrPort, bool) {
	a := r.Conn.Session().RemoteAddr()
	return a, a.IsValid()
}

// ServerRendezvous is the Rendezvous of a member living on the server's own
// endpoint: it joins the introducer directly (introducer.JoinLocal), is
// introduced to the other members like any of them, and reaches a member by
// opening a P2P session (peer-ID discriminator) to the addresses the
// introducer knows for it. Members reach it by its peer ID at the server's
// address; the endpoint answers as a peer, and the owner hands those
// sessions to HandleSession.
type ServerRendezvous struct {
	Introducer *introducer.Introducer
	Endpoint   *rtmfp.Endpoint
}

// Join joins the group as the endpoint's peer ID.
func (r ServerRendezvous) Join(ctx context.Context, id group.GroupID) (Membership, error) {
	return r.Introducer.JoinLocal(r.Endpoint.PeerID(), id)
}

// Connect opens a P2P session to a connected client.
func (r ServerRendezvous) Connect(ctx context.Context, peer profile.PeerID) (*rtmfp.Session, error) {
	if s, ok := r.Endpoint.Session(peer); ok && s.PeerMode() && s.Err() == nil {
		return s, nil
	}
	addrs := r.Introducer.PeerAddresses(peer)
	if len(addrs) == 0 {
		return nil, rtmfp.ErrNoSuchPeer
	}
	return r.Endpoint.Connect(ctx, flash.PeerEPD(peer), addrs...)
}
