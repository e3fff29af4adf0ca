package registry

// What the rest of the node asks of the registry: the other nodes' claims,
// streams, descriptions and the registry's own figures.

import (
	"net/netip"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Claim is one node's entry for a peer.
type Claim struct {
	Node  string
	Addrs []netip.AddrPort
}

// Peer returns the other nodes' claims of a peer, the earliest first (a
// peer may be connected to two nodes, or a node may lie: the caller uses
// them all, so that a lie never hides the truth).
func (r *Registry) Peer(id profile.PeerID) []Claim {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Claim
	for c := r.index[id]; c != nil && len(out) < 4; c = c.next {
		out = append(out, Claim{Node: c.node.info.Name, Addrs: c.addrs})
	}
	return out
}

// StreamOrigin returns the node publishing the stream key
// (app/instance/name); of several, the first to have announced it.
func (r *Registry) StreamOrigin(key string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if l := r.streams[key]; len(l) > 0 {
		return l[0].info.Name, true
	}
	return "", false
}

// Nodes returns the other nodes' descriptions.
func (r *Registry) Nodes() []NodeInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]NodeInfo, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, n.info)
	}
	return out
}

// NodeInfo returns another node's description.
func (r *Registry) NodeInfo(name string) (NodeInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := r.nodes[name]
	if n == nil {
		return NodeInfo{}, false
	}
	return n.info, true
}

// Stats is a snapshot of the registry's sizes and counters.
type Stats struct {
	Connected bool `json:"connected"`
	Nodes     int  `json:"nodes"` // other nodes
	// Sizes of the mirror of the other nodes.
	RemotePeers   int `json:"remotePeers"`
	RemoteMembers int `json:"remoteMembers"`
	RemoteStreams int `json:"remoteStreams"`
	// This node's part.
	LocalPeers   int `json:"localPeers"`
	LocalMembers int `json:"localMembers"`
	LocalStreams int `json:"localStreams"`

	DeltasOut        uint64 `json:"deltasOut"`
	DeltasIn         uint64 `json:"deltasIn"`
	HeartbeatsIn     uint64 `json:"heartbeatsIn"`
	SnapshotsServed  uint64 `json:"snapshotsServed"`
	SnapshotsFetched uint64 `json:"snapshotsFetched"`
	MessagesOut      uint64 `json:"messagesOut"`
	MessagesIn       uint64 `json:"messagesIn"`
	Gaps             uint64 `json:"gaps"`
	Refused          uint64 `json:"refused"`   // entries over a node's caps
	Malformed        uint64 `json:"malformed"` // messages that did not parse
	// Nodes that said goodbye, and nodes dropped for their silence.
	NodesLeft    uint64 `json:"nodesLeft"`
	NodesExpired uint64 `json:"nodesExpired"`
}

// Stats returns the registry's sizes and counters.
func (r *Registry) Stats() Stats {
	st := Stats{Connected: r.stats.connected.Load()}
	r.mu.RLock()
	st.Nodes = len(r.nodes)
	for _, n := range r.nodes {
		st.RemotePeers += n.peers
		st.RemoteMembers += n.nmembers
		st.RemoteStreams += len(n.streams)
	}
	r.mu.RUnlock()
	st.LocalPeers, st.LocalMembers, st.LocalStreams = r.local.sizes()
	c := &r.stats
	st.DeltasOut, st.DeltasIn, st.HeartbeatsIn = c.deltasOut.Load(), c.deltasIn.Load(), c.heartbeatsIn.Load()
	st.SnapshotsServed, st.SnapshotsFetched = c.snapshotsServed.Load(), c.snapshotsFetched.Load()
	st.MessagesOut, st.MessagesIn = c.messagesOut.Load(), c.messagesIn.Load()
	st.Gaps, st.Refused, st.Malformed = c.gaps.Load(), c.refused.Load(), c.malformed.Load()
	st.NodesLeft, st.NodesExpired = c.nodesLeft.Load(), c.nodesExpired.Load()
	return st
}
