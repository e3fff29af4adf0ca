// Package introducer is the rendezvous service Adobe Cirrus and Flash Media
// Server provided for RTMFP peers: it introduces a client to another by peer
// ID so that both punch through their NATs (RFC 7016 §3.5.1.4–§3.5.1.5),
// and it keeps NetGroup membership, handing each newcomer bootstrap peers
// over the group-control ("GC") flow (rtmfp-facts §6.3).
//
// # Introductions
//
// When an IHello whose endpoint discriminator names a connected peer
// reaches the server, the introducer sends that peer a Forwarded IHello for
// each address of the initiator (the address the IHello came from and, if
// the initiator is itself connected, the addresses it announced with
// setPeerInfo), and answers the initiator with a Redirect listing the
// target's observed address (origin "observed") and the addresses the
// target announced (origin "reported"), observed first as Cumulus and
// rtmfp-cpp do. Both ends then send to each other at once.
//
// An IHello for a peer that is not connected is not answered (Cumulus and
// rtmfp-cpp behave so; the initiator times out). With DeadPeerRedirect, a
// repeated IHello for an unknown peer gets MonaServer2's Redirect to the
// wildcard address, which librtmfp takes as "peer is gone".
//
// Nothing proves the address an IHello comes from, and each Forwarded
// IHello makes the target answer that address with an RHello: unbounded,
// introductions would turn the server's own clients into reflectors. So
// introductions are rate-limited per initiator address (IntroductionRate);
// the Forwarded IHellos sent to one client are limited per target
// (ForwardRate), however many sources ask for it, and over all targets
// (2000 times ForwardRate); the initiator still gets its Redirect when the
// target's limit is reached. Redirects also pass the endpoint's startup
// admission (per-address limit, amplification budget; see package rtmfp).
//
// # Groups
//
// A member joins by opening a GC flow whose first message names the group
// ID. Members are kept on a ring ordered by group address
// (SHA-256(21 0F ‖ peer ID)). A newcomer is told (0B messages on the
// server's GC return flow) about the BootstrapRing members nearest to it on
// the ring, half before and half after, plus BootstrapRandom others chosen at
// random; and the ring neighbours are told about the newcomer, so it can
// estimate the group size and find its place (the policy of MonaServer2,
// with Cumulus's random extra). Membership ends with the GC flow or the
// session. Groups, members per group and groups per session are capped.
//
// The server may be a group member itself (package netgroup): JoinLocal
// places its peer ID on the ring like a client's, and it is told about
// members on a channel instead of a GC flow; clients then reach it with a
// P2P session to its peer ID at the server's address. PeerAddresses gives
// it the addresses where a client can be reached.
package introducer

import (
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/ratelimit"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Config configures an Introducer. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// BootstrapRing is how many ring neighbours a newcomer is given (and
	// told about the newcomer). Default 6.
	BootstrapRing int
	// BootstrapRandom is how many other members, chosen at random, a
	// newcomer is given besides. Default 2.
	BootstrapRandom int
	// MaxGroups caps the groups. Default 100000.
	MaxGroups int
	// MaxMembers caps the members of one group. Default 100000.
	MaxMembers int
	// MaxGroupsPerSession caps the groups one session joins. Default 16.
	MaxGroupsPerSession int
	// IntroductionRate and IntroductionBurst limit the introductions one
	// initiator address may ask per second. Default 10 and 20.
	IntroductionRate  float64
	IntroductionBurst int
	// ForwardRate and ForwardBurst limit the Forwarded IHellos sent to one
	// connected client per second, whatever the number of initiators: each
	// makes the client answer an address nothing proves. Default 5 and 20
	// (a group newcomer is sought by its ring neighbours at once, each
	// initiator with one to three addresses). All clients together get at
	// most 2000 × ForwardRate per second.
	ForwardRate  float64
	ForwardBurst int
	// RequirePeerInfo introduces only peers that announced their
	// addresses with setPeerInfo (as rtmfp-cpp's tcserver does).
	RequirePeerInfo bool
	// DeadPeerRedirect answers a repeated IHello for an unknown peer with a
	// Redirect to 0.0.0.0:0 (MonaServer2's convention, understood by
	// librtmfp as "peer gone").
	DeadPeerRedirect bool
	// OnJoin, when set, is asked before a client joins a group: an error
	// refuses the join (its GC flow is rejected, which Flash reports as
	// NetGroup.Connect.Rejected). c is the client's NetConnection (nil if
	// it has not connected). It runs on the session's reading goroutine.
	OnJoin func(c *netstream.Conn, s *rtmfp.Session, id group.GroupID) error
	// Rand picks the random bootstrap members; nil: a random seed.
	Rand *rand.Rand
}

