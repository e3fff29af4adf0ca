package groupstream

import (
	"context"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/netgroup"
)

// Member is a client's membership of a NetGroup with its multicast streams:
// what Flash's NetGroup plus NetStream(connection, groupspec) give an
// application.
type Member struct {
	*Group
	NetGroup *netgroup.Member
	cancel   context.CancelFunc
}

// JoinClient joins the group of spec (a "G:…" groupspec) through the
// server conn is connected to: the server introduces members, and the
// client's endpoint serves their P2P sessions (its sessions are accepted by
// this member from now on).
func JoinClient(ctx context.Context, conn *client.Conn, spec string) (*Member, error) {
	ep := conn.Session().Endpoint()
	sctx, cancel := context.WithCancel(context.Background())
	go netgroup.Serve(sctx, ep, nil)
	g := New(ep.Logger())
	m, err := netgroup.Join(ctx, netgroup.Config{Endpoint: ep, Spec: spec, Rendezvous: netgroup.ClientRendezvous{Conn: conn}, Handler: g})
	if err != nil {
		cancel()
		g.Close()
		return nil, err
	}
	return &Member{Group: g, NetGroup: m, cancel: cancel}, nil
}

// Close leaves the group.
func (m *Member) Close() error {
	m.Group.Close() // first: its streams' ends go out while the neighbours are there
	err := m.NetGroup.Close()
	m.cancel()
	return err
}
