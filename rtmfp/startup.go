package rtmfp

import (
	"bytes"
	"net/netip"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/internal/cookie"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Certificate kinds remembered in a cookie: which certificate the RHello
// carried, so the responder uses the same one for the key agreement.
const (
	certServer byte = 0 // the server certificate (URL discriminators)
	certPeer   byte = 1 // the static peer certificate (our peer ID)
)

// signature is the Flash profile's IIKeying/RIKeying signature field: a
// single 'X' meaning "no signature" (RFC 7425 §4.3.2).
var signature = []byte{'X'}

// handleStartup processes a datagram with session ID 0 (RFC 7016 §2.2.2):
// IHello and IIKeying for the responder, RHello and Redirect for an opening
// session. It takes ownership of p.
//
// Nothing proves where a startup datagram comes from, so what it may make
// this endpoint send is bounded (see admission.go): only its first IHello
// or IIKeying is answered, and unless it is an IIKeying that proves its
// address, its bytes earn credit in the amplification budget before it is.
func (e *Endpoint) handleStartup(p *packet) {
	body, err := e.startup.Open(p.data()[4:])
	if err != nil {
		e.stats.dropBadStartup.Add(1)
		putPacket(p)
		return
	}
	hdr, n, err := wire.ParseHeader(body)
	if err != nil || hdr.Mode() != wire.ModeStartup {
		e.stats.dropBadStartup.Add(1)
		putPacket(p)
		return
	}
	now := time.Now()
	answered := false
	r := wire.NewChunkReader(body[n:])
	for r.Next() {
		v := r.Value()
		switch r.Type() {
		case wire.TypeIHello, wire.TypeIIKeying:
			if answered {
				e.stats.dropExtraChunk.Add(1)
				continue
			}
			answered = true
			if r.Type() == wire.TypeIHello {
				e.budget.Earn(p.n)
				if c, err := wire.ParseIHello(v); err == nil {
					e.handleIHello(c.EPD, c.Tag, p.from, p.n, now)
				}
			} else if c, err := wire.ParseIIKeying(v); err == nil {
				e.handleIIKeying(c, p.from, p.n, now)
			}
		case wire.TypeRHello, wire.TypeRedirect:
			var tag []byte
			if r.Type() == wire.TypeRHello {
				if c, err := wire.ParseRHello(v); err == nil {
					tag = c.Tag
				}
			} else if c, err := wire.ParseRedirect(v); err == nil {
				tag = c.Tag
			}
			e.mu.Lock()
			s := e.byTag[string(tag)]
			e.mu.Unlock()
			if s == nil {
				e.stats.dropUnknownTag.Add(1)
				continue
			}
			p.body = body
			if !s.deliver(p, nil) {
				e.stats.dropInboxFull.Add(1)
				break
			}
			return // the session owns p now
		}
	}
	if r.Err() != nil {
		e.stats.dropBadStartup.Add(1)
	}
	putPacket(p)
}

// startupBuf holds a startup packet being built: on the heap (the socket
// write makes stack arrays escape), pooled so that a flood does not
// allocate 8 KiB per answer.
type startupBuf struct {
	body [maxDatagram]byte
	out  [maxDatagram + 64]byte
}

var startupBufs = sync.Pool{New: func() any { return new(startupBuf) }}

// sendStartup sends one startup packet (default key) carrying chunk, with the
// session ID field set to ssid (0, or the initiator's ID for RIKeying and
// Cookie Change), after the admission checks of kind (see admission.go);
// request is the size of the datagram it answers. It reports false when an
// admission check refused it.
func (e *Endpoint) sendStartup(to netip.AddrPort, ssid uint32, chunk []byte, now time.Time, kind answerKind, request int) bool {
	if kind != answerOwn && !e.limiter.Allow(to.Addr(), now) {
		e.stats.dropRateLimited.Add(1)
		return false
	}
	sb := startupBufs.Get().(*startupBuf)
	defer startupBufs.Put(sb)
	h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp, Timestamp: timestamp16(e.epoch, now)}
	b := h.Append(sb.body[:0])
	b = append(b, chunk...)
	pkt := e.startup.Seal(sb.out[:4], b)
	if kind == answerUnproven && !e.budget.Spend(len(pkt), request) {
		e.limiter.Refund(to.Addr(), now)
		e.stats.dropAmplification.Add(1)
		return false
	}
	scramble(pkt, ssid)
	e.write(pkt, to)
	return true
}

