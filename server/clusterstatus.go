package server

import (
	"sort"

	"github.com/rtmfpd/rtmfpd/cluster"
	"github.com/rtmfpd/rtmfpd/cluster/registry"
	"github.com/rtmfpd/rtmfpd/cluster/trunk"
)

// ClusterStatus is a node's view of its cluster in GET /status.
type ClusterStatus struct {
	Node string `json:"node"`
	// Self is this node as its heartbeats describe it; Nodes the others.
	Self  registry.NodeInfo   `json:"self"`
	Nodes []registry.NodeInfo `json:"nodes"`
	// Registry holds the sizes of this node's part and of its mirror of
	// the others', and the registry's counters.
	Registry registry.Stats `json:"registry"`
	// Redirects counts the new sessions sent to other nodes (load).
	Redirects uint64 `json:"redirects"`
	// Trunk lists the QUIC connections with other nodes; Pulls the
	// streams pulled from them (absent without a trunk).
	Trunk *trunk.Stats        `json:"trunk,omitempty"`
	Pulls []cluster.PullStats `json:"pulls,omitempty"`
}

func (d *Daemon) clusterStatus() *ClusterStatus {
	c := d.cluster
	if c == nil {
		return nil
	}
	reg := c.Registry()
	st := &ClusterStatus{Node: c.Name(), Self: reg.Info(), Nodes: reg.Nodes(), Registry: reg.Stats(), Redirects: c.Redirects()}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
	if d.streams != nil && d.streams.Trunk() != nil {
		ts := d.streams.Trunk().Stats()
		sort.Slice(ts.Conns, func(i, j int) bool { return ts.Conns[i].Node < ts.Conns[j].Node })
		st.Trunk = &ts
		st.Pulls = d.streams.Pulls()
		sort.Slice(st.Pulls, func(i, j int) bool { return st.Pulls[i].Stream < st.Pulls[j].Stream })
	}
	return st
}

// clusterSamples adds the cluster's metrics (README "Metrics").
func (d *Daemon) clusterSamples(gauge func(name, help string, v float64, labels ...string), counter func(name, help string, v uint64, labels ...string)) {
	st := d.clusterStatus()
	if st == nil {
		return
	}
	up := 0.0
	if st.Registry.Connected {
		up = 1
	}
	gauge("cluster_nats_connected", "1 when the node's NATS connection is up.", up)
	gauge("cluster_nodes", "Other nodes of the cluster this node hears from.", float64(len(st.Nodes)))
	r := st.Registry
	const entries = "cluster_registry_entries"
	const entriesHelp = "Registry entries: this node's part (local) and its mirror of the other nodes' (remote)."
	gauge(entries, entriesHelp, float64(r.LocalPeers), "kind", "peer", "part", "local")
	gauge(entries, entriesHelp, float64(r.RemotePeers), "kind", "peer", "part", "remote")
	gauge(entries, entriesHelp, float64(r.LocalMembers), "kind", "member", "part", "local")
	gauge(entries, entriesHelp, float64(r.RemoteMembers), "kind", "member", "part", "remote")
	gauge(entries, entriesHelp, float64(r.LocalStreams), "kind", "stream", "part", "local")
	gauge(entries, entriesHelp, float64(r.RemoteStreams), "kind", "stream", "part", "remote")
	const msgs, msgsHelp = "cluster_messages_total", "Registry messages by kind and direction."
	counter(msgs, msgsHelp, r.DeltasOut, "kind", "delta", "dir", "out")
	counter(msgs, msgsHelp, r.DeltasIn, "kind", "delta", "dir", "in")
	counter(msgs, msgsHelp, r.HeartbeatsIn, "kind", "heartbeat", "dir", "in")
	counter(msgs, msgsHelp, r.SnapshotsServed, "kind", "snapshot", "dir", "out")
	counter(msgs, msgsHelp, r.SnapshotsFetched, "kind", "snapshot", "dir", "in")
	counter(msgs, msgsHelp, r.MessagesOut, "kind", "node", "dir", "out")
	counter(msgs, msgsHelp, r.MessagesIn, "kind", "node", "dir", "in")
	counter("cluster_registry_refused_total", "Registry entries refused: over a node's caps.", r.Refused)
	counter("cluster_registry_gaps_total", "Gaps in another node's deltas (a snapshot followed).", r.Gaps)
	counter("cluster_node_departures_total", "Other nodes dropped, by how.", r.NodesLeft, "how", "left")
	counter("cluster_node_departures_total", "Other nodes dropped, by how.", r.NodesExpired, "how", "expired")
	counter("cluster_redirects_total", "New sessions redirected to other nodes (load balancing, draining).", st.Redirects)
	if t := st.Trunk; t != nil {
		gauge("cluster_trunk_connections", "QUIC trunk connections with other nodes.", float64(len(t.Conns)))
		for _, c := range t.Conns {
			gauge("cluster_trunk_streams", "Pulls on the trunk with a node.", float64(c.Streams), "node", c.Node)
		}
		counter("cluster_trunk_refused_total", "Trunk connections refused (certificate of no known node).", t.Refused)
		counter("cluster_trunk_bytes_total", "Trunk bytes by direction.", t.BytesIn, "dir", "in")
		counter("cluster_trunk_bytes_total", "Trunk bytes by direction.", t.BytesOut, "dir", "out")
		gauge("cluster_pulls", "Streams pulled from other nodes.", float64(len(st.Pulls)))
	}
}
