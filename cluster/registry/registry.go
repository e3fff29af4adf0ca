// Package registry is the shared registry of an rtmfpd cluster, on NATS
// (github.com/nats-io/nats.go): which node holds each peer ID and where
// that peer can be reached, which members each node has in each NetGroup,
// and which node publishes each stream.
//
// Each node owns its part and tells the others: it publishes batched
// deltas (peer up or down, group join or leave, stream up or down), each
// numbered, and a heartbeat carrying its description, its load and the
// number of its last delta. Every node keeps a mirror of the others' parts,
// so that looking up a peer, a group's members or a stream's origin costs
// no round trip. A node that sees a gap in another's numbers, a new node, or
// a node restarted under a new instance number asks it for a snapshot of its
// part and applies the deltas that follow.
//
// Entries expire with their node: a node not heard from for Expiry
// (default 3 heartbeats, 3 s) is dropped with everything it held, and a
// node that stops cleanly says so first. A node that loses NATS drops the
// others the same way (it is a single node again) and, once reconnected,
// announces a new instance, so that the others fetch its part afresh: a
// NATS outage degrades to single-node behaviour and heals.
//
// Nothing another node says is trusted beyond its own part: its entries
// live under its name, are capped (MaxPeers, MaxMembers, MaxStreams per
// node, MaxAddresses per peer), and never replace another node's; a peer
// claimed by two nodes is looked up as both claims (see Peer).
package registry

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Config configures a Registry. Zero values mean the defaults.
type Config struct {
	// Conn is the NATS connection (required). The registry sets its
	// reconnect and disconnect handlers; it should have been made with
	// Options (no echo, no reconnect buffer).
	Conn *nats.Conn
	// Prefix starts every subject (default "rtmfpd"): clusters sharing a
	// NATS system use different prefixes.
	Prefix string
	// Node is this node's name, unique in the cluster: letters, digits,
	// '-' and '_', at most 64.
	Node string
	// Heartbeat is the period of heartbeats (default 1 s); Expiry drops a
	// node not heard from for that long (default 3 heartbeats).
	Heartbeat, Expiry time.Duration
	// FlushDelay is how long a delta waits for others to share its
	// message (default 2 ms).
	FlushDelay time.Duration
	// MaxPeers, MaxMembers and MaxStreams cap what one other node may
	// register (defaults 1,000,000, 1,000,000 and 100,000).
	MaxPeers, MaxMembers, MaxStreams int
	// Logger receives one line per node up or down and per refusal.
	Logger *slog.Logger
	// Events are told of the other nodes' changes, in order, from one
	// goroutine. Each may be nil.
	Events Events
}

// Events report changes of the other nodes' parts.
type Events struct {
	// Node is told when a node appears (up) or is dropped.
	Node func(info NodeInfo, up bool)
	// Join and Leave report a member of node joining or leaving a group
	// (a dropped node leaves every group).
	Join, Leave func(node string, gid group.GroupID, id profile.PeerID)
	// Stream reports a stream of node starting or stopping.
	Stream func(node, key string, up bool)
	// Message receives what another node sent this one (Send).
	Message func(from string, kind byte, body []byte)
}

// NodeInfo describes a node, as its heartbeats say.
type NodeInfo struct {
	Name     string `json:"name"`
	Instance uint64 `json:"instance"`
	Seq      uint64 `json:"seq"`
	// RTMFP lists the addresses where clients reach the node (for load
	// balancing Redirects).
	RTMFP []string `json:"rtmfp,omitempty"`
	// Trunk is the node's QUIC trunk address; TrunkCert the SHA-256 of
	// its certificate when the cluster generates them (hex).
	Trunk     string `json:"trunk,omitempty"`
	TrunkCert string `json:"trunkCert,omitempty"`
	// PeerID is the node's RTMFP peer ID (hex).
	PeerID string `json:"peerID,omitempty"`
	// GroupPublisher says the node publishes its own streams into
	// NetGroups (the server's groups): other nodes do not feed those
	// groups with its streams.
	GroupPublisher bool `json:"groupPublisher,omitempty"`
	// Load is the node's load; Draining says it accepts no new sessions.
	Load     Load `json:"load"`
	Draining bool `json:"draining,omitempty"`
}