// handleIHello answers an IHello or a Forwarded IHello (RFC 7016 §3.5.1.1).
// reply is where the initiator listens; request is the size of the
// datagram that carried the IHello, 0 for a Forwarded IHello (which came
// over a session with an introducer, RFC 7016 §3.5.1.5).
func (e *Endpoint) handleIHello(epdRaw, tag []byte, reply netip.AddrPort, request int, now time.Time) {
	epd, err := e.prof.ParseEPD(epdRaw)
	if err != nil {
		e.stats.dropBadStartup.Add(1)
		return
	}
	kind := certServer
	switch {
	case epd.HasPeerID && epd.PeerID == e.prof.PeerID():
		if e.cfg.NoPeerResponder {
			return
		}
		kind = certPeer
	case epd.HasPeerID:
		e.stats.introductionRequests.Add(1)
		if e.cfg.OnIntroduction != nil {
			e.cfg.OnIntroduction(Introduction{
				From:   reply,
				Target: epd.PeerID,
				EPD:    bytes.Clone(epdRaw),
				Tag:    bytes.Clone(tag),
				size:   request,
			})
		}
		return
	default:
		if e.cfg.AcceptEPD != nil && !e.cfg.AcceptEPD(epd, reply) {
			e.stats.dropRefusedEPD.Add(1)
			return
		}
		if e.cfg.Redirect != nil && request > 0 {
			if to := e.cfg.Redirect(reply); len(to) > 0 {
				e.Redirect(Introduction{From: reply, Tag: bytes.Clone(tag), size: request}, to)
				return
			}
		}
	}
	select {
	case <-e.closing:
		return
	default:
	}
	var ck [cookie.Size]byte
	rh := wire.RHello{
		Tag:         tag,
		Cookie:      e.jar.Mint(ck[:0], now, reply, tag, kind),
		Certificate: e.prof.ResponderCertificate(epd),
	}
	adm := answerUnproven
	if request == 0 {
		adm = answerForwarded
	}
	if e.sendStartup(reply, 0, rh.Append(nil), now, adm, request) {
		e.stats.rhellosSent.Add(1)
	}
}

// handleFIHello acts on a Forwarded IHello received from an introducer: if
// it names this endpoint, answer the initiator directly (RFC 7016 §3.5.1.5).
func (e *Endpoint) handleFIHello(c wire.FIHello, now time.Time) {
	e.stats.fihellosIn.Add(1)
	e.handleIHello(c.EPD, c.Tag, c.ReplyAddress.AddrPort, 0, now)
}

// Redirect answers the IHello of req with a Redirect listing addresses
// where the wanted endpoint may be reached (RFC 7016 §2.3.5, §3.5.1.4). It
// is an answer to an unproven address, subject to the startup admission
// checks (admission.go), and reports false when they refused it.
func (e *Endpoint) Redirect(req Introduction, addrs []wire.Address) bool {
	rd := wire.Redirect{Tag: req.Tag, Addresses: addrs}
	chunk := rd.Append(nil)
	if len(chunk) > MaxPacketSize-32 {
		return false
	}
	ok := e.sendStartup(req.From, 0, chunk, time.Now(), answerUnproven, req.size)
	if ok {
		e.stats.redirectsSent.Add(1)
	}
	return ok
}

// keyingJob is an IIKeying waiting for a worker.
type keyingJob struct {
	from   netip.AddrPort
	isid   uint32
	cookie []byte
	info   cookie.Info
	cert   []byte
	skic   []byte
}

