package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/cluster"
	"github.com/rtmfpd/rtmfpd/cluster/natsembed"
	"github.com/rtmfpd/rtmfpd/cluster/registry"
	"github.com/rtmfpd/rtmfpd/cluster/trunk"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// ClusterConfig makes the server one node of a cluster (package cluster):
// nodes share one introducer, one group directory and one stream
// namespace through a registry on NATS, pull streams from each other over
// QUIC trunks and send new sessions to each other when over their load.
// Everything else in the configuration stays per node.
type ClusterConfig struct {
	// Node names this node, unique in the cluster (letters, digits, - and
	// _). Empty: no cluster.
	Node string `json:"node"`
	// NATS lists the URLs of the NATS servers to use
	// ("nats://host:4222"; user and password may be in the URL). Empty
	// with EmbeddedNATS: the embedded server.
	NATS []string `json:"nats"`
	// NATSToken and NATSCredentials (a .creds file) authenticate to NATS.
	NATSToken       string `json:"natsToken"`
	NATSCredentials string `json:"natsCredentials"`
	// EmbeddedNATS runs a NATS server in this process; the nodes'
	// embedded servers join each other with routes.
	EmbeddedNATS *EmbeddedNATSConfig `json:"embeddedNATS"`
	// Prefix starts the registry's subjects (default "rtmfpd"):
	// clusters sharing a NATS system need different prefixes.
	Prefix string `json:"prefix"`
	// Heartbeat is the nodes' heartbeat period (default 1 s); a node not
	// heard from for Expiry (default 3 heartbeats) is dropped with its
	// peers, members and streams.
	Heartbeat Duration `json:"heartbeat"`
	Expiry    Duration `json:"expiry"`
	// Advertise lists the RTMFP addresses other nodes send clients to
	// (load balancing) and give for this server's peer ID. Default: the
	// rtmfp addresses that name a host (not 0.0.0.0 or [::]).
	Advertise []string `json:"advertise"`
	// Trunk is the QUIC listener that streams are pulled from.
	Trunk TrunkConfig `json:"trunk"`
	// MaxSessions, MaxCPU (percent of one core) and MaxBandwidth (bits
	// per second the node sends, over RTMFP, RTMP, HTTP-FLV and the trunk):
	// over any, new sessions are redirected to a less-loaded node. 0: no
	// limit.
	MaxSessions  int     `json:"maxSessions"`
	MaxCPU       float64 `json:"maxCPU"`
	MaxBandwidth float64 `json:"maxBandwidth"`
	// DrainTimeout is how long a stopping node redirects new sessions to
	// the others before it closes its own (default 0: it leaves the
	// registry and closes at once).
	DrainTimeout Duration `json:"drainTimeout"`
}

// EmbeddedNATSConfig is the NATS server a node runs in its process.
type EmbeddedNATSConfig struct {
	// Listen is the client address (default 127.0.0.1:4222).
	Listen string `json:"listen"`
	// ClusterListen is the route address other nodes' servers join (""
	// for a server of its own); Routes their route addresses.
	ClusterListen string   `json:"clusterListen"`
	Routes        []string `json:"routes"`
	// Token is required from clients and routes when set.
	Token string `json:"token"`
}

// TrunkConfig is a node's QUIC trunk (package cluster/trunk).
type TrunkConfig struct {
	// Listen is the UDP address of the trunk (default: none, streams
	// are not shared).
	Listen string `json:"listen"`
	// Advertise is the address other nodes dial (default Listen, when
	// it names a host).
	Advertise string `json:"advertise"`
	// Cert and Key are this node's certificate and key (PEM), CA the
	// authority that signs every node's certificate. Empty: each node
	// generates its certificate and the others accept it by the
	// fingerprint it announces in the registry.
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
	// QueueBytes bounds what waits for one relayed stream on the sending
	// node (default 4 MiB); a slow stream drops whole GOPs, never slows
	// another.
	QueueBytes int `json:"queueBytes"`
}

func (c *ClusterConfig) enabled() bool { return c.Node != "" }

