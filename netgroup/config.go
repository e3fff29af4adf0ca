package netgroup

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Default values of Config.
const (
	DefaultMaxNeighbors       = 64
	DefaultMaxHeard           = 4096
	DefaultMaxPendingConnects = 8
	DefaultConnectTimeout     = 15 * time.Second
	DefaultDirectTimeout      = 5 * time.Second
	DefaultHandshakeTimeout   = 15 * time.Second
)

// maxAddresses caps the addresses kept for one peer, and those this member
// learns for itself.
const maxAddresses = 4

// Rendezvous is the server side of a membership: the group-control channel
// that introduces members to each other (rtmfp-facts §6.3) and the
// introduction service that opens P2P sessions to them by peer ID (§3.10).
// ClientRendezvous adapts a client connection, ServerRendezvous the
// server's own introducer.
type Rendezvous interface {
	// Join joins the group; the members the server introduces arrive on
	// the membership's channel.
	Join(ctx context.Context, id group.GroupID) (Membership, error)
	// Connect opens a P2P session (peer mode) to the member with the given
	// peer ID.
	Connect(ctx context.Context, peer profile.PeerID) (*rtmfp.Session, error)
}

// Membership is a joined group on the rendezvous side. *client.Group and
// *introducer.LocalMember implement it.
type Membership interface {
	// Members returns the peer IDs the server introduces.
	Members() <-chan profile.PeerID
	// Leave ends the membership (the GC flow).
	Leave() error
}

// ServerAddresser is implemented by a Rendezvous that knows the address of
// the server the member uses: reports list it with origin 3 ("redirection"),
// as librtmfp writes it (rtmfp-facts §6.7).
type ServerAddresser interface {
	ServerAddress() (netip.AddrPort, bool)
}

// Handler receives a member's events: neighbours (the NetGroup.Neighbor.Connect
// and NetGroup.Neighbor.Disconnect of AS3) and the multicast flows they open
// (the seam of the multicast engine). The calls for one member come from one
// goroutine, in order: NeighborConnected before any flow of that neighbour,
// NeighborDisconnected last. They must not block for long. A flow handed
// over belongs to the handler, which reads or rejects it.
type Handler interface {
	// NeighborConnected is called when the group handshake with a peer
	// completed in both directions.
	NeighborConnected(n *Neighbor)
	// NeighborDisconnected is called when a connected neighbour is gone;
	// err tells why (ErrLeft, ErrAskedToClose, a session error, ...).
	NeighborDisconnected(n *Neighbor, err error)
	// ReportFlow receives a "GR 11" flow (media subscriptions, fragments
	// maps, push and pull) the neighbour opened in answer to our GR 1C flow.
	ReportFlow(n *Neighbor, f *rtmfp.RecvFlow)
	// MediaFlow receives a "GR 12" flow (media fragments) the neighbour
	// opened in answer to one of our GR 11 flows (see
	// Neighbor.OpenReportFlow); reportFlow is that GR 11 flow.
	MediaFlow(n *Neighbor, reportFlow *rtmfp.SendFlow, f *rtmfp.RecvFlow)
}

// NopHandler is a Handler that only refuses flows; embed it to implement
// part of Handler.
type NopHandler struct{}

// NeighborConnected does nothing.
func (NopHandler) NeighborConnected(*Neighbor) {}

// NeighborDisconnected does nothing.
func (NopHandler) NeighborDisconnected(*Neighbor, error) {}

// ReportFlow rejects the flow.
func (NopHandler) ReportFlow(_ *Neighbor, f *rtmfp.RecvFlow) { f.Reject(RejectUnsupported) }

// MediaFlow rejects the flow.
func (NopHandler) MediaFlow(_ *Neighbor, _ *rtmfp.SendFlow, f *rtmfp.RecvFlow) {
	f.Reject(RejectUnsupported)
}

