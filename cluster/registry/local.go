package registry

import (
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// maxDelta is the size at which pending operations are published at once.
const maxDelta = 256 << 10

// memberKey is one local membership.
type memberKey struct {
	group group.GroupID
	peer  profile.PeerID
}

// local is this node's part: what it tells the others.
type local struct {
	r *Registry

	mu       sync.Mutex
	instance uint64
	seq      uint64 // last delta published
	info     NodeInfo
	peers    map[profile.PeerID][]netip.AddrPort
	members  map[memberKey]struct{}
	streams  map[string]struct{}
	pending  []byte // operations not yet published
	timer    *time.Timer
}

func (l *local) init(r *Registry) {
	l.r = r
	l.instance = randomInstance()
	l.info.Name = r.self
	l.peers = map[profile.PeerID][]netip.AddrPort{}
	l.members = map[memberKey]struct{}{}
	l.streams = map[string]struct{}{}
}

// newInstance starts a new instance after a NATS outage: the others drop
// the old one and fetch this node's part again.
func (l *local) newInstance() {
	l.mu.Lock()
	l.instance = randomInstance()
	l.seq = 0
	l.pending = l.pending[:0]
	l.mu.Unlock()
}

func (l *local) instanceNow() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.instance
}

func (l *local) sizes() (peers, members, streams int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers), len(l.members), len(l.streams)
}

// add queues an operation (l.mu held) and arms the flush.
func (l *local) add(o op) {
	l.pending = appendOp(l.pending, o)
	if len(l.pending) >= maxDelta {
		l.flushLocked()
		return
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(l.r.cfg.FlushDelay, l.flush)
	}
}

func (l *local) flush() {
	l.mu.Lock()
	l.flushLocked()
	l.mu.Unlock()
}

// flushLocked publishes the pending operations as one delta.
func (l *local) flushLocked() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.pending) == 0 {
		return
	}
	l.seq++
	b := appendHeader(make([]byte, 0, headerLen+len(l.pending)), header{instance: l.instance, seq: l.seq})
	b = append(b, l.pending...)
	l.pending = l.pending[:0]
	l.r.stats.deltasOut.Add(1)
	if err := l.r.nc.Publish(l.r.cfg.Prefix+".r.d."+l.r.self, b); err != nil {
		// Lost (NATS is down): the instance that follows the reconnection
		// makes the others fetch everything.
		l.r.stats.connected.Store(l.r.nc.IsConnected())
	}
}

// heartbeat flushes the pending operations and returns the heartbeat.
func (l *local) heartbeat() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	l.info.Instance, l.info.Seq = l.instance, l.seq
	b, _ := json.Marshal(l.info)
	return b
}

// SetInfo changes this node's description (its heartbeats carry it); fn
// must not change the name, instance or sequence.
func (r *Registry) SetInfo(fn func(*NodeInfo)) {
	l := &r.local
	l.mu.Lock()
	fn(&l.info)
	l.info.Name = r.self
	l.mu.Unlock()
}

// Info returns this node's description.
func (r *Registry) Info() NodeInfo {
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.info
	i.Instance, i.Seq = l.instance, l.seq
	return i
}

// Heartbeat publishes this node's description now (after a change the
// others should hear of before the next period, such as draining).
func (r *Registry) Heartbeat() { r.kickHeartbeat() }

// PeerUp registers a client of this node and where it can be reached (at
// most MaxAddresses); called again, it replaces the addresses.
func (r *Registry) PeerUp(id profile.PeerID, addrs []netip.AddrPort) {
	addrs = slices.Clone(addrs[:min(len(addrs), MaxAddresses)])
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.peers[id]; ok && slices.Equal(old, addrs) {
		return
	}
	l.peers[id] = addrs
	l.add(op{kind: opPeerUp, peer: id, addrs: addrs})
}

// PeerDown unregisters a client of this node.
func (r *Registry) PeerDown(id profile.PeerID) {
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.peers[id]; !ok {
		return
	}
	delete(l.peers, id)
	l.add(op{kind: opPeerDown, peer: id})
}

// Join registers a member of this node in a group.
func (r *Registry) Join(gid group.GroupID, id profile.PeerID) {
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	k := memberKey{gid, id}
	if _, ok := l.members[k]; ok {
		return
	}
	l.members[k] = struct{}{}
	l.add(op{kind: opJoin, group: gid, peer: id})
}

// Leave unregisters a member of this node.
func (r *Registry) Leave(gid group.GroupID, id profile.PeerID) {
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	k := memberKey{gid, id}
	if _, ok := l.members[k]; !ok {
		return
	}
	delete(l.members, k)
	l.add(op{kind: opLeave, group: gid, peer: id})
}

// StreamUp registers a stream this node publishes (key
// app/instance/name, at most MaxKey bytes).
func (r *Registry) StreamUp(key string) {
	if len(key) > MaxKey {
		return
	}
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.streams[key]; ok {
		return
	}
	l.streams[key] = struct{}{}
	l.add(op{kind: opStreamUp, stream: key})
}

// StreamDown unregisters a stream of this node.
func (r *Registry) StreamDown(key string) {
	l := &r.local
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.streams[key]; !ok {
		return
	}
	delete(l.streams, key)
	l.add(op{kind: opStreamDown, stream: key})
}

// serveSnapshot answers a snapshot request: this node's part in chunks,
// each with the instance and the sequence number of the last delta it
// includes, the last flagged.
func (r *Registry) serveSnapshot(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	l := &r.local
	l.mu.Lock()
	l.flushLocked()
	h := header{instance: l.instance, seq: l.seq}
	var chunks [][]byte
	cur := appendHeader(make([]byte, 0, 64<<10), h)
	add := func(o op) {
		cur = appendOp(cur, o)
		if len(cur) >= maxDelta {
			chunks = append(chunks, cur)
			cur = appendHeader(make([]byte, 0, 64<<10), h)
		}
	}
	for id, a := range l.peers {
		add(op{kind: opPeerUp, peer: id, addrs: a})
	}
	for k := range l.members {
		add(op{kind: opJoin, group: k.group, peer: k.peer})
	}
	for k := range l.streams {
		add(op{kind: opStreamUp, stream: k})
	}
	l.mu.Unlock()
	cur[headerLen-1] = flagLast
	chunks = append(chunks, cur)
	for _, c := range chunks {
		if err := r.nc.Publish(m.Reply, c); err != nil {
			return
		}
	}
	r.stats.snapshotsServed.Add(1)
}