func (c *ClusterConfig) validate() error {
	if !c.enabled() {
		return nil
	}
	if !registry.ValidNodeName(c.Node) {
		return fmt.Errorf("node: %q: letters, digits, - and _ only, at most 64", c.Node)
	}
	if len(c.NATS) == 0 && c.EmbeddedNATS == nil {
		return errors.New("nats: a NATS URL or embeddedNATS is needed")
	}
	if e := c.EmbeddedNATS; e != nil {
		for name, a := range map[string]string{"listen": e.Listen, "clusterListen": e.ClusterListen} {
			if a == "" {
				continue
			}
			if _, err := netip.ParseAddrPort(a); err != nil {
				return fmt.Errorf("embeddedNATS.%s: address %q: %w", name, a, err)
			}
		}
		if len(e.Routes) > 0 && e.ClusterListen == "" {
			return errors.New("embeddedNATS.routes: needs clusterListen")
		}
	}
	for _, a := range c.Advertise {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return fmt.Errorf("advertise: address %q: %w", a, err)
		}
	}
	if t := c.Trunk; t.Listen != "" {
		if _, err := netip.ParseAddrPort(t.Listen); err != nil {
			return fmt.Errorf("trunk.listen: address %q: %w", t.Listen, err)
		}
		if (t.Cert == "") != (t.Key == "") || (t.Cert == "") != (t.CA == "") {
			return errors.New("trunk: cert, key and ca go together (or none: generated certificates)")
		}
	}
	if c.MaxCPU < 0 {
		return fmt.Errorf("maxCPU: %v is negative", c.MaxCPU)
	}
	if c.MaxBandwidth < 0 {
		return fmt.Errorf("maxBandwidth: %v is negative", c.MaxBandwidth)
	}
	return nil
}

// advertised returns the RTMFP addresses the node gives other nodes.
func (d *Daemon) advertised() []netip.AddrPort {
	var out []netip.AddrPort
	for _, a := range d.cfg.Cluster.Advertise {
		out = append(out, netip.MustParseAddrPort(a))
	}
	if len(out) > 0 {
		return out
	}
	for _, ep := range d.endpoints {
		ap, err := netip.ParseAddrPort(ep.LocalAddr().String())
		if err == nil && !ap.Addr().IsUnspecified() {
			out = append(out, ap)
		}
	}
	return out
}