// Config configures a Member. The zero value of an optional field means
// the default named in its comment.
type Config struct {
	// Endpoint is the RTMFP endpoint the member lives on (required). Its
	// incoming P2P sessions must reach the member: see Member.HandleSession
	// and Serve.
	Endpoint *rtmfp.Endpoint
	// Spec is the groupspec text, "G:…" (required): the group ID and the
	// key that authenticates members to each other derive from it.
	Spec string
	// Rendezvous joins the group and introduces peers (required).
	Rendezvous Rendezvous
	// Handler receives events; nil refuses multicast flows.
	Handler Handler
	// Messages receives posts and routed messages and makes Post,
	// SendToNearest and SendToAllNeighbors work (see messaging.go for
	// their flow, rtmfpd's own); nil: the member neither sends nor
	// handles them.
	Messages MessageHandler
	// Logger receives the member's logs. Default: the endpoint's.
	Logger *slog.Logger

	// ServerAddress is written with origin 3 in reports. Default: from a
	// Rendezvous implementing ServerAddresser.
	ServerAddress netip.AddrPort
	// Addresses are the member's own addresses to announce in reports,
	// besides those its neighbours tell it they see.
	Addresses []netip.AddrPort

	// MaxNeighbors caps the neighbours (connected and being connected);
	// further group handshakes are refused. Default 64.
	MaxNeighbors int
	// KeepNeighbors makes the member a hub: it keeps (and connects to) up
	// to this many neighbours even beyond its best list, asks none of them
	// to leave and refuses their requests to leave while it has no more.
	// The server publishing into a group uses it: a member that is its
	// neighbour gets the publisher's first map and first fragments at
	// once, which librtmfp members need to play a stream from its start
	// (see multicast's Node). 0: the best list alone (librtmfp's
	// behaviour). At most MaxNeighbors.
	KeepNeighbors int
	// MaxHeard caps the heard list (peers known from reports and
	// introductions). Default 4096; the entry heard of longest ago goes.
	MaxHeard int
	// MaxPendingConnects caps the P2P sessions being opened at once.
	// Default 8.
	MaxPendingConnects int
	// ConnectTimeout bounds one attempt to reach a peer, DirectTimeout its
	// first part, a direct handshake to the peer's known addresses before
	// asking the rendezvous. Defaults 15 s and 5 s.
	ConnectTimeout, DirectTimeout time.Duration
	// HandshakeTimeout bounds the group handshake on an open session.
	// Default 15 s.
	HandshakeTimeout time.Duration

	// ReportInterval, BestListInterval, AskCloseInterval and PeerTimeout
	// are librtmfp's topology timings (group package constants: 10 s,
	// 10 s, 90 s, 300 s); tests may shorten them.
	ReportInterval, BestListInterval, AskCloseInterval, PeerTimeout time.Duration

	// Rand drives the random choices (report recipient, random best-list
	// peer). Default: a random seed.
	Rand *rand.Rand
}

func (c *Config) populate() {
	if c.Logger == nil {
		c.Logger = c.Endpoint.Logger()
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&c.MaxNeighbors, DefaultMaxNeighbors)
	defInt(&c.MaxHeard, DefaultMaxHeard)
	defInt(&c.MaxPendingConnects, DefaultMaxPendingConnects)
	defDur(&c.ConnectTimeout, DefaultConnectTimeout)
	defDur(&c.DirectTimeout, DefaultDirectTimeout)
	defDur(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	defDur(&c.ReportInterval, group.ReportInterval)
	defDur(&c.BestListInterval, group.BestListInterval)
	defDur(&c.AskCloseInterval, group.AskCloseInterval)
	defDur(&c.PeerTimeout, group.PeerTimeout)
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if !c.ServerAddress.IsValid() {
		if sa, ok := c.Rendezvous.(ServerAddresser); ok {
			if a, ok := sa.ServerAddress(); ok {
				c.ServerAddress = a
			}
		}
	}
}
