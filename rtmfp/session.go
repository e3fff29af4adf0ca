package rtmfp

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/congestion"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/rtt"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// sessionState is the life cycle of a session (RFC 7016 §3.5).
type sessionState uint8

const (
	stateOpening   sessionState = iota // initiator: IHello sent, waiting for RHello
	stateKeying                        // initiator: IIKeying sent, waiting for RIKeying
	stateOpen                          // established
	stateNearClose                     // we sent Session Close Request
	stateFarClose                      // far end closed; lingering to acknowledge
	stateClosed
)

func (st sessionState) String() string {
	switch st {
	case stateOpening:
		return "opening"
	case stateKeying:
		return "keying"
	case stateOpen:
		return "open"
	case stateNearClose:
		return "near-close"
	case stateFarClose:
		return "far-close"
	case stateClosed:
		return "closed"
	}
	return "invalid"
}

// Time limits of the session life cycle (RFC 7016 §3.5.5 and the reference
// implementation's values).
const (
	farCloseLinger       = 19 * time.Second
	recvFlowLinger       = 120 * time.Second
	timeCriticalTimeout  = 800 * time.Millisecond
	maxEchoAge           = 128 * time.Second
	persistInitial       = time.Second
	persistMax           = 60 * time.Second
	maxPendingPingReplys = 4
	maxPingData          = 1000
	maxPendingFIHellos   = 64
	// shutdownPatience is how long, at least, a session waits at endpoint
	// shutdown for a first packet from the far end before abandoning it
	// (four round trips if that is longer).
	shutdownPatience = time.Second
	// delayedAck is how long an acknowledgement may wait for a second
	// data packet; RFC 7016 §3.6.3.4 allows up to 200 ms. A short delay
	// keeps small windows moving.
	delayedAck = 50 * time.Millisecond
	// maxReorderMult caps the reordering window at about a round trip.
	maxReorderMult = 3
)

// Session is an RTMFP session between this endpoint and a far endpoint.
// One worker of the endpoint at a time owns its state (see the package
// documentation); the methods below are safe for concurrent use.
type Session struct {
	ep        *Endpoint
	nearID    uint32
	initiator bool
	opened    chan struct{}
	done      chan struct{}
	acceptCh  chan *RecvFlow
	addr      atomic.Pointer[netip.AddrPort]

	// Scheduling (sched.go, timers.go).
	sched   atomic.Uint32
	w       *worker      // the worker running the session, while it runs
	tbucket *timerBucket // the deadline's bucket (timerWheel.mu)
	tnext   *Session
	tprev   *Session

	// Set before the session opens and constant afterwards.
	farID     uint32
	crypto    *profile.SessionCrypto
	epd       []byte
	maxBody   int
	openedAt  time.Time
	peerMode  bool // opened to a peer ID rather than a server URL
	ordered   *inOrderQueue
	closeOnce sync.Once
	doneMu    sync.Mutex
	onDone    []func()        // OnDone's, until Done closes (doneMu)
	ended     bool            // Done is closed (doneMu)
	acct      *budget.Account // what the far end makes this end hold (nil: unaccounted)
	unread    atomic.Int64    // bytes of received messages not yet read

	mu        sync.Mutex
	inbox     []*packet
	spare     []*packet
	newFlows  []*SendFlow
	dirty     []*SendFlow
	dirtyRecv []*RecvFlow
	spareSend []*SendFlow // the worker's: dirty's next backing array
	spareRecv []*RecvFlow
	fihellos  [][]byte
	closeReq  bool
	abortErr  error
	err       error
	nextFlow  uint64
	nSend     int
	exited    bool

	// Owned by the worker running the session.
	state        sessionState
	hs           *initiatorState
	rikeying     []byte // responder: the RIKeying datagram, resent on a repeated IIKeying (e.mu to clear)
	rikeyCookie  []byte // until the cookie expires (forgetRIKeying)
	sendFlows    map[uint64]*SendFlow
	order        []*SendFlow // round-robin order of send flows
	rr           int
	recvFlows    map[uint64]*RecvFlow
	rtt          rtt.Estimator
	cc           *congestion.Controller
	pacer        congestion.Pacer
	inFlight     int
	rtoBase      time.Time // start of the current retransmission timeout
	stalledSince time.Time // data waits and none was acknowledged since
	recvHeld     int       // memory of the receive flows' buffers
	budgetFullAt time.Time // the receive budget refused data, and no message was delivered since
	lastRecv     time.Time
	keepaliveAt  time.Time
	farTS        uint16
	farTSAt      time.Time
	echoDue      bool
	tcRecvAt     time.Time
	dataPkts     int // packets with user data since the last acknowledgement
	delackAt     time.Time
	nextExpire   time.Time
	pingReplies  [][]byte
	pingDue      bool
	closeSentAt  time.Time
	closeUntil   time.Time
	closeAckDue  bool
	closing      bool      // Close was called: flows are draining
	shutdownAt   time.Time // the endpoint began shutting down
	pacedUntil   time.Time // data waits for the pacer until then
	reorderMult  int       // reordering window, in quarter round trips beyond the first
	lingerUntil  time.Time
	body         []byte // the packet being built, in the worker's batch
	prefix       int    // where a packet's body starts after the session ID field
	stats        sessionCounters
	srttNanos    atomic.Int64
}

