package rtmfp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Handshake retransmission (RFC 7016 §3.5.1, reference values): the first
// IHello or IIKeying is repeated after 1 s, each later interval 1.5 s longer.
const (
	handshakeInitialRTX = time.Second
	handshakeBackoff    = 1500 * time.Millisecond
	// maxHandshakeAddrs caps the addresses an opening session sends IHellos
	// to (its own plus those learned from Redirects).
	maxHandshakeAddrs = 24
	tagLength         = 16
)

// ErrNoSuchPeer is returned by Connect when the handshake did not complete:
// nothing answered the IHello (the peer is unknown to the introducer, gone,
// or unreachable through its NAT).
var ErrNoSuchPeer = errors.New("rtmfp: no answer from the endpoint")

// initiatorState is the initiator's side of an opening session.
type initiatorState struct {
	tag      []byte
	epd      []byte
	target   profile.EPD
	addrs    []netip.AddrPort
	init     profile.Initiator
	cookie   []byte
	iikeying []byte // the IIKeying chunk
	keyAddr  netip.AddrPort
	next     time.Time
	interval time.Duration
	deadline time.Time

	once   sync.Once
	result chan *Session // the session that answered (this one, or a glare winner)
	err    error
}

func (hs *initiatorState) handOver(s *Session) {
	hs.once.Do(func() { hs.result <- s })
}

func (hs *initiatorState) fail(err error) {
	hs.once.Do(func() {
		hs.err = err
		close(hs.result)
	})
}

// Connect opens a session to the endpoint that epd discriminates, sending
// IHellos to addrs (RFC 7016 §3.5.1). For a server, epd names its URL and
// addrs holds its address; for a peer, epd names its peer ID and addrs holds
// the introducer (the server the peer is connected to) and any address
// already known. Redirects add addresses as they come. Connect returns when
// the session is open, ctx is done, or Config.HandshakeTimeout passes when
// ctx has no deadline.
func (e *Endpoint) Connect(ctx context.Context, epd []byte, addrs ...netip.AddrPort) (*Session, error) {
	target, err := e.prof.ParseEPD(epd)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("rtmfp: Connect needs at least one address")
	}
	init, err := e.prof.NewInitiator(epd)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(e.cfg.HandshakeTimeout)
	}
	hs := &initiatorState{
		tag:      make([]byte, tagLength),
		epd:      bytes.Clone(epd),
		target:   target,
		init:     init,
		deadline: deadline,
		result:   make(chan *Session, 1),
	}
	rand.Read(hs.tag)
	for _, a := range addrs {
		hs.addAddr(a)
	}
	e.mu.Lock()
	select {
	case <-e.closing:
		e.mu.Unlock()
		return nil, ErrEndpointClosed
	default:
	}
	if len(e.sessions) >= e.cfg.MaxSessions {
		e.mu.Unlock()
		return nil, ErrTooManySessions
	}
	s := e.newSession(e.allocID(), true, addrs[0])
	s.hs = hs
	s.epd = hs.epd
	s.peerMode = target.HasPeerID
	s.state = stateOpening
	e.sessions[s.nearID] = s
	e.byTag[string(hs.tag)] = s
	e.mu.Unlock()
	s.start(nil)

	select {
	case r, ok := <-hs.result:
		if !ok {
			return nil, hs.err
		}
		if r != s {
			s.Abort()
		}
		return r, nil
	case <-ctx.Done():
		s.abort(ctx.Err())
		return nil, ctx.Err()
	}
}

func (hs *initiatorState) addAddr(a netip.AddrPort) bool {
	if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() || len(hs.addrs) >= maxHandshakeAddrs {
		return false
	}
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if slices.Contains(hs.addrs, a) {
		return false
	}
	hs.addrs = append(hs.addrs, a)
	return true
}

// openingTo returns an opening session to the peer id (e.mu held).
func (e *Endpoint) openingTo(id profile.PeerID) *Session {
	for _, s := range e.byTag {
		if s.hs.target.HasPeerID && s.hs.target.PeerID == id {
			return s
		}
	}
	return nil
}

