package netgroup

import (
	"context"
	"errors"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// maxHeldFlows caps the GR 11/12 flows kept while a group handshake is
// still running.
const maxHeldFlows = 8

// Neighbor is a peer this member runs a NetGroup relationship with over a
// P2P session: both sides opened a GR 1C flow and accepted each other's
// group init. Its methods are safe for concurrent use.
type Neighbor struct {
	m       *Member
	id      profile.PeerID
	addr    group.Address
	s       *rtmfp.Session
	created time.Time
	done    chan struct{}
	ctx     context.Context // ends with the neighbour
	cancel  context.CancelFunc

	// Guarded by m.mu.
	out                              *rtmfp.SendFlow // our GR 1C flow
	in                               *rtmfp.RecvFlow // the peer's GR 1C flow
	connected, removed               bool
	reportInitiator, firstReportSent bool
	lastAskClose                     time.Time
	reportFlows                      []*rtmfp.SendFlow // GR 11 flows opened through OpenReportFlow
	held                             []event           // GR 11/12 flows received before the handshake completed
	err                              error
}

// ID returns the neighbour's peer ID.
func (n *Neighbor) ID() profile.PeerID { return n.id }

// Address returns the neighbour's group address (its place on the ring).
func (n *Neighbor) Address() group.Address { return n.addr }

// Session returns the P2P session the neighbour uses.
func (n *Neighbor) Session() *rtmfp.Session { return n.s }

// Done is closed when the neighbour is gone.
func (n *Neighbor) Done() <-chan struct{} { return n.done }

// Err returns why the neighbour is gone, nil while it is not.
func (n *Neighbor) Err() error {
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	return n.err
}

// OpenReportFlow opens a "GR 11" flow to the neighbour (media subscription,
// fragments maps, push and pull, rtmfp-facts §7), associated with the
// neighbour's GR 1C flow as librtmfp and Flash do. The neighbour's GR 12
// flows answering it arrive at Handler.MediaFlow. The flow is closed with
// the neighbour.
func (n *Neighbor) OpenReportFlow(o rtmfp.FlowOptions) (*rtmfp.SendFlow, error) {
	m := n.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.removed || !n.connected {
		return nil, ErrLeft
	}
	o.ReturnFor = n.in
	f, err := n.s.OpenFlow(group.MetadataGRMediaReport, o)
	if err != nil {
		return nil, err
	}
	n.reportFlows = append(n.reportFlows, f)
	m.d.own(f, flowOwner{n: n, report: true})
	return f, nil
}

// OpenMediaFlow opens a "GR 12" flow (media fragments) to the neighbour,
// associated with reportFlow, a GR 11 flow the neighbour opened (received
// through Handler.ReportFlow).
func (n *Neighbor) OpenMediaFlow(reportFlow *rtmfp.RecvFlow, o rtmfp.FlowOptions) (*rtmfp.SendFlow, error) {
	if reportFlow == nil || reportFlow.Session() != n.s {
		return nil, errors.New("netgroup: the report flow is not one of this neighbour's")
	}
	n.m.mu.Lock()
	gone := n.removed
	n.m.mu.Unlock()
	if gone {
		return nil, ErrLeft
	}
	o.ReturnFor = reportFlow
	return n.s.OpenFlow(group.MetadataGRMedia, o)
}

// Latency returns the session's smoothed round-trip time.
func (n *Neighbor) Latency() time.Duration { return n.s.Stats().SRTT }
