package netgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Posting and directed routing, NetGroup.post, sendToNearest,
// sendToNeighbor and sendToAllNeighbors (Adobe's NetGroup reference).
//
// Flash's wire format for them is not public: Flash uses flows "GR 18"
// and "GR 19" for posts (librtmfp reads an 8-byte key after 0x30 or 0x3A on
// the first and an AMF value on the second, and does nothing else with
// them) and presumably "GR 1D" for routing; no capture of them exists. So
// rtmfpd's members talk among themselves on a flow of their own, "RD 01",
// associated with the neighbour's GR 1C flow, opened to every neighbour
// once the group handshake is done when the member has a MessageHandler.
// A neighbour that opens one too speaks it; only those are sent messages.
// (librtmfp acknowledges a flow it does not know and drops its data,
// FlowManager's "commit everything (flow unknown)"; what Flash does with one
// is not known, hence MessageHandler is opt-in.)
//
// Messages on RD 01 (type byte, then):
//
//	01                              hello (the flow's first message)
//	02 | 32-byte ID | body          post: ID = SHA-256(body); flooded, each member delivers and forwards it once
//	03 | 32-byte address | hops | body   sendToNearest: forwarded to the neighbour nearest to address on the ring until no neighbour is nearer than the holder
//	04 | body                       sendToNeighbor / sendToAllNeighbors: delivered, not forwarded

// MetadataRDMessages is the signature of rtmfpd's group message flow.
var MetadataRDMessages = []byte("RD\x01")

// Message flow types.
const (
	rdHello    byte = 0x01
	rdPost     byte = 0x02
	rdSendTo   byte = 0x03
	rdNeighbor byte = 0x04
)

// Bounds of group messages.
const (
	// MaxGroupMessage is the largest body of a post or a routed message.
	MaxGroupMessage = 60 << 10
	// maxHops bounds how far a routed message travels.
	maxHops = 32
	// seenPosts is how many post IDs a member remembers (a post it has
	// seen is neither delivered nor forwarded again).
	seenPosts = 4096
)

// Errors of group messages.
var (
	ErrMessageTooLarge = errors.New("netgroup: group message larger than MaxGroupMessage")
	ErrNoMessages      = errors.New("netgroup: the member has no MessageHandler")
	ErrBadMessage      = errors.New("netgroup: malformed group message")
)

// MessageHandler receives the group messages that reach a member. Its
// methods are called from the neighbours' reading goroutines and must not
// block for long; the slices are the handler's.
type MessageHandler interface {
	// Post is a message posted to the group (NetGroup.Posting.Notify);
	// id is its message ID, the hex SHA-256 of msg (as NetGroup.post
	// returns it).
	Post(id string, msg []byte, from profile.PeerID)
	// SendTo is a message routed to this member: sent to the group
	// address nearest to it (NetGroup.SendTo.Notify, fromLocal false), or
	// sent to it as a neighbour (address is then its own address).
	SendTo(address group.Address, msg []byte, from profile.PeerID)
}

// messaging is a member's group message state.
type messaging struct {
	mu   sync.Mutex
	seen map[[32]byte]bool
	fifo [][32]byte
	out  map[*Neighbor]*rtmfp.SendFlow // our RD flows
	peer map[*Neighbor]bool            // neighbours that opened theirs
}

func (g *messaging) init() {
	g.seen, g.out, g.peer = map[[32]byte]bool{}, map[*Neighbor]*rtmfp.SendFlow{}, map[*Neighbor]bool{}
}

// markSeen records a post ID; it reports false if it was known.
func (g *messaging) markSeen(id [32]byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen[id] {
		return false
	}
	if len(g.fifo) >= seenPosts {
		delete(g.seen, g.fifo[0])
		g.fifo = g.fifo[1:]
	}
	g.seen[id] = true
	g.fifo = append(g.fifo, id)
	return true
}

// openMessages opens our RD flow to a neighbour that just connected (m.mu
// held).
func (m *Member) openMessagesLocked(n *Neighbor) {
	if m.cfg.Messages == nil || n.in == nil {
		return
	}
	f, err := n.s.OpenFlow(MetadataRDMessages, rtmfp.FlowOptions{ReturnFor: n.in, Priority: 1})
	if err != nil {
		return
	}
	_ = f.Write([]byte{rdHello})
	m.msgs.mu.Lock()
	m.msgs.out[n] = f
	m.msgs.mu.Unlock()
}

