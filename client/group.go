package client

import (
	"context"
	"errors"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Group is this client's membership of a NetGroup through the server's
// group-control flow (rtmfp-facts §6.3): the join, and the members the
// server introduces.
type Group struct {
	c       *Conn
	ID      group.GroupID
	out     *rtmfp.SendFlow
	members chan profile.PeerID
}

// JoinGroup joins the group with the given ID (see group.Spec.GroupID) over
// the server channel. Members introduced by the server arrive on Members.
func (c *Conn) JoinGroup(ctx context.Context, id group.GroupID) (*Group, error) {
	ncIn := c.netConnFlow()
	if ncIn == nil {
		return nil, errors.New("client: the server's NetConnection flow is not open")
	}
	f, err := c.s.OpenFlow([]byte("GC"), rtmfp.FlowOptions{ReturnFor: ncIn})
	if err != nil {
		return nil, err
	}
	g := &Group{c: c, ID: id, out: f, members: make(chan profile.PeerID, 1024)}
	c.mu.Lock()
	c.groups = append(c.groups, g)
	c.mu.Unlock()
	if err := f.Write(group.Join{GroupID: id}.Append(nil)); err != nil {
		return nil, err
	}
	return g, nil
}

// Members returns the peer IDs the server introduces.
func (g *Group) Members() <-chan profile.PeerID { return g.members }

// Err returns why the join flow failed: a *rtmfp.FlowException when the
// server refused it (a server without NetGroups), nil while it is open.
func (g *Group) Err() error { return g.out.Err() }

// Leave ends the membership.
func (g *Group) Leave() error { return g.out.Close() }

// groupOf returns the group whose GC flow f answers, or nil.
func (c *Conn) groupOf(f *rtmfp.RecvFlow) *Group {
	if string(f.Metadata()) != "GC" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.groups {
		if f.Association() == g.out {
			return g
		}
	}
	return nil
}

// message handles one message of the server's GC return flow.
func (g *Group) message(b []byte) {
	m, err := group.ParseMember(b)
	if err != nil {
		return
	}
	select {
	case g.members <- m.PeerID:
	default: // nobody reads: drop
	}
}

// groupFlow reads the server's GC return flow of a group.
func (c *Conn) groupFlow(f *rtmfp.RecvFlow) {
	g := c.groupOf(f)
	if g == nil {
		f.Reject(0)
		return
	}
	go func() {
		for {
			b, err := f.ReadMessage(c.ctx)
			if err != nil {
				return
			}
			g.message(b)
		}
	}()
}
