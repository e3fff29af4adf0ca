// Package cluster makes rtmfpd nodes act as one server: one introducer, one
// group directory and one stream namespace.
//
// The nodes share a registry on NATS (package cluster/registry): which node
// holds each peer and where it can be reached, each node's members of each
// NetGroup, and which node publishes each stream.
//
//   - Introductions (RFC 7016 §3.5.1.4–5): an IHello for a peer connected to
//     another node is answered as if the peer were local. The node holding
//     the peer sends it the Forwarded IHellos, within that peer's forward
//     rate; the node the IHello reached sends the initiator the Redirect
//     with the peer's addresses from the registry.
//   - Groups: every node keeps the other nodes' members on its group rings
//     (introducer.RemoteJoin), so a newcomer is given ring neighbours and
//     random members from every node, and the newcomer's node asks the
//     nodes of the neighbours to tell them about it (Tell). Leaves and a
//     node's expiry take its members off every ring.
//   - Streams: a player of a stream published on another node makes its
//     node pull it over a QUIC trunk (package cluster/trunk) and publish it
//     locally, until the last player leaves (streams.go).
//   - Load: a node over its configured load, or draining, answers new
//     IHellos with a Redirect to less-loaded nodes (balance.go).
//
// Without a cluster the server uses none of this: a single node is the
// cluster of one, and the introducer's Cluster seam stays nil.
package cluster

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/cluster/registry"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Config configures a Node.
type Config struct {
	// Name is the node's name, unique in the cluster.
	Name string
	// Conn is the NATS connection of the registry, made with
	// registry.Options.
	Conn *nats.Conn
	// Prefix, Heartbeat and Expiry: see registry.Config.
	Prefix            string
	Heartbeat, Expiry time.Duration
	// Introducer is the node's introducer; the node becomes its Cluster.
	Introducer *introducer.Introducer
	// PeerID is the server's own peer ID: registered with the RTMFP
	// addresses, so that members of other nodes reach the server's own
	// group memberships.
	PeerID profile.PeerID
	// RTMFP lists the addresses clients reach this node at: given in
	// load-balancing Redirects and with the server's peer ID.
	RTMFP []netip.AddrPort
	// Streams shares streams between nodes (nil: none).
	Streams *Streams
	// Balance is the load-balancing policy.
	Balance Balance
	// Logger: one line per node up or down, trunk, pull, redirect policy.
	Logger *slog.Logger
}

// Node is one node of a cluster.
type Node struct {
	cfg   Config
	log   *slog.Logger
	reg   *registry.Registry
	intro *introducer.Introducer
	bal   *balancer
}

// Start joins the cluster.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Introducer == nil {
		return nil, fmt.Errorf("cluster: no introducer")
	}
	n := &Node{cfg: cfg, log: cfg.Logger, intro: cfg.Introducer}
	n.bal = newBalancer(n, cfg.Balance)
	rc := registry.Config{Conn: cfg.Conn, Prefix: cfg.Prefix, Node: cfg.Name, Heartbeat: cfg.Heartbeat,
		Expiry: cfg.Expiry, Logger: cfg.Logger, Events: registry.Events{
			Node:    n.nodeEvent,
			Join:    func(node string, gid group.GroupID, id profile.PeerID) { n.intro.RemoteJoin(gid, id, node) },
			Leave:   func(node string, gid group.GroupID, id profile.PeerID) { n.intro.RemoteLeave(gid, id, node) },
			Stream:  n.streamEvent,
			Message: n.message,
		}}
	// The introducer's peers must reach the registry from the start.
	cfg.Introducer.SetCluster(n)
	reg, err := registry.New(rc)
	if err != nil {
		cfg.Introducer.SetCluster(nil)
		return nil, err
	}
	n.reg = reg
	n.Advertise(cfg.PeerID, cfg.RTMFP)
	if s := cfg.Streams; s != nil {
		if err := s.start(n); err != nil {
			reg.Close()
			cfg.Introducer.SetCluster(nil)
			return nil, err
		}
	}
	n.bal.start()
	return n, nil
}