// newSession makes a session object; it does not start its goroutine.
func (e *Endpoint) newSession(nearID uint32, initiator bool, addr netip.AddrPort) *Session {
	s := &Session{
		ep:        e,
		nearID:    nearID,
		initiator: initiator,
		opened:    make(chan struct{}),
		done:      make(chan struct{}),
		sendFlows: make(map[uint64]*SendFlow),
		recvFlows: make(map[uint64]*RecvFlow),
		rtt:       rtt.New(),
		nextFlow:  1,
	}
	s.addr.Store(&addr)
	return s
}

// setOpen completes the handshake (the session's worker, or before it
// starts).
func (s *Session) setOpen(farID uint32, sc *profile.SessionCrypto, now time.Time) {
	s.farID = farID
	s.crypto = sc
	s.state = stateOpen
	s.openedAt = now
	s.lastRecv = now
	s.keepaliveAt = now.Add(s.ep.cfg.KeepalivePeriod)
	s.maxBody = MaxPacketSize - sc.Send.Overhead()
	if p, ok := sc.Send.(interface{ Prefix() int }); ok {
		s.prefix = p.Prefix()
	}
	s.cc = congestion.New(s.maxBody)
	if cfg := &s.ep.cfg; cfg.Memory != nil || cfg.PeerMemory > 0 {
		s.acct = cfg.Memory.Open("rtmfp session "+sc.FarPeerID.String()[:16]+" ("+s.RemoteAddr().String()+")",
			cfg.PeerMemory, s.endForMemory)
	}
	if s.ep.cfg.InOrder != nil && s.ep.cfg.InOrder(s) {
		s.ordered = &inOrderQueue{}
	} else {
		s.acceptCh = make(chan *RecvFlow, s.ep.cfg.MaxRecvFlows)
	}
	close(s.opened)
}

// logger returns the logger of the session's events: the far end's peer
// ID once the session is open (the worker's, or after Opened), its near
// session ID before. Made when a line is logged, so that an idle session
// holds no logger of its own.
func (s *Session) logger() *slog.Logger {
	if s.crypto != nil {
		return s.ep.log.With("session", s.crypto.FarPeerID.String())
	}
	return s.ep.log.With("session", s.nearID)
}

// Account is the session's share of the server-wide memory budget
// (Config.Memory, Config.PeerMemory), or nil without one. Upper layers
// charge it with what they hold for the far end (player queues).
func (s *Session) Account() *budget.Account { return s.acct }

// endForMemory closes a session whose account went over its limit or was
// shed to keep the server within its budget.
func (s *Session) endForMemory(err error) {
	s.ep.stats.closedMemory.Add(1)
	s.logger().Debug("closing: memory budget", "err", err)
	s.abort(err)
}

// mss is the largest fragment payload a data packet carries.
func (s *Session) mss() int { return s.maxBody - dataOverhead }

// dataOverhead bounds the bytes a packet needs around one fragment: header
// (flags, timestamp, echo), chunk header, user data flags, flow ID, sequence
// number and forward sequence number offset VLUs.
const dataOverhead = 5 + 3 + 1 + 5 + 10 + 5

// ID is this end's session ID, the one the far end puts in its packets.
func (s *Session) ID() uint32 { return s.nearID }

// Initiator reports whether this end opened the session.
func (s *Session) Initiator() bool { return s.initiator }

// RemoteAddr is the far end's address: where packets are sent. It follows
// the far end when it moves (RFC 7016 §3.5.4).
func (s *Session) RemoteAddr() netip.AddrPort { return *s.addr.Load() }

// FarPeerID is the fingerprint of the far end's certificate (its peer ID
// in the Flash profile).
func (s *Session) FarPeerID() profile.PeerID { return s.crypto.FarPeerID }

// FarCertificate is the far end's certificate.
func (s *Session) FarCertificate() []byte { return s.crypto.FarCertificate }