// Load is what load balancing compares.
type Load struct {
	Sessions int     `json:"sessions"`
	CPU      float64 `json:"cpu"` // percent of one core over the last heartbeat
	// BitsOut is the rate the node sends at (bits per second).
	BitsOut float64 `json:"bitsOut"`
	// Over says the node is over its configured load.
	Over bool `json:"over,omitempty"`
}

// Options returns the NATS options a registry's connection needs: no echo
// of its own messages, publications refused rather than buffered while
// disconnected (the new instance replaces them), endless reconnection.
func Options() []nats.Option {
	return []nats.Option{nats.NoEcho(), nats.ReconnectBufSize(-1), nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond), nats.ReconnectJitter(100*time.Millisecond, 500*time.Millisecond)}
}

var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidNodeName reports whether name can name a node.
func ValidNodeName(name string) bool { return nodeName.MatchString(name) }

func (c *Config) populate() error {
	if c.Conn == nil {
		return errors.New("registry: no NATS connection")
	}
	if !ValidNodeName(c.Node) {
		return fmt.Errorf("registry: node name %q: letters, digits, - and _ only, at most 64", c.Node)
	}
	if c.Prefix == "" {
		c.Prefix = "rtmfpd"
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.Expiry <= 0 {
		c.Expiry = 3 * c.Heartbeat
	}
	if c.FlushDelay <= 0 {
		c.FlushDelay = 2 * time.Millisecond
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxPeers, 1000000)
	def(&c.MaxMembers, 1000000)
	def(&c.MaxStreams, 100000)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Registry is one node's view of the cluster's registry. It is safe for
// concurrent use.
type Registry struct {
	cfg  Config
	nc   *nats.Conn
	log  *slog.Logger
	self string

	local local

	// The mirror of the other nodes: written by the loop goroutine only,
	// read by lookups under mu.
	mu      sync.RWMutex
	nodes   map[string]*node
	index   map[profile.PeerID]*claim
	streams map[string][]*node

	in      chan *nats.Msg
	kick    chan struct{} // publish a heartbeat now
	quit    chan struct{}
	done    chan struct{}
	subs    []*nats.Subscription
	closing sync.Once

	stats counters
}

type counters struct {
	deltasOut, deltasIn, heartbeatsIn, snapshotsServed, snapshotsFetched atomic.Uint64
	messagesOut, messagesIn, refused, gaps, malformed                    atomic.Uint64
	nodesLeft, nodesExpired                                              atomic.Uint64
	connected                                                            atomic.Bool
}

// node is another node's part.
type node struct {
	info     NodeInfo
	lastSeen time.Time
	seq      uint64 // last delta applied
	synced   bool   // a snapshot was applied for this instance
	fetch    *fetch // a snapshot being fetched
	peers    int
	members  map[group.GroupID]map[profile.PeerID]struct{}
	nmembers int
	streams  map[string]struct{}
	refused  bool // logged a refusal already
}

// claim is one node's entry for a peer; claims of one peer are chained.
type claim struct {
	node  *node
	addrs []netip.AddrPort
	next  *claim
}

// New starts a registry on cfg.Conn.
func New(cfg Config) (*Registry, error) {
	if err := cfg.populate(); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, nc: cfg.Conn, log: cfg.Logger, self: cfg.Node,
		nodes: map[string]*node{}, index: map[profile.PeerID]*claim{}, streams: map[string][]*node{},
		in: make(chan *nats.Msg, 65536), kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	r.local.init(r)
	r.stats.connected.Store(r.nc.IsConnected())
	p := cfg.Prefix
	sub := func(subject string, h nats.MsgHandler) error {
		s, err := r.nc.Subscribe(subject, h)
		if err != nil {
			return err
		}
		s.SetPendingLimits(-1, 256<<20)
		r.subs = append(r.subs, s)
		return nil
	}
	s, err := r.nc.ChanSubscribe(p+".r.>", r.in)
	if err != nil {
		return nil, fmt.Errorf("registry: subscribe: %w", err)
	}
	s.SetPendingLimits(-1, 256<<20)
	r.subs = append(r.subs, s)
	if err := sub(p+".snap."+r.self, r.serveSnapshot); err != nil {
		r.unsubscribe()
		return nil, fmt.Errorf("registry: subscribe: %w", err)
	}
	if err := sub(p+".m."+r.self, r.receiveMessage); err != nil {
		r.unsubscribe()
		return nil, fmt.Errorf("registry: subscribe: %w", err)
	}
	r.nc.SetDisconnectErrHandler(func(*nats.Conn, error) {
		r.stats.connected.Store(false)
		r.log.Warn("cluster: NATS connection lost", "node", r.self)
	})
	r.nc.SetReconnectHandler(func(*nats.Conn) {
		r.stats.connected.Store(true)
		r.local.newInstance()
		r.log.Info("cluster: NATS connection back", "node", r.self, "instance", r.local.instanceNow())
		r.kickHeartbeat()
	})
	go r.loop()
	r.kickHeartbeat()
	return r, nil
}

func (r *Registry) unsubscribe() {
	for _, s := range r.subs {
		s.Unsubscribe()
	}
}

// Node returns this node's name.
func (r *Registry) Node() string { return r.self }

// Close says goodbye (the others drop this node's part at once) and stops.
func (r *Registry) Close() error {
	r.closing.Do(func() {
		if r.nc.IsConnected() {
			r.nc.Publish(r.cfg.Prefix+".r.bye."+r.self, nil)
			r.nc.FlushTimeout(time.Second)
		}
		r.unsubscribe()
		close(r.quit)
		<-r.done
	})
	return nil
}

func (r *Registry) kickHeartbeat() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// loop owns the mirror: it applies what the other nodes publish, sends the
// heartbeats and drops the silent nodes.
func (r *Registry) loop() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	sweep := time.NewTicker(max(r.cfg.Heartbeat/4, 10*time.Millisecond))
	defer sweep.Stop()
	var ev []func()
	for {
		ev = ev[:0]
		select {
		case <-r.quit:
			return
		case <-t.C:
			r.heartbeat()
		case <-r.kick:
			r.heartbeat()
		case <-sweep.C:
			ev = r.expire(time.Now(), ev)
		case m := <-r.in:
			ev = r.receive(m, time.Now(), ev)
		}
		for _, f := range ev {
			f()
		}
		clear(ev)
	}
}

// heartbeat publishes this node's description, after its pending deltas.
func (r *Registry) heartbeat() {
	b := r.local.heartbeat()
	if err := r.nc.Publish(r.cfg.Prefix+".r.hb."+r.self, b); err != nil {
		r.stats.connected.Store(r.nc.IsConnected())
	}
}

// receive applies one message of the registry subjects (r.mu taken here).
func (r *Registry) receive(m *nats.Msg, now time.Time, ev []func()) []func() {
	p := r.cfg.Prefix
	subj := m.Subject
	var kind, name string
	switch {
	case hasPrefix(subj, p+".r.hb."):
		kind, name = "hb", subj[len(p)+6:]
	case hasPrefix(subj, p+".r.d."):
		kind, name = "d", subj[len(p)+5:]
	case hasPrefix(subj, p+".r.bye."):
		kind, name = "bye", subj[len(p)+7:]
	default:
		return r.receiveChunk(m, now, ev) // a snapshot's inbox, or nothing
	}
	if name == r.self || !ValidNodeName(name) {
		return ev
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[name]
	switch kind {
	case "bye":
		if n != nil {
			r.log.Info("cluster: node left", "node", name)
			r.stats.nodesLeft.Add(1)
			ev = r.dropLocked(n, ev)
		}
	case "hb":
		r.stats.heartbeatsIn.Add(1)
		var info NodeInfo
		if err := json.Unmarshal(m.Data, &info); err != nil || info.Name != name {
			r.stats.malformed.Add(1)
			return ev
		}
		if n != nil && n.info.Instance != info.Instance {
			r.log.Info("cluster: node restarted", "node", name, "instance", info.Instance)
			ev = r.dropLocked(n, ev)
			n = nil
		}
		if n == nil {
			n = &node{info: info, members: map[group.GroupID]map[profile.PeerID]struct{}{}, streams: map[string]struct{}{}}
			r.nodes[name] = n
			r.log.Info("cluster: node up", "node", name, "instance", info.Instance, "rtmfp", info.RTMFP, "trunk", info.Trunk)
			up := info
			if f := r.cfg.Events.Node; f != nil {
				ev = append(ev, func() { f(up, true) })
			}
			r.kickHeartbeat() // the newcomer learns of this node at once
		}
		n.info = info
		n.lastSeen = now
		if (!n.synced || info.Seq > n.seq) && n.fetch == nil {
			if n.synced {
				r.stats.gaps.Add(1)
			}
			r.startFetch(n, now)
		}
	case "d":
		if n == nil {
			return ev // its heartbeat will introduce it
		}
		h, body, err := parseHeader(m.Data)
		if err != nil {
			r.stats.malformed.Add(1)
			return ev
		}
		r.stats.deltasIn.Add(1)
		n.lastSeen = now
		switch {
		case h.instance != n.info.Instance:
			// A new instance's first deltas before its heartbeat: the
			// heartbeat will drop the old one and fetch the new.
		case n.fetch != nil:
			n.fetch.deltas = append(n.fetch.deltas, m.Data)
			if len(n.fetch.deltas) > 4096 {
				r.startFetch(n, now) // too much while fetching: again
			}
		case !n.synced:
		case h.seq <= n.seq:
		case h.seq == n.seq+1:
			n.seq = h.seq
			ev = r.applyLocked(n, body, ev)
		default:
			r.stats.gaps.Add(1)
			r.startFetch(n, now)
		}
	}
	return ev
}

func hasPrefix(s, p string) bool { return len(s) > len(p) && s[:len(p)] == p }

// expire drops the nodes not heard from for Expiry, and restarts the
// snapshots that did not complete.
func (r *Registry) expire(now time.Time, ev []func()) []func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.nodes {
		if now.Sub(n.lastSeen) > r.cfg.Expiry {
			r.log.Warn("cluster: node expired", "node", n.info.Name, "silentFor", now.Sub(n.lastSeen).Round(time.Millisecond))
			r.stats.nodesExpired.Add(1)
			ev = r.dropLocked(n, ev)
			continue
		}
		if n.fetch != nil && now.Sub(n.fetch.started) > 4*r.cfg.Expiry {
			r.startFetch(n, now)
		}
	}
	return ev
}

// dropLocked forgets a node and everything it held.
func (r *Registry) dropLocked(n *node, ev []func()) []func() {
	ev = r.clearLocked(n, ev)
	if n.fetch != nil {
		n.fetch.sub.Unsubscribe()
		n.fetch = nil
	}
	delete(r.nodes, n.info.Name)
	info := n.info
	if f := r.cfg.Events.Node; f != nil {
		ev = append(ev, func() { f(info, false) })
	}
	return ev
}

// clearLocked removes a node's entries (before a snapshot replaces them,
// or when it is dropped).
func (r *Registry) clearLocked(n *node, ev []func()) []func() {
	if n.peers > 0 {
		for id, c := range r.index {
			r.unclaim(id, c, n)
		}
		n.peers = 0
	}
	name := n.info.Name
	for gid, ms := range n.members {
		for id := range ms {
			if f := r.cfg.Events.Leave; f != nil {
				ev = append(ev, func() { f(name, gid, id) })
			}
		}
	}
	clear(n.members)
	n.nmembers = 0
	for k := range n.streams {
		ev = r.streamDownLocked(n, k, ev)
	}
	return ev
}

// unclaim removes n's claim of id; head is the first claim.
func (r *Registry) unclaim(id profile.PeerID, head *claim, n *node) bool {
	var prev *claim
	for c := head; c != nil; prev, c = c, c.next {
		if c.node != n {
			continue
		}
		if prev == nil {
			if c.next == nil {
				delete(r.index, id)
			} else {
				r.index[id] = c.next
			}
		} else {
			prev.next = c.next
		}
		return true
	}
	return false
}

// applyLocked applies a delta's (or a snapshot's) operations of node n.
func (r *Registry) applyLocked(n *node, body []byte, ev []func()) []func() {
	name := n.info.Name
	err := parseOps(body, func(o op) {
		switch o.kind {
		case opPeerUp:
			addrs := cleanAddrs(o.addrs)
			for c := r.index[o.peer]; c != nil; c = c.next {
				if c.node == n {
					c.addrs = addrs
					return
				}
			}
			if n.peers >= r.cfg.MaxPeers {
				r.refuseLocked(n, "peers")
				return
			}
			n.peers++
			c := &claim{node: n, addrs: addrs}
			if head := r.index[o.peer]; head != nil {
				// Another node's claim stays first: the earlier holder.
				for head.next != nil {
					head = head.next
				}
				head.next = c
			} else {
				r.index[o.peer] = c
			}
		case opPeerDown:
			if head := r.index[o.peer]; head != nil && r.unclaim(o.peer, head, n) {
				n.peers--
			}
		case opJoin:
			ms := n.members[o.group]
			if _, ok := ms[o.peer]; ok {
				return
			}
			if n.nmembers >= r.cfg.MaxMembers {
				r.refuseLocked(n, "group members")
				return
			}
			if ms == nil {
				ms = map[profile.PeerID]struct{}{}
				n.members[o.group] = ms
			}
			ms[o.peer] = struct{}{}
			n.nmembers++
			if f := r.cfg.Events.Join; f != nil {
				gid, id := o.group, o.peer
				ev = append(ev, func() { f(name, gid, id) })
			}
		case opLeave:
			ms := n.members[o.group]
			if _, ok := ms[o.peer]; !ok {
				return
			}
			delete(ms, o.peer)
			if len(ms) == 0 {
				delete(n.members, o.group)
			}
			n.nmembers--
			if f := r.cfg.Events.Leave; f != nil {
				gid, id := o.group, o.peer
				ev = append(ev, func() { f(name, gid, id) })
			}
		case opStreamUp:
			if _, ok := n.streams[o.stream]; ok {
				return
			}
			if len(n.streams) >= r.cfg.MaxStreams {
				r.refuseLocked(n, "streams")
				return
			}
			n.streams[o.stream] = struct{}{}
			r.streams[o.stream] = append(r.streams[o.stream], n)
			if f := r.cfg.Events.Stream; f != nil {
				k := o.stream
				ev = append(ev, func() { f(name, k, true) })
			}
		case opStreamDown:
			if _, ok := n.streams[o.stream]; ok {
				ev = r.streamDownLocked(n, o.stream, ev)
			}
		}
	})
	if err != nil {
		r.stats.malformed.Add(1)
	}
	return ev
}

func (r *Registry) streamDownLocked(n *node, k string, ev []func()) []func() {
	delete(n.streams, k)
	list := r.streams[k]
	for i, x := range list {
		if x == n {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.streams, k)
	} else {
		r.streams[k] = list
	}
	if f := r.cfg.Events.Stream; f != nil {
		name := n.info.Name
		ev = append(ev, func() { f(name, k, false) })
	}
	return ev
}

func (r *Registry) refuseLocked(n *node, what string) {
	r.stats.refused.Add(1)
	if !n.refused {
		n.refused = true
		r.log.Warn("cluster: a node registers more than its share; refused", "node", n.info.Name, "what", what)
	}
}

// cleanAddrs keeps the addresses a peer can be reached at: no unspecified,
// multicast or port 0.
func cleanAddrs(in []netip.AddrPort) []netip.AddrPort {
	out := in[:0]
	for _, a := range in {
		ip := a.Addr().Unmap()
		if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || a.Port() == 0 {
			continue
		}
		out = append(out, netip.AddrPortFrom(ip, a.Port()))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Send sends another node a message of kind (what Events.Message receives
// there). It does not wait.
func (r *Registry) Send(node string, kind byte, body []byte) error {
	if !ValidNodeName(node) {
		return fmt.Errorf("registry: node name %q", node)
	}
	r.stats.messagesOut.Add(1)
	return r.nc.Publish(r.cfg.Prefix+".m."+node, appendMessage(make([]byte, 0, 2+len(r.self)+len(body)), kind, r.self, body))
}

func (r *Registry) receiveMessage(m *nats.Msg) {
	kind, from, body, err := parseMessage(m.Data)
	if err != nil {
		r.stats.malformed.Add(1)
		return
	}
	r.mu.RLock()
	_, known := r.nodes[from]
	r.mu.RUnlock()
	if !known {
		return // a node not (or no longer) in the cluster
	}
	r.stats.messagesIn.Add(1)
	if f := r.cfg.Events.Message; f != nil {
		f(from, kind, body)
	}
}

func randomInstance() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) | 1
}

// fetch is a snapshot being received from a node.
type fetch struct {
	inbox   string
	sub     *nats.Subscription
	started time.Time
	cleared bool     // the node's old entries are gone
	deltas  [][]byte // deltas that arrived meanwhile
}

// startFetch asks node n for a snapshot of its part (r.mu held). Its
// chunks arrive on an inbox delivered to the loop like the deltas, in the
// order n published them.
func (r *Registry) startFetch(n *node, now time.Time) {
	if n.fetch != nil {
		n.fetch.sub.Unsubscribe()
		n.fetch = nil
	}
	inbox := r.nc.NewRespInbox()
	sub, err := r.nc.ChanSubscribe(inbox, r.in)
	if err != nil {
		return
	}
	sub.SetPendingLimits(-1, 256<<20)
	n.fetch = &fetch{inbox: inbox, sub: sub, started: now}
	if err := r.nc.PublishRequest(r.cfg.Prefix+".snap."+n.info.Name, inbox, nil); err != nil {
		sub.Unsubscribe()
		n.fetch = nil
	}
}

// receiveChunk applies a chunk of a snapshot.
func (r *Registry) receiveChunk(m *nats.Msg, now time.Time, ev []func()) []func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n *node
	for _, x := range r.nodes {
		if x.fetch != nil && x.fetch.inbox == m.Subject {
			n = x
			break
		}
	}
	if n == nil {
		return ev
	}
	f := n.fetch
	h, body, err := parseHeader(m.Data)
	if err != nil || h.instance != n.info.Instance {
		if err != nil {
			r.stats.malformed.Add(1)
		}
		f.sub.Unsubscribe()
		n.fetch = nil // the next heartbeat asks again
		return ev
	}
	n.lastSeen = now
	if !f.cleared {
		ev = r.clearLocked(n, ev)
		f.cleared = true
	}
	ev = r.applyLocked(n, body, ev)
	if h.flags&flagLast == 0 {
		return ev
	}
	f.sub.Unsubscribe()
	n.fetch = nil
	n.seq, n.synced = h.seq, true
	r.stats.snapshotsFetched.Add(1)
	for _, d := range f.deltas {
		dh, dbody, err := parseHeader(d)
		switch {
		case err != nil || dh.instance != n.info.Instance || dh.seq <= n.seq:
		case dh.seq == n.seq+1:
			n.seq = dh.seq
			ev = r.applyLocked(n, dbody, ev)
		default:
			r.stats.gaps.Add(1)
			r.startFetch(n, now)
			return ev
		}
	}
	return ev
}