// handleIIKeying validates an IIKeying's cookie and queues the key
// agreement (RFC 7016 §3.5.1.2–§3.5.1.3). Nothing is kept for invalid
// cookies. request is the size of the datagram.
//
// A valid cookie from the address it was minted for proves that address:
// the RHello that carried the cookie reached it. The per-address token and
// the budget credit that RHello took are refunded, and the RIKeying (RFC
// 7016 §3.5.1.3) is sent without admission checks.
func (e *Endpoint) handleIIKeying(c wire.IIKeying, from netip.AddrPort, request int, now time.Time) {
	info, err := e.jar.Verify(c.Cookie, now)
	if err != nil {
		e.stats.dropBadCookie.Add(1)
		return
	}
	if info.Addr != from {
		e.budget.Earn(request)
		// The initiator moved since the RHello: give it a cookie for
		// its new address (RFC 7016 §3.5.1.3).
		cc := wire.CookieChange{OldCookie: c.Cookie, NewCookie: e.jar.Mint(nil, now, from, nil, info.Kind)}
		e.sendStartup(from, c.InitiatorSessionID, cc.Append(nil), now, answerUnproven, request)
		return
	}
	key := string(c.Cookie)
	e.mu.Lock()
	if s := e.byCookie[key]; s != nil {
		rikeying := s.rikeying // forgetRIKeying clears it under e.mu
		e.mu.Unlock()
		if s.farID == c.InitiatorSessionID && now.Sub(s.openedAt) < cookie.Lifetime && rikeying != nil {
			// A repeated IIKeying: the RIKeying was lost. Send it again
			// rather than making a second session.
			e.write(rikeying, from)
		}
		return
	}
	if _, busy := e.inProgress[key]; busy {
		e.mu.Unlock()
		return
	}
	if len(e.sessions) >= e.cfg.MaxSessions {
		e.mu.Unlock()
		e.stats.dropSessionLimit.Add(1)
		return
	}
	job := &keyingJob{from: from, isid: c.InitiatorSessionID, cookie: bytes.Clone(c.Cookie), info: info,
		cert: bytes.Clone(c.Certificate), skic: bytes.Clone(c.SKIC)}
	if len(e.reader.keying) >= maxBatch {
		e.stats.dropHandshakeQueue.Add(1)
		e.mu.Unlock()
		return
	}
	e.reader.keying = append(e.reader.keying, job)
	e.inProgress[key] = struct{}{}
	e.limiter.Refund(from.Addr(), now)
	e.budget.Refund(e.rhelloCost[info.Kind&1])
	e.mu.Unlock()
}

// inlineKeying is how long the receive goroutine spends on the key
// agreements of one receive batch (handleIIKeying runs on it) before it
// hands the rest to the keying workers. Handing one over costs a goroutine
// wake-up, more than a third of the key agreement itself on a virtual
// machine, while running a few delays the batch's other datagrams by at
// most about this long; a burst of IIKeyings still spreads over the
// workers (and the cores).
const inlineKeying = time.Millisecond

// keyInline runs the key agreements handleIIKeying kept for the receive
// goroutine, for up to inlineKeying, and queues the rest for the keying
// workers (dropping those the queue has no room for: their initiators
// retransmit).
func (e *Endpoint) keyInline(w *worker) {
	if len(w.keying) == 0 {
		return
	}
	start := time.Now()
	for i, job := range w.keying {
		w.keying[i] = nil
		if time.Since(start) < inlineKeying {
			e.key(job, w)
			continue
		}
		select {
		case e.jobs <- job:
		default:
			e.stats.dropHandshakeQueue.Add(1)
			e.mu.Lock()
			delete(e.inProgress, string(job.cookie))
			e.mu.Unlock()
		}
	}
	w.keying = w.keying[:0]
}

// keyingWorker runs responder key agreements.
func (e *Endpoint) keyingWorker() {
	defer e.wg.Done()
	for {
		select {
		case <-e.closing:
			return
		case job := <-e.jobs:
			e.key(job, nil)
		}
	}
}

// key runs one responder key agreement and forgets it was in progress; a
// closing endpoint opens no more sessions. reader is the receive
// goroutine's worker when it runs there, nil on a keying worker.
func (e *Endpoint) key(job *keyingJob, reader *worker) {
	if !e.isClosing() {
		e.respond(job, reader)
	}
	e.mu.Lock()
	delete(e.inProgress, string(job.cookie))
	e.mu.Unlock()
}