func (c *Config) populate() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.BootstrapRing, 6)
	if c.BootstrapRandom < 0 {
		c.BootstrapRandom = 0
	} else if c.BootstrapRandom == 0 {
		c.BootstrapRandom = 2
	}
	def(&c.MaxGroups, 100000)
	def(&c.MaxMembers, 100000)
	def(&c.MaxGroupsPerSession, 16)
	def(&c.IntroductionBurst, 20)
	if c.IntroductionRate <= 0 {
		c.IntroductionRate = 10
	}
	def(&c.ForwardBurst, 20)
	if c.ForwardRate <= 0 {
		c.ForwardRate = 5
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
}

// Introducer introduces peers and keeps group membership. It is safe for
// concurrent use.
type Introducer struct {
	cfg      Config
	log      *slog.Logger
	limiter  *ratelimit.Limiter[netip.Addr]     // introductions per initiator address
	forwards *ratelimit.Limiter[profile.PeerID] // Forwarded IHellos per target

	mu      sync.Mutex
	peers   map[profile.PeerID]*peer
	byAddr  map[netip.AddrPort]*peer
	groups  map[group.GroupID]*grp
	gcFlows map[*rtmfp.RecvFlow]*membership // GC flows read in arrival order
	locals  map[profile.PeerID]*peer        // members on the server's own endpoint
	byConn  map[*netstream.Conn]*peer
	// nLocalGroups counts the groups with members on this node (MaxGroups
	// caps them; groups of remote members only are capped apart).
	nLocalGroups int
	cluster      Cluster              // nil: a single node
	unknown      map[string]time.Time // tags of IHellos for unknown peers, for DeadPeerRedirect
	rnd          *rand.Rand

	stats counters
}

type counters struct {
	introductions, unknownTarget, rateLimited, redirects, fihellos atomic.Uint64
	forwardLimited                                                 atomic.Uint64
	joins, leaves, membersIntroduced, refusedJoins                 atomic.Uint64
	remoteIntroductions                                            atomic.Uint64
}

// peer is a connected client.
type peer struct {
	id     profile.PeerID
	s      *rtmfp.Session
	conn   *netstream.Conn
	addr   netip.AddrPort
	groups map[group.GroupID]*membership
}

// New returns an introducer.
func New(cfg Config) *Introducer {
	cfg.populate()
	return &Introducer{
		cfg:      cfg,
		log:      cfg.Logger,
		limiter:  ratelimit.New[netip.Addr](cfg.IntroductionRate, cfg.IntroductionBurst, cfg.IntroductionRate*10000),
		forwards: ratelimit.New[profile.PeerID](cfg.ForwardRate, cfg.ForwardBurst, cfg.ForwardRate*2000),
		peers:    make(map[profile.PeerID]*peer),
		byAddr:   make(map[netip.AddrPort]*peer),
		groups:   make(map[group.GroupID]*grp),
		gcFlows:  make(map[*rtmfp.RecvFlow]*membership),
		locals:   make(map[profile.PeerID]*peer),
		byConn:   make(map[*netstream.Conn]*peer),
		unknown:  make(map[string]time.Time),
		rnd:      cfg.Rand,
	}
}