// handshakeTimer retransmits the IHello or IIKeying, or gives up.
func (s *Session) handshakeTimer(now time.Time) {
	hs := s.hs
	if !now.Before(hs.deadline) {
		s.logger().Debug("handshake timed out", "state", s.state, "addresses", len(hs.addrs))
		s.finishClose(ErrNoSuchPeer)
		hs.fail(ErrNoSuchPeer)
		return
	}
	if hs.next.IsZero() {
		hs.interval = handshakeInitialRTX
	} else if now.Before(hs.next) {
		return
	} else {
		hs.interval += handshakeBackoff
	}
	hs.next = now.Add(hs.interval)
	switch s.state {
	case stateOpening:
		s.sendIHellos(now, hs.addrs)
	case stateKeying:
		s.ep.sendStartup(hs.keyAddr, 0, hs.iikeying, now, answerOwn, 0)
	}
}

func (s *Session) sendIHellos(now time.Time, to []netip.AddrPort) {
	c := wire.IHello{EPD: s.hs.epd, Tag: s.hs.tag}.Append(nil)
	for _, a := range to {
		s.ep.sendStartup(a, 0, c, now, answerOwn, 0)
	}
}

// handleStartupForSession processes a startup packet for an opening
// session: RHello, Redirect, RIKeying or Cookie Change.
func (s *Session) handleStartupForSession(p *packet, now time.Time) {
	body := p.body
	if body == nil {
		b, err := s.ep.startup.Open(p.data()[4:])
		if err != nil {
			return
		}
		body = b
	}
	hdr, n, err := wire.ParseHeader(body)
	if err != nil || hdr.Mode() != wire.ModeStartup {
		return
	}
	hs := s.hs
	r := wire.NewChunkReader(body[n:])
	for r.Next() {
		v := r.Value()
		switch r.Type() {
		case wire.TypeRHello:
			c, err := wire.ParseRHello(v)
			if err != nil || s.state != stateOpening || !bytes.Equal(c.Tag, hs.tag) {
				continue
			}
			cert, skic, err := hs.init.Keying(c.Certificate)
			if err != nil {
				s.logger().Debug("RHello refused", "from", p.from, "err", err)
				continue
			}
			hs.cookie = bytes.Clone(c.Cookie)
			hs.keyAddr = p.from
			hs.iikeying = wire.IIKeying{InitiatorSessionID: s.nearID, Cookie: hs.cookie,
				Certificate: cert, SKIC: skic, Signature: signature}.Append(nil)
			s.state = stateKeying
			hs.next, hs.interval = now.Add(handshakeInitialRTX), handshakeInitialRTX
			s.ep.sendStartup(hs.keyAddr, 0, hs.iikeying, now, answerOwn, 0)
		case wire.TypeRedirect:
			c, err := wire.ParseRedirect(v)
			if err != nil || s.state != stateOpening || !bytes.Equal(c.Tag, hs.tag) {
				continue
			}
			var fresh []netip.AddrPort
			if len(c.Addresses) == 0 {
				// An empty list means: try where the Redirect came from.
				if hs.addAddr(p.from) {
					fresh = append(fresh, p.from)
				}
			}
			for _, a := range c.Addresses {
				if hs.addAddr(a.AddrPort) {
					fresh = append(fresh, hs.addrs[len(hs.addrs)-1])
				}
			}
			s.sendIHellos(now, fresh)
		case wire.TypeCookieChange:
			c, err := wire.ParseCookieChange(v)
			if err != nil || s.state != stateKeying || !bytes.Equal(c.OldCookie, hs.cookie) {
				continue
			}
			old, _ := wire.ParseIIKeying(hs.iikeying[3:])
			hs.cookie = bytes.Clone(c.NewCookie)
			old.Cookie = hs.cookie
			hs.iikeying = old.Append(nil)
			s.ep.sendStartup(hs.keyAddr, 0, hs.iikeying, now, answerOwn, 0)
		case wire.TypeRIKeying:
			c, err := wire.ParseRIKeying(v)
			if err != nil || s.state != stateKeying {
				continue
			}
			sc, err := hs.init.Finish(c.SKRC)
			if err != nil {
				s.logger().Debug("RIKeying refused", "err", err)
				continue
			}
			addr := hs.keyAddr
			s.addr.Store(&addr)
			s.setOpen(c.ResponderSessionID, sc, now)
			s.ep.opened(s)
			s.ep.stats.handshakesInitiator.Add(1)
			hs.handOver(s)
			return
		}
	}
}

// opened records an initiator session that completed its handshake.
func (e *Endpoint) opened(s *Session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byTag[string(s.hs.tag)] == s {
		delete(e.byTag, string(s.hs.tag))
	}
	e.byPeer[s.crypto.FarPeerID] = s
}