// respond completes a responder handshake: key agreement, session, RIKeying.
// On the receive goroutine (reader not nil) the new session runs there
// after the receive batch, as the sessions it delivered datagrams to do.
func (e *Endpoint) respond(job *keyingJob, reader *worker) {
	var respCert []byte
	if job.info.Kind == certPeer {
		respCert = e.staticCert()
	} else {
		respCert = e.prof.ResponderCertificate(profile.EPD{})
	}
	skrc, sc, err := e.prof.Respond(respCert, job.cert, job.skic)
	if err != nil {
		e.stats.dropKeying.Add(1)
		e.log.Debug("key agreement failed", "from", job.from, "err", err)
		return
	}
	now := time.Now()
	e.mu.Lock()
	// Glare (RFC 7016 §3.5.1.3, RFC 7425 §4.3.6): we are opening a session
	// to the same peer. The side whose certificate sorts first wins.
	var glare *Session
	if g := e.openingTo(sc.FarPeerID); g != nil {
		if bytes.Compare(sc.FarCertificate, e.staticCert()) >= 0 {
			e.mu.Unlock()
			e.stats.glareWon.Add(1)
			return
		}
		glare = g
	}
	s := e.newSession(e.allocID(), false, job.from)
	s.peerMode = job.info.Kind == certPeer
	s.setOpen(job.isid, sc, now)
	rk := wire.RIKeying{ResponderSessionID: s.nearID, SKRC: skrc, Signature: signature}
	var body [maxDatagram]byte
	h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp, Timestamp: timestamp16(e.epoch, now)}
	b := rk.Append(h.Append(body[:0]))
	pkt := e.startup.Seal(make([]byte, 4, 4+len(b)+64), b)
	scramble(pkt, job.isid)
	s.rikeying = pkt
	s.rikeyCookie = job.cookie
	e.sessions[s.nearID] = s
	e.byCookie[string(job.cookie)] = s
	if old := e.byPeer[sc.FarPeerID]; old != nil && !old.initiator && old.RemoteAddr() == job.from &&
		old.peerMode == s.peerMode && bytes.Equal(old.crypto.FarCertificate, sc.FarCertificate) {
		// The same peer opens a new session of the same kind from the
		// same address as one it opened before: the old one is stale (RFC
		// 7425 §4.3.7; the peer restarted). A client keeps its server
		// session when it also opens a P2P session to the server's peer ID
		// (a NetGroup member on the server), and a P2P session this end
		// opened is not replaced by one the peer opens in turn.
		old.abort(ErrSessionClosed)
	}
	e.byPeer[sc.FarPeerID] = s
	e.mu.Unlock()
	// Counted before the RIKeying leaves: whoever saw it sees the count.
	e.stats.handshakesResponder.Add(1)
	e.write(pkt, job.from)
	s.start(reader)
	if glare != nil {
		e.stats.glareLost.Add(1)
		glare.hs.handOver(s)
		return
	}
	e.accepted(s)
}

// rhelloCosts returns the size of a sealed RHello with a 16-byte tag (the
// Flash profile's) and the server certificate, and with the static one:
// what a proven IIKeying gives back to the amplification budget.
func rhelloCosts(codec profile.PacketCodec, prof profile.Profile) [2]int {
	var out [2]int
	for kind, cert := range [][]byte{prof.ResponderCertificate(profile.EPD{}),
		prof.ResponderCertificate(profile.EPD{HasPeerID: true, PeerID: prof.PeerID()})} {
		rh := wire.RHello{Tag: make([]byte, 16), Cookie: make([]byte, cookie.Size), Certificate: cert}
		h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp}
		out[kind] = 4 + len(codec.Seal(nil, rh.Append(h.Append(nil))))
	}
	return out
}

// staticCert is this endpoint's own static certificate, the one whose
// fingerprint is its peer ID.
func (e *Endpoint) staticCert() []byte {
	return e.prof.ResponderCertificate(profile.EPD{HasPeerID: true, PeerID: e.prof.PeerID()})
}