// Advertise sets the server's peer ID and the addresses clients reach the
// node at: given in load-balancing Redirects, and registered for the peer
// ID, so that members of other nodes reach the server's own group
// memberships.
func (n *Node) Advertise(id profile.PeerID, addrs []netip.AddrPort) {
	var zero profile.PeerID
	var list []string
	for _, a := range addrs {
		list = append(list, a.String())
	}
	n.reg.SetInfo(func(i *registry.NodeInfo) {
		i.RTMFP = list
		if id != zero {
			i.PeerID = id.String()
		}
	})
	if id != zero && len(addrs) > 0 {
		n.reg.PeerUp(id, addrs)
	}
	n.bal.refresh()
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Registry returns the node's registry.
func (n *Node) Registry() *registry.Registry { return n.reg }

// Leave leaves the registry (the other nodes drop this node's part at
// once) while the node still redirects new sessions to them (Drain).
func (n *Node) Leave() { n.reg.Close() }

// Close leaves the cluster: the other nodes drop this node's part at once.
func (n *Node) Close() error {
	n.bal.stop()
	if s := n.cfg.Streams; s != nil {
		s.close()
	}
	return n.reg.Close()
}

func (n *Node) nodeEvent(info registry.NodeInfo, up bool) {
	if !up {
		if s := n.cfg.Streams; s != nil {
			s.nodeGone(info.Name)
		}
	}
}

func (n *Node) streamEvent(node, key string, up bool) {
	if s := n.cfg.Streams; s != nil {
		s.remoteStream(node, key, up)
	}
}

// message handles what another node asks of this one.
func (n *Node) message(from string, kind byte, body []byte) {
	switch kind {
	case msgForward:
		f, err := parseForward(body)
		if err != nil {
			return
		}
		n.intro.ForwardIntroduction(f.target, f.epd, f.tag, f.from)
	case msgTell:
		t, err := parseTell(body)
		if err != nil {
			return
		}
		n.intro.Tell(t.group, t.member, t.newcomer)
	}
}

// PeerUp implements introducer.Cluster.
func (n *Node) PeerUp(id profile.PeerID, addrs []netip.AddrPort) {
	if n.reg != nil {
		n.reg.PeerUp(id, addrs)
	}
}

// PeerDown implements introducer.Cluster.
func (n *Node) PeerDown(id profile.PeerID) {
	if n.reg != nil {
		n.reg.PeerDown(id)
	}
}

// Joined implements introducer.Cluster.
func (n *Node) Joined(gid group.GroupID, id profile.PeerID) {
	if n.reg != nil {
		n.reg.Join(gid, id)
	}
}

// Left implements introducer.Cluster.
func (n *Node) Left(gid group.GroupID, id profile.PeerID) {
	if n.reg != nil {
		n.reg.Leave(gid, id)
	}
}

// Tell implements introducer.Cluster.
func (n *Node) Tell(node string, gid group.GroupID, member, newcomer profile.PeerID) {
	if n.reg != nil {
		n.reg.Send(node, msgTell, tellMsg{group: gid, member: member, newcomer: newcomer}.append(nil))
	}
}

// Introduce implements introducer.Cluster: each node claiming target is
// asked to forward the IHello (a node that does not hold it ignores the
// request), and the Redirect lists the claims' addresses in turn, the
// first address of each claim first, so that no claim hides another.
func (n *Node) Introduce(target profile.PeerID, epd, tag []byte, from []wire.Address) ([]wire.Address, bool) {
	if n.reg == nil {
		return nil, false
	}
	claims := n.reg.Peer(target)
	if len(claims) == 0 {
		return nil, false
	}
	msg := forwardMsg{target: target, epd: epd, tag: tag, from: from}.append(nil)
	var to []wire.Address
	for _, c := range claims {
		n.reg.Send(c.Node, msgForward, msg)
	}
	for i := 0; len(to) < 8; i++ {
		added := false
		for _, c := range claims {
			if i < len(c.Addrs) && len(to) < 8 {
				origin := wire.OriginReported
				if i == 0 {
					origin = wire.OriginObserved
				}
				to = append(to, wire.Address{AddrPort: c.Addrs[i], Origin: origin})
				added = true
			}
		}
		if !added {
			break
		}
	}
	return to, len(to) > 0
}