// startCluster joins the cluster (once the endpoints listen, before any
// session is accepted).
func (d *Daemon) startCluster() error {
	cc := d.cfg.Cluster
	if !cc.enabled() {
		return nil
	}
	opts := append(registry.Options(), nats.Name("rtmfpd "+cc.Node))
	if cc.NATSToken != "" {
		opts = append(opts, nats.Token(cc.NATSToken))
	}
	if cc.NATSCredentials != "" {
		opts = append(opts, nats.UserCredentials(cc.NATSCredentials))
	}
	url := strings.Join(cc.NATS, ",")
	if e := cc.EmbeddedNATS; e != nil {
		listen := e.Listen
		if listen == "" {
			listen = "127.0.0.1:4222"
		}
		ns, err := natsembed.Start(natsembed.Config{Listen: listen, ClusterListen: e.ClusterListen, Routes: e.Routes,
			Name: cc.Node, Token: e.Token})
		if err != nil {
			return fmt.Errorf("cluster: embedded NATS: %w", err)
		}
		d.nats = ns
		d.log.Info("cluster: embedded NATS listening", "address", ns.Addr().String(), "cluster", ns.ClusterAddr())
		if url == "" {
			opts = append(opts, nats.InProcessServer(ns.Server))
			if e.Token != "" {
				opts = append(opts, nats.Token(e.Token))
			}
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cluster: NATS %s: %w", url, err)
	}
	d.natsConn = nc
	node, err := cluster.Start(cluster.Config{Name: cc.Node, Conn: nc, Prefix: cc.Prefix,
		Heartbeat: time.Duration(cc.Heartbeat), Expiry: time.Duration(cc.Expiry),
		Introducer: d.intro, Logger: d.log, Streams: d.streams,
		Balance: cluster.Balance{MaxSessions: cc.MaxSessions, MaxCPU: cc.MaxCPU, MaxBandwidth: cc.MaxBandwidth,
			Sessions: d.rtmfpSessions, BytesOut: d.bytesOut}})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	d.cluster = node
	where := "in-process"
	if url != "" {
		where = nc.ConnectedUrlRedacted()
	}
	d.log.Info("cluster: joined", "node", cc.Node, "nats", where)
	return nil
}

// clusterStreams prepares the sharing of streams (nil without a trunk).
func (d *Daemon) clusterStreams() (*cluster.Streams, error) {
	cc := d.cfg.Cluster
	if !cc.enabled() || cc.Trunk.Listen == "" {
		return nil, nil
	}
	t := cc.Trunk
	var id *trunk.Identity
	var err error
	if t.Cert != "" {
		id, err = trunk.LoadIdentity(t.Cert, t.Key, t.CA)
	} else {
		id, err = trunk.GenerateIdentity(cc.Node)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster.trunk: %w", err)
	}
	return cluster.NewStreams(cluster.StreamsConfig{Listen: t.Listen, Advertise: t.Advertise, Identity: id,
		QueueBytes: t.QueueBytes, Logger: d.log,
		Feed: d.feedGroups, OnCopy: d.groupCopy, OnCopyEnd: d.groupUnpublish})
}

// announceGroups tells the other nodes whether this one publishes into
// groups itself.
func (d *Daemon) announceGroups() {
	if d.cluster != nil {
		gp := d.groupPublisher()
		d.cluster.Registry().SetInfo(func(i *registry.NodeInfo) { i.GroupPublisher = gp })
	}
}

// groupPublisher reports whether the server publishes streams into groups.
func (d *Daemon) groupPublisher() bool {
	for _, sg := range d.groupList() {
		if len(sg.cfg.Publish) > 0 {
			return true
		}
	}
	return false
}

// feedGroups decides whether a stream another node started is pulled for
// this server's groups: a publish rule matches it and its origin does not
// publish into groups itself (with the same groups on every node, the
// origin does; each stream enters a group once).
func (d *Daemon) feedGroups(origin, key string) bool {
	if d.cluster == nil {
		return false
	}
	if info, ok := d.cluster.Registry().NodeInfo(origin); !ok || info.GroupPublisher {
		return false
	}
	app, rest, _ := strings.Cut(key, "/")
	_, name, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	for _, sg := range d.groupList() {
		for _, r := range sg.cfg.Publish {
			if netstream.MatchPattern(r.App, app) && netstream.MatchPattern(r.Stream, name) {
				return true
			}
		}
	}
	return false
}

// groupCopy publishes a pulled copy into the groups, as a local
// publication is.
func (d *Daemon) groupCopy(st *netstream.Stream) {
	for _, sg := range d.groupList() {
		sg.onPublish(st)
	}
}

// rtmfpSessions counts the RTMFP sessions the server follows.
func (d *Daemon) rtmfpSessions() int {
	l := d.sessions
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.live)
}

// bytesOut counts the bytes the node has sent to clients (RTMFP, RTMP,
// HTTP-FLV) and to other nodes (the trunk), for cluster.maxBandwidth.
func (d *Daemon) bytesOut() uint64 {
	_, out := d.sessions.bytes()
	if d.streams != nil && d.streams.Trunk() != nil {
		out += d.streams.Trunk().Stats().BytesOut
	}
	if !d.listening.Load() {
		return out
	}
	if d.rtmp != nil {
		out += d.rtmp.Stats().BytesOut
	}
	if d.flv != nil {
		out += d.flv.Stats().BytesOut
	}
	return out
}

// redirect is the endpoints' load-balancing hook.
func (d *Daemon) redirect(from netip.AddrPort) []wire.Address {
	if c := d.cluster; c != nil {
		return c.Redirect(from)
	}
	return nil
}

// Cluster returns the node's cluster membership (nil without a cluster).
func (d *Daemon) Cluster() *cluster.Node { return d.cluster }

// stopCluster leaves the cluster and stops the embedded NATS server.
func (d *Daemon) stopCluster() {
	if d.cluster != nil {
		d.cluster.Close()
	}
	if d.natsConn != nil {
		d.natsConn.Close()
	}
	if d.nats != nil {
		d.nats.Close()
	}
}

// drainCluster, at shutdown, sends new sessions to the other nodes for
// cluster.drainTimeout (bounded by half of ctx's time), then leaves the
// registry: the others drop this node's part at once. The endpoints keep
// redirecting new sessions until they close.
func (d *Daemon) drainCluster(ctx context.Context) {
	if d.cluster == nil {
		return
	}
	d.cluster.Drain()
	if w := time.Duration(d.cfg.Cluster.DrainTimeout); w > 0 {
		if dl, ok := ctx.Deadline(); ok {
			w = min(w, time.Until(dl)/2)
		}
		t := time.NewTimer(w)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	d.cluster.Leave()
}