// Crypto returns the session's negotiated cryptography: nonces and key
// components, from which the Flash profile derives NetGroup keys.
func (s *Session) Crypto() *profile.SessionCrypto { return s.crypto }

// PeerMode reports whether the session was opened to a peer ID (a P2P
// session: this end answered, or sent, an IHello naming a peer) rather than
// to a server's URL.
func (s *Session) PeerMode() bool { return s.peerMode }

// EPD is the endpoint discriminator this end used to open the session
// (nil for sessions it responded to).
func (s *Session) EPD() []byte { return s.epd }

// Endpoint returns the session's endpoint.
func (s *Session) Endpoint() *Endpoint { return s.ep }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended: nil while it is open, ErrSessionClosed
// after a local Close, ErrFarClose, ErrTimeout, ...
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// OpenFlow opens a send flow carrying metadata (RFC 7016 §3.6.2.1).
func (s *Session) OpenFlow(metadata []byte, o FlowOptions) (*SendFlow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.closeReq || s.exited {
		return nil, ErrSessionClosed
	}
	if s.nSend >= s.ep.cfg.MaxSendFlows {
		return nil, ErrTooManyFlows
	}
	options := encodeFlowOptions(metadata, o.ReturnFor)
	f := &SendFlow{
		s:        s,
		id:       s.nextFlow,
		metadata: append([]byte(nil), metadata...),
		opts:     o,
		options:  options,
		done:     make(chan struct{}),
		space:    make(chan struct{}, 1),
		rwnd:     initialSendWindow,
	}
	f.fragSize = max(s.mss()-len(options), 64)
	s.nextFlow++
	s.nSend++
	s.newFlows = append(s.newFlows, f)
	s.schedule()
	return f, nil
}

// initialSendWindow is the far end's receive window assumed before its
// first acknowledgement.
const initialSendWindow = 65536