// dropMessages forgets a neighbour's flows.
func (m *Member) dropMessages(n *Neighbor) {
	m.msgs.mu.Lock()
	f := m.msgs.out[n]
	delete(m.msgs.out, n)
	delete(m.msgs.peer, n)
	m.msgs.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// messageFlow reads a neighbour's RD flow.
func (m *Member) messageFlow(n *Neighbor, f *rtmfp.RecvFlow) {
	if m.cfg.Messages == nil {
		go drain(f)
		return
	}
	m.msgs.mu.Lock()
	m.msgs.peer[n] = true
	m.msgs.mu.Unlock()
	go func() {
		for {
			b, err := f.ReadMessage(n.ctx)
			if err != nil {
				return
			}
			if err := m.handleGroupMessage(n, b); err != nil {
				m.mu.Lock()
				m.stats.BadMessages++
				m.mu.Unlock()
			}
		}
	}()
}

// capable returns the neighbours that speak group messages, but skip.
func (m *Member) capable(skip *Neighbor) []*Neighbor {
	m.msgs.mu.Lock()
	defer m.msgs.mu.Unlock()
	var out []*Neighbor
	for n := range m.msgs.peer {
		if n != skip && m.msgs.out[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

func (m *Member) sendGroupMessage(n *Neighbor, b []byte) {
	m.msgs.mu.Lock()
	f := m.msgs.out[n]
	m.msgs.mu.Unlock()
	if f != nil {
		_ = f.Write(b)
	}
}

// groupMessage is a decoded RD 01 message.
type groupMessage struct {
	typ  byte
	key  [32]byte // post ID, or sendTo address
	hops byte
	body []byte // aliases the input
}

// parseGroupMessage decodes an RD 01 message, bounds checked.
func parseGroupMessage(b []byte) (groupMessage, error) {
	if len(b) == 0 {
		return groupMessage{}, ErrBadMessage
	}
	g := groupMessage{typ: b[0]}
	switch g.typ {
	case rdHello:
		if len(b) != 1 {
			return groupMessage{}, ErrBadMessage
		}
	case rdPost:
		if len(b) < 33 {
			return groupMessage{}, ErrBadMessage
		}
		g.key, g.body = [32]byte(b[1:33]), b[33:]
		if sha256.Sum256(g.body) != g.key {
			return groupMessage{}, ErrBadMessage
		}
	case rdSendTo:
		if len(b) < 34 {
			return groupMessage{}, ErrBadMessage
		}
		g.key, g.hops, g.body = [32]byte(b[1:33]), min(b[33], maxHops), b[34:]
	case rdNeighbor:
		g.body = b[1:]
	default:
		return groupMessage{}, ErrBadMessage
	}
	if len(g.body) > MaxGroupMessage {
		return groupMessage{}, ErrBadMessage
	}
	return g, nil
}

func (m *Member) handleGroupMessage(n *Neighbor, b []byte) error {
	g, err := parseGroupMessage(b)
	if err != nil {
		return err
	}
	switch g.typ {
	case rdPost:
		if m.msgs.markSeen(g.key) {
			m.cfg.Messages.Post(hex.EncodeToString(g.key[:]), append([]byte(nil), g.body...), n.id)
			for _, x := range m.capable(n) {
				m.sendGroupMessage(x, b)
			}
		}
	case rdSendTo:
		m.route(group.Address(g.key), g.hops, g.body, n.id, n)
	case rdNeighbor:
		m.cfg.Messages.SendTo(m.selfAddr, append([]byte(nil), g.body...), n.id)
	}
	return nil
}

// route delivers a message for target here when no neighbour is nearer to
// it, and otherwise forwards it to the nearest one.
func (m *Member) route(target group.Address, hops byte, body []byte, from profile.PeerID, came *Neighbor) {
	best, bestD := (*Neighbor)(nil), group.Distance(m.selfAddr, target)
	for _, x := range m.capable(came) {
		if d := group.Distance(x.addr, target); d.Compare(bestD) < 0 {
			best, bestD = x, d
		}
	}
	if best == nil || hops == 0 {
		m.cfg.Messages.SendTo(target, append([]byte(nil), body...), from)
		return
	}
	msg := make([]byte, 0, 34+len(body))
	msg = append(append(append(msg, rdSendTo), target[:]...), hops-1)
	m.sendGroupMessage(best, append(msg, body...))
}

// Post posts msg to the group (NetGroup.post): every member with a
// MessageHandler that the flood reaches gets it once. It returns the
// message ID, the hex SHA-256 of msg. Posting the same bytes again is
// ignored (Flash: "Messages posted with the same content are not
// delivered again"; add a sequence number to post them again).
func (m *Member) Post(msg []byte) (string, error) {
	if m.cfg.Messages == nil {
		return "", ErrNoMessages
	}
	if len(msg) > MaxGroupMessage {
		return "", ErrMessageTooLarge
	}
	id := sha256.Sum256(msg)
	if m.msgs.markSeen(id) {
		b := append(append([]byte{rdPost}, id[:]...), msg...)
		for _, x := range m.capable(nil) {
			m.sendGroupMessage(x, b)
		}
	}
	return hex.EncodeToString(id[:]), nil
}

// SendToNearest routes msg to the member whose group address is nearest
// to address (NetGroup.sendToNearest); it is delivered here when this
// member is the nearest it knows.
func (m *Member) SendToNearest(msg []byte, address group.Address) error {
	if m.cfg.Messages == nil {
		return ErrNoMessages
	}
	if len(msg) > MaxGroupMessage {
		return ErrMessageTooLarge
	}
	m.route(address, maxHops, msg, m.self, nil)
	return nil
}

// SendToAllNeighbors sends msg to every neighbour that speaks group
// messages (NetGroup.sendToAllNeighbors) and returns how many.
func (m *Member) SendToAllNeighbors(msg []byte) (int, error) {
	if m.cfg.Messages == nil {
		return 0, ErrNoMessages
	}
	if len(msg) > MaxGroupMessage {
		return 0, ErrMessageTooLarge
	}
	b := append([]byte{rdNeighbor}, msg...)
	ns := m.capable(nil)
	for _, x := range ns {
		m.sendGroupMessage(x, b)
	}
	return len(ns), nil
}

// Address returns the member's group address (SHA-256 of its raw peer
// ID), the key of sendToNearest.
func (m *Member) Address() group.Address { return m.selfAddr }
