package netgroup

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// dispatchers holds the dispatcher of each endpoint that has members.
var dispatchers struct {
	mu sync.Mutex
	m  map[*rtmfp.Endpoint]*dispatcher
}

// dispatcher owns the flows of the P2P sessions of one endpoint: a session
// carries the NetGroup flows of every group two peers share, so flows are
// routed here to the member of their group. A GR 1C flow goes by the group
// ID of its first message (the group init); a GR 11 flow by the GR 1C flow
// of ours it is associated with, a GR 12 flow by the GR 11 flow of ours it
// is associated with (rtmfp-facts §5.2, checked on c_netgroup).
type dispatcher struct {
	ep *rtmfp.Endpoint

	mu       sync.Mutex
	members  map[group.GroupID]*Member
	sessions map[*rtmfp.Session]*sessState
	owners   map[*rtmfp.SendFlow]flowOwner
	idle     time.Duration // how long a session may stay unused
}

// sessState is the dispatcher's view of one session.
type sessState struct {
	users int // neighbours bound to the session, all groups
	used  bool
	timer *time.Timer
}

// flowOwner is the neighbour that opened a send flow: its GR 1C flow
// (report false) or one of its GR 11 flows (report true).
type flowOwner struct {
	n      *Neighbor
	report bool
}

// dispatcherFor returns the endpoint's dispatcher, creating it.
func dispatcherFor(ep *rtmfp.Endpoint) *dispatcher {
	dispatchers.mu.Lock()
	defer dispatchers.mu.Unlock()
	if dispatchers.m == nil {
		dispatchers.m = map[*rtmfp.Endpoint]*dispatcher{}
	}
	d := dispatchers.m[ep]
	if d == nil {
		d = &dispatcher{ep: ep, members: map[group.GroupID]*Member{}, sessions: map[*rtmfp.Session]*sessState{},
			owners: map[*rtmfp.SendFlow]flowOwner{}, idle: DefaultHandshakeTimeout}
		dispatchers.m[ep] = d
	}
	return d
}

// forget drops the dispatcher from the registry once it has neither
// members nor sessions.
func (d *dispatcher) forget() {
	dispatchers.mu.Lock()
	defer dispatchers.mu.Unlock()
	d.mu.Lock()
	empty := len(d.members) == 0 && len(d.sessions) == 0
	d.mu.Unlock()
	if empty && dispatchers.m[d.ep] == d {
		delete(dispatchers.m, d.ep)
	}
}

func (d *dispatcher) register(m *Member) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.members[m.gid] != nil {
		return ErrDuplicateGroup
	}
	d.members[m.gid] = m
	d.idle = max(d.idle, m.cfg.HandshakeTimeout)
	return nil
}

// unregister removes a member that left. When it was the endpoint's last,
// the P2P sessions no neighbour uses are closed: sessions whose handshake
// completed while the member was leaving, or that peers opened without
// sending a group init yet, would otherwise wait for the idle timer.
func (d *dispatcher) unregister(m *Member) {
	d.mu.Lock()
	if d.members[m.gid] == m {
		delete(d.members, m.gid)
	}
	var unused []*rtmfp.Session
	if len(d.members) == 0 {
		for s, st := range d.sessions {
			if st.users == 0 {
				unused = append(unused, s)
			}
		}
	}
	d.mu.Unlock()
	for _, s := range unused {
		s.Close()
	}
	d.forget()
}

// addSession starts reading the flows of a P2P session (once per session).
// A session no group uses within the idle time is closed.
func (d *dispatcher) addSession(s *rtmfp.Session) {
	d.mu.Lock()
	if d.sessions[s] != nil {
		d.mu.Unlock()
		return
	}
	st := &sessState{}
	d.sessions[s] = st
	st.timer = time.AfterFunc(d.idle, func() {
		d.mu.Lock()
		unused := d.sessions[s] == st && !st.used
		d.mu.Unlock()
		if unused {
			s.Close()
		}
	})
	d.mu.Unlock()
	go d.serve(s, st)
}

// acquire binds one more neighbour to s; it reports false when s is not
// (or no longer) served.
func (d *dispatcher) acquire(s *rtmfp.Session) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.sessions[s]
	if st == nil {
		return false
	}
	st.users++
	st.used = true
	return true
}

// release unbinds a neighbour from s and closes s when no group uses it
// any more.
func (d *dispatcher) release(s *rtmfp.Session) {
	d.mu.Lock()
	st := d.sessions[s]
	last := false
	if st != nil && st.users > 0 {
		st.users--
		last = st.users == 0
	}
	d.mu.Unlock()
	if last {
		s.Close()
	}
}