// AddConn registers a client's session and NetConnection (rtmfpnc's OnConn
// hook); it is forgotten when the session ends.
func (in *Introducer) AddConn(s *rtmfp.Session, c *netstream.Conn) {
	p := &peer{id: s.FarPeerID(), s: s, conn: c, addr: s.RemoteAddr(), groups: map[group.GroupID]*membership{}}
	in.mu.Lock()
	if old := in.peers[p.id]; old != nil {
		in.removeLocked(old)
	}
	in.peers[p.id] = p
	in.byAddr[p.addr] = p
	if c != nil {
		in.byConn[c] = p
	}
	if in.cluster != nil {
		in.cluster.PeerUp(p.id, []netip.AddrPort{p.addr})
	}
	in.mu.Unlock()
	s.OnDone(func() {
		in.mu.Lock()
		in.removeLocked(p)
		in.mu.Unlock()
	})
}

// removeLocked forgets a peer and its memberships.
func (in *Introducer) removeLocked(p *peer) {
	if in.peers[p.id] == p {
		delete(in.peers, p.id)
		if in.cluster != nil {
			in.cluster.PeerDown(p.id)
		}
	}
	if p.conn != nil && in.byConn[p.conn] == p {
		delete(in.byConn, p.conn)
	}
	if in.byAddr[p.addr] == p {
		delete(in.byAddr, p.addr)
	}
	for _, m := range p.groups {
		in.leaveLocked(m)
	}
}

// Stats is a snapshot of the introducer's counters.
type Stats struct {
	Peers             int    `json:"peers"`
	Groups            int    `json:"groups"`
	Members           int    `json:"members"`
	Introductions     uint64 `json:"introductions"`
	UnknownTargets    uint64 `json:"unknownTargets"`
	RateLimited       uint64 `json:"rateLimited"`
	Redirects         uint64 `json:"redirects"`
	ForwardedIHellos  uint64 `json:"forwardedIHellos"`
	ForwardLimited    uint64 `json:"forwardLimited"` // Forwarded IHellos not sent: the target's limit was reached
	Joins             uint64 `json:"joins"`
	Leaves            uint64 `json:"leaves"`
	MembersIntroduced uint64 `json:"membersIntroduced"`
	RefusedJoins      uint64 `json:"refusedJoins"`
	// Cluster: members of other nodes on this node's group rings, and
	// introductions to peers of other nodes.
	RemoteMembers       int    `json:"remoteMembers"`
	RemoteIntroductions uint64 `json:"remoteIntroductions"`
}

// Stats returns the counters.
func (in *Introducer) Stats() Stats {
	in.mu.Lock()
	st := Stats{Peers: len(in.peers)}
	for _, g := range in.groups {
		local := g.local()
		st.Members += local
		st.RemoteMembers += len(g.members) - local
		if local > 0 {
			st.Groups++
		}
	}
	in.mu.Unlock()
	c := &in.stats
	st.Introductions, st.UnknownTargets, st.RateLimited = c.introductions.Load(), c.unknownTarget.Load(), c.rateLimited.Load()
	st.Redirects, st.ForwardedIHellos, st.ForwardLimited = c.redirects.Load(), c.fihellos.Load(), c.forwardLimited.Load()
	st.Joins, st.Leaves, st.MembersIntroduced, st.RefusedJoins = c.joins.Load(), c.leaves.Load(), c.membersIntroduced.Load(), c.refusedJoins.Load()
	st.RemoteIntroductions = c.remoteIntroductions.Load()
	return st
}

// Peer returns the session of a connected peer.
func (in *Introducer) Peer(id profile.PeerID) (*rtmfp.Session, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	p, ok := in.peers[id]
	if !ok {
		return nil, false
	}
	return p.s, true
}

// sweepUnknown forgets old unknown-target tags (in.mu held).
func (in *Introducer) sweepUnknown(now time.Time) {
	if len(in.unknown) < 4096 {
		return
	}
	for k, t := range in.unknown {
		if now.Sub(t) > time.Minute {
			delete(in.unknown, k)
		}
	}
	if len(in.unknown) >= 4096 {
		clear(in.unknown)
	}
}