// AcceptFlow returns the next flow the far end opened.
func (s *Session) AcceptFlow(ctx context.Context) (*RecvFlow, error) {
	select {
	case f := <-s.acceptCh:
		return f, nil
	default:
	}
	select {
	case f := <-s.acceptCh:
		return f, nil
	case <-s.done:
		return nil, s.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ForwardIHello sends a Forwarded IHello chunk (RFC 7016 §2.3.7) to the far
// end: an introducer's request that it answer the initiator at reply
// directly. epd and tag are those of the initiator's IHello.
func (s *Session) ForwardIHello(epd []byte, reply wire.Address, tag []byte) error {
	c := wire.FIHello{EPD: epd, ReplyAddress: reply, Tag: tag}
	chunk := c.Append(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.exited {
		return ErrSessionClosed
	}
	if len(s.fihellos) >= maxPendingFIHellos {
		return ErrBufferFull
	}
	s.fihellos = append(s.fihellos, chunk)
	s.schedule()
	return nil
}

// Close closes the session: its send flows are closed, and once their data
// is delivered (or CloseTimeout passes) the session close exchange runs
// (RFC 7016 §3.5.5). Close returns at once; Done reports the end.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closeReq = true
	s.schedule()
	s.mu.Unlock()
	return nil
}

// Abort ends the session at once with a close request to the far end,
// discarding unsent data.
func (s *Session) Abort() { s.abort(ErrSessionClosed) }

func (s *Session) abort(err error) {
	s.mu.Lock()
	if s.abortErr == nil {
		s.abortErr = err
	}
	s.schedule()
	s.mu.Unlock()
}

func (s *Session) wakeFlow(f *SendFlow) {
	s.mu.Lock()
	if !f.dirty {
		f.dirty = true
		s.dirty = append(s.dirty, f)
	}
	s.mu.Unlock()
	s.schedule()
}

func (s *Session) windowOpened(f *RecvFlow) {
	s.mu.Lock()
	if !f.dirty {
		f.dirty = true
		s.dirtyRecv = append(s.dirtyRecv, f)
	}
	s.mu.Unlock()
	s.schedule()
}

// deliver hands a received datagram to the session (receive goroutine). It
// reports false, keeping ownership with the caller, when the inbox is full.
// With a reader, an idle session is queued for the reader itself, which
// runs it after the datagrams of its system call (worker.runReceived).
func (s *Session) deliver(p *packet, reader *worker) bool {
	s.mu.Lock()
	if s.exited || len(s.inbox) >= s.ep.cfg.InboxSize {
		s.mu.Unlock()
		return false
	}
	s.inbox = append(s.inbox, p)
	s.mu.Unlock()
	if reader != nil && reader.take(s) {
		return true
	}
	s.schedule()
	return true
}

// start hands the session to the endpoint's workers, or to the receive
// goroutine's worker (reader) when it runs there: it then runs after the
// receive batch without waking another goroutine.
func (s *Session) start(reader *worker) {
	s.ep.wg.Add(1)
	s.sched.Store(schedQueued)
	if reader != nil {
		reader.local = append(reader.local, s)
		return
	}
	s.ep.runq.push(s)
}

// step handles everything that happened since the last run.
func (s *Session) step(now time.Time) {
	if s.ep.dropAll.Load() {
		// The endpoint's shutdown ran out of time.
		s.finishClose(ErrEndpointClosed)
		return
	}
	if s.shutdownAt.IsZero() && s.ep.isClosing() {
		s.shutdown(now)
		if s.state == stateClosed {
			return
		}
	}
	s.mu.Lock()
	in := s.inbox
	s.inbox = s.spare[:0]
	newFlows, dirty, dirtyRecv := s.newFlows, s.dirty, s.dirtyRecv
	s.newFlows, s.dirty, s.dirtyRecv = nil, s.spareSend, s.spareRecv
	s.spareSend, s.spareRecv = nil, nil
	for _, f := range dirty {
		f.dirty = false
	}
	for _, f := range dirtyRecv {
		f.dirty = false
	}
	fih := s.fihellos
	s.fihellos = nil
	closeReq, abortErr := s.closeReq, s.abortErr
	s.mu.Unlock()

	for i, p := range in {
		s.handlePacket(p, now)
		putPacket(p)
		in[i] = nil
	}
	s.spare = in[:0]
	if s.state == stateClosed {
		return
	}
	if abortErr != nil && s.state < stateOpen {
		s.finishClose(abortErr)
		return
	}
	if abortErr != nil && s.state < stateNearClose {
		s.beginClose(now, abortErr)
	}
	for _, f := range newFlows {
		s.sendFlows[f.id] = f
		f.q = newQueue(f.fragSize)
		s.order = append(s.order, f)
	}
	for _, f := range dirty {
		if f.q != nil && !f.finished {
			f.takePending()
		}
	}
	for _, f := range dirtyRecv {
		s.recvFlowChanged(f)
	}
	clear(dirty)
	clear(dirtyRecv)
	s.spareSend, s.spareRecv = dirty[:0], dirtyRecv[:0]
	if len(fih) > 0 && s.state == stateOpen {
		s.sendControl(now, fih...)
	}
	if closeReq && s.state == stateOpen {
		s.closeGracefully(now)
	}
	s.onTimers(now)
	if s.state >= stateOpen && s.state != stateClosed {
		s.flush(now)
	}
}

// shutdown reacts to the endpoint closing.
func (s *Session) shutdown(now time.Time) {
	s.mu.Lock()
	s.closeReq = true
	s.mu.Unlock()
	s.shutdownAt = now
	if s.state < stateOpen || s.state == stateFarClose {
		s.finishClose(ErrEndpointClosed)
	}
}

// exit releases everything when the session ends (its worker).
func (s *Session) exit() {
	s.mu.Lock()
	if s.err == nil {
		s.err = ErrSessionClosed
	}
	err := s.err
	s.exited = true
	in := s.inbox
	s.inbox = nil
	pending := append(s.newFlows, s.dirty...)
	s.newFlows, s.dirty = nil, nil
	s.mu.Unlock()
	for _, p := range in {
		putPacket(p)
	}
	for _, f := range s.sendFlows {
		f.fail(err)
	}
	for _, f := range pending {
		f.fail(err)
	}
	for _, f := range s.recvFlows {
		f.end(err)
	}
	s.ep.removeSession(s)
	s.ep.timers.set(s, time.Time{}, time.Time{})
	s.acct.Close()
	if s.hs != nil {
		s.hs.fail(err)
	}
	s.markDone()
	s.ep.wg.Done()
}

// markDone closes Done: the session is of no further use, though it may
// linger to answer the far end's close.
func (s *Session) markDone() {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.ordered != nil {
			s.ordered.wake()
		}
		s.doneMu.Lock()
		fns := s.onDone
		s.onDone, s.ended = nil, true
		s.doneMu.Unlock()
		for _, fn := range fns {
			go fn()
		}
	})
}

// OnDone makes the session call fn, on a goroutine of its own, once Done
// is closed (at once if it is): what follows a session's end needs no
// goroutine waiting for it while the session lasts.
func (s *Session) OnDone(fn func()) {
	s.doneMu.Lock()
	if !s.ended {
		s.onDone = append(s.onDone, fn)
		s.doneMu.Unlock()
		return
	}
	s.doneMu.Unlock()
	go fn()
}

// finishClose marks the session closed with err.
func (s *Session) finishClose(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.state = stateClosed
}