func (d *dispatcher) own(f *rtmfp.SendFlow, o flowOwner) {
	d.mu.Lock()
	d.owners[f] = o
	d.mu.Unlock()
}

func (d *dispatcher) disown(fs ...*rtmfp.SendFlow) {
	d.mu.Lock()
	for _, f := range fs {
		delete(d.owners, f)
	}
	d.mu.Unlock()
}

// serve accepts the flows of s until it ends.
func (d *dispatcher) serve(s *rtmfp.Session, st *sessState) {
	defer func() {
		st.timer.Stop()
		d.mu.Lock()
		if d.sessions[s] == st {
			delete(d.sessions, s)
		}
		d.mu.Unlock()
		d.forget()
	}()
	for {
		f, err := s.AcceptFlow(context.Background())
		if err != nil {
			return
		}
		d.route(s, f)
	}
}

// route hands a flow to its member, or refuses it.
func (d *dispatcher) route(s *rtmfp.Session, f *rtmfp.RecvFlow) {
	meta := f.Metadata()
	switch {
	case bytes.Equal(meta, group.MetadataGRReport):
		go d.readInit(s, f)
	case bytes.Equal(meta, group.MetadataGRMediaReport), bytes.Equal(meta, group.MetadataGRMedia):
		assoc := f.Association()
		d.mu.Lock()
		o, ok := d.owners[assoc]
		d.mu.Unlock()
		// A GR 11 flow answers our GR 1C flow, a GR 12 flow our GR 11 flow.
		if !ok || assoc == nil || o.report != bytes.Equal(meta, group.MetadataGRMedia) {
			f.Reject(RejectUnsupported)
			return
		}
		o.n.m.incomingFlow(o.n, assoc, f)
	case bytes.Equal(meta, MetadataRDMessages):
		// rtmfpd's group messages answer our GR 1C flow.
		d.mu.Lock()
		o, ok := d.owners[f.Association()]
		d.mu.Unlock()
		if !ok || o.report {
			f.Reject(RejectUnsupported)
			return
		}
		o.n.m.messageFlow(o.n, f)
	case bytes.Equal(meta, group.MetadataGRMessage), bytes.Equal(meta, group.MetadataGRPostKey),
		bytes.Equal(meta, group.MetadataGRPostValue):
		// Routing and posting flows: librtmfp accepts and only parses them;
		// they are read and dropped here.
		go drain(f)
	default:
		f.Reject(RejectUnsupported)
	}
}

// readInit waits for the first message of a GR 1C flow, the group init,
// and gives the flow to the member of that group.
func (d *dispatcher) readInit(s *rtmfp.Session, f *rtmfp.RecvFlow) {
	d.mu.Lock()
	idle := d.idle
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), idle)
	defer cancel()
	b, err := f.ReadMessage(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			f.Reject(RejectHandshake)
		}
		return
	}
	gid, ok := initGroup(b)
	var m *Member
	if ok {
		d.mu.Lock()
		m = d.members[gid]
		d.mu.Unlock()
	}
	if m == nil {
		f.Reject(RejectHandshake)
		// With no group left on this endpoint (its member left while
		// the peer was connecting), nothing can use the session.
		d.mu.Lock()
		st := d.sessions[s]
		useless := len(d.members) == 0 && st != nil && st.users == 0
		d.mu.Unlock()
		if useless {
			s.Close()
		}
		return
	}
	m.onInit(s, f, b)
}

// drain reads and drops the messages of a flow until it or its session
// ends.
func drain(f *rtmfp.RecvFlow) {
	for {
		if _, err := f.ReadMessage(context.Background()); err != nil {
			return
		}
	}
}

// Serve accepts the sessions of ep until ctx ends or ep closes, for an
// endpoint that only serves P2P sessions (a client's): peer-mode sessions
// go to the NetGroup members of ep (see Member.HandleSession); others go to
// other, or are closed when other is nil. An endpoint that also serves
// NetConnections runs its own Accept loop and calls HandleSession instead.
func Serve(ctx context.Context, ep *rtmfp.Endpoint, other func(*rtmfp.Session)) error {
	for {
		s, err := ep.Accept(ctx)
		if err != nil {
			return err
		}
		switch {
		case s.PeerMode():
			HandleSession(s)
		case other != nil:
			other(s)
		default:
			s.Close()
		}
	}
}

// HandleSession gives a P2P session (Session.PeerMode) of an endpoint to its
// NetGroup members: the dispatcher reads the session's flows and routes the
// group flows to the member of their group. It returns at once; a session
// that is not in peer mode is ignored.
func HandleSession(s *rtmfp.Session) {
	if !s.PeerMode() {
		return
	}
	dispatcherFor(s.Endpoint()).addSession(s)
}
