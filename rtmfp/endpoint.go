package rtmfp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/ratelimit"
	"github.com/rtmfpd/rtmfpd/internal/waitgroup"
	"github.com/rtmfpd/rtmfpd/rtmfp/internal/cookie"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Endpoint is one RTMFP endpoint on one datagram socket: the responder for
// sessions others open to it and the initiator of sessions it opens
// (RFC 7016 §3). A receive goroutine demultiplexes datagrams by session ID,
// and a few workers run the sessions that have work (see the package
// documentation).
type Endpoint struct {
	conn    PacketConn
	bc      batchConn
	bc6     bool
	gso     atomic.Bool // datagrams to one address are sent with UDP GSO
	raw     *rawSocket  // raw sends on the socket; nil: through the poller
	cfg     Config
	prof    profile.Profile
	log     *slog.Logger
	startup profile.PacketCodec
	jar     *cookie.Jar
	limiter *ratelimit.Limiter[netip.Addr]
	budget  *ratelimit.Budget
	// rhelloCost is what a proven IIKeying refunds to the budget, by
	// certificate kind (certServer, certPeer).
	rhelloCost [2]int
	epoch      time.Time

	closing    chan struct{}
	closeOnce  sync.Once
	readerDone chan struct{}
	wg         sync.WaitGroup // sessions and keying workers
	acceptCh   chan *Session
	acceptMu   sync.Mutex
	onAccept   func(*Session) // see OnAccept; under acceptMu
	jobs       chan *keyingJob

	runq        *runQueue
	timers      *timerWheel
	reader      *worker // the receive goroutine, running what it received
	stopWorkers chan struct{}
	stopOnce    sync.Once
	workersDone sync.WaitGroup
	dropAll     atomic.Bool // the shutdown ran out of time: sessions end at once

	mu         sync.Mutex
	sessions   map[uint32]*Session
	byTag      map[string]*Session
	byCookie   map[string]*Session
	byPeer     map[profile.PeerID]*Session
	inProgress map[string]struct{}

	stats endpointCounters
}

// Listen opens a UDP socket on address (host:port; "" host for all
// addresses) and runs an endpoint on it. network is "udp", "udp4" or
// "udp6".
func Listen(network, address string, cfg Config) (*Endpoint, error) {
	ua, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	e, err := NewEndpoint(c, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return e, nil
}

// NewEndpoint runs an endpoint on conn. The endpoint owns conn and closes it
// when it is closed.
func NewEndpoint(conn PacketConn, cfg Config) (*Endpoint, error) {
	if err := cfg.populate(); err != nil {
		return nil, err
	}
	e := &Endpoint{
		conn:       conn,
		cfg:        cfg,
		prof:       cfg.Profile,
		log:        cfg.Logger.With("endpoint", conn.LocalAddr().String()),
		startup:    cfg.Profile.StartupCodec(),
		jar:        cookie.New(),
		limiter:    ratelimit.New[netip.Addr](cfg.StartupRate, cfg.StartupBurst, 0),
		budget:     ratelimit.NewBudget(amplificationFactor, amplificationCredit),
		epoch:      time.Now(),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		acceptCh:   make(chan *Session, cfg.AcceptQueue),
		jobs:       make(chan *keyingJob, cfg.HandshakeQueue),
		sessions:   make(map[uint32]*Session),
		byTag:      make(map[string]*Session),
		byCookie:   make(map[string]*Session),
		byPeer:     make(map[profile.PeerID]*Session),
		inProgress: make(map[string]struct{}),
	}
	e.rhelloCost = rhelloCosts(e.startup, e.prof)
	e.bc, e.bc6 = newBatchConn(conn)
	if e.bc != nil {
		e.raw = newRawSocket(conn, e.bc6)
	}
	e.gso.Store(e.bc != nil && !cfg.NoGSO && gsoAvailable(conn))
	e.runq = newRunQueue(cfg.Workers)
	e.timers = newTimerWheel(e)
	e.stopWorkers = make(chan struct{})
	e.reader = &worker{e: e}
	e.reader.out.init(e)
	e.startWorkers(cfg.Workers)
	for range cfg.HandshakeWorkers {
		e.wg.Add(1)
		go e.keyingWorker()
	}
	go e.readLoop()
	return e, nil
}

// LocalAddr is the socket's address.
func (e *Endpoint) LocalAddr() net.Addr { return e.conn.LocalAddr() }

// PeerID is this endpoint's peer ID (the fingerprint of its certificate).
func (e *Endpoint) PeerID() profile.PeerID { return e.prof.PeerID() }

// Profile returns the endpoint's cryptography profile.
func (e *Endpoint) Profile() profile.Profile { return e.prof }

// Accept returns the next session a far end opened to this endpoint.
func (e *Endpoint) Accept(ctx context.Context) (*Session, error) {
	select {
	case s := <-e.acceptCh:
		return s, nil
	case <-e.closing:
		return nil, ErrEndpointClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// OnAccept hands every session a far end opens from now on to fn instead of
// Accept, and first the sessions already waiting for Accept. fn runs on the
// endpoint's goroutine that opened the session (the receive goroutine or a
// keying worker) and must not block; it saves a goroutine hand-off per
// session over an Accept loop.
func (e *Endpoint) OnAccept(fn func(*Session)) {
	e.acceptMu.Lock()
	e.onAccept = fn
	var waiting []*Session
	for {
		select {
		case s := <-e.acceptCh:
			waiting = append(waiting, s)
			continue
		default:
		}
		break
	}
	e.acceptMu.Unlock()
	for _, s := range waiting {
		fn(s)
	}
}

// accepted hands s, which a far end opened, to OnAccept's function or to
// Accept; a full Accept queue refuses it.
func (e *Endpoint) accepted(s *Session) {
	e.acceptMu.Lock()
	fn := e.onAccept
	queued := fn != nil
	if !queued {
		select {
		case e.acceptCh <- s:
			queued = true
		default:
		}
	}
	e.acceptMu.Unlock()
	switch {
	case fn != nil:
		fn(s)
	case !queued:
		e.stats.dropAcceptQueue.Add(1)
		s.Abort()
	}
}

// Session returns the open session with the far peer whose peer ID is id,
// if there is one.
func (e *Endpoint) Session(id profile.PeerID) (*Session, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.byPeer[id]
	return s, ok
}

// Sessions returns a snapshot of the endpoint's sessions, including those
// still closing or lingering after a close (RFC 7016 §3.5.5).
func (e *Endpoint) Sessions() []*Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Session, 0, len(e.sessions))
	for _, s := range e.sessions {
		out = append(out, s)
	}
	return out
}

// Close closes every session (with the close exchange, bounded by
// CloseTimeout) and then the socket. It is Shutdown with a context that
// expires after CloseTimeout plus a second.
func (e *Endpoint) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.CloseTimeout+time.Second)
	defer cancel()
	return e.Shutdown(ctx)
}

// Shutdown stops accepting sessions, closes the open ones gracefully and
// waits for them until ctx is done; then it closes the socket. A session
// whose far end sends nothing once the shutdown has begun (for a second,
// or four round trips if longer) is abandoned with ErrAbandoned: a peer
// that vanished does not hold the shutdown for the whole close exchange.
// Shutdown returns ctx's error only when sessions that still answer were
// left unclosed.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.closeOnce.Do(func() { close(e.closing) })
	e.scheduleAll()
	done := waitgroup.Done(&e.wg)
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		// The sessions still open end at their next run, without a word
		// to the far end.
		e.dropAll.Store(true)
		e.scheduleAll()
		<-done
	}
	e.stopOnce.Do(func() { close(e.stopWorkers) })
	e.workersDone.Wait()
	e.timers.stop()
	e.raw.close()
	cerr := e.conn.Close()
	<-e.readerDone
	if err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// isClosing reports whether the endpoint is shutting down.
func (e *Endpoint) isClosing() bool {
	select {
	case <-e.closing:
		return true
	default:
		return false
	}
}

// readLoop receives datagrams and hands them to their sessions.
func (e *Endpoint) readLoop() {
	if e.bc != nil {
		e.readBatchLoop()
		return
	}
	defer close(e.readerDone)
	p := getPacket()
	defer func() { putPacket(p) }()
	for {
		n, from, err := e.conn.ReadFromUDPAddrPort(p.buf[:])
		if err != nil {
			if e.readError(err) {
				return
			}
			continue
		}
		if e.receive(p, n, from) {
			p = getPacket()
		}
		e.reader.runReceived()
	}
}

// readError handles a receive error and reports whether the loop must end.
func (e *Endpoint) readError(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return true
	}
	select {
	case <-e.closing:
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return true
	default:
	}
	e.stats.readErrors.Add(1)
	return false
}

// receive demultiplexes one datagram of n bytes in p. It reports whether it
// kept p (handed it to a session or the handshake path); if not, the caller
// reuses p.
func (e *Endpoint) receive(p *packet, n int, from netip.AddrPort) bool {
	e.stats.packetsIn.Add(1)
	// The smallest packet is a 4-byte session ID field and one 16-byte
	// cipher block; a full buffer may be a truncated one.
	if n < 20 || n >= len(p.buf) {
		e.stats.dropShort.Add(1)
		return false
	}
	p.n, p.from, p.body = n, from, nil
	ssid := unscramble(p.buf[:n])
	if ssid == 0 {
		e.handleStartup(p)
		return true
	}
	e.mu.Lock()
	s := e.sessions[ssid]
	e.mu.Unlock()
	if s == nil {
		e.stats.dropUnknownSession.Add(1)
		return false
	}
	if !s.deliver(p, e.reader) {
		e.stats.dropInboxFull.Add(1)
		return false
	}
	return true
}

// allocID reserves a fresh random non-zero session ID for s (e.mu held).
func (e *Endpoint) allocID() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		id := binary.BigEndian.Uint32(b[:])
		if _, used := e.sessions[id]; id != 0 && !used {
			return id
		}
	}
}

// removeSession forgets a session that ended.
func (e *Endpoint) removeSession(s *Session) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sessions[s.nearID] == s {
		delete(e.sessions, s.nearID)
	}
	if s.hs != nil && e.byTag[string(s.hs.tag)] == s {
		delete(e.byTag, string(s.hs.tag))
	}
	if s.rikeyCookie != nil && e.byCookie[string(s.rikeyCookie)] == s {
		delete(e.byCookie, string(s.rikeyCookie))
	}
	if s.crypto != nil && e.byPeer[s.crypto.FarPeerID] == s {
		delete(e.byPeer, s.crypto.FarPeerID)
	}
}

// forgetRIKeying drops what a responder session keeps to answer a repeated
// IIKeying once its cookie has expired (no such IIKeying is accepted any
// more): the RIKeying datagram and the session's entry by cookie.
func (e *Endpoint) forgetRIKeying(s *Session) {
	e.mu.Lock()
	if e.byCookie[string(s.rikeyCookie)] == s {
		delete(e.byCookie, string(s.rikeyCookie))
	}
	s.rikeying, s.rikeyCookie = nil, nil
	e.mu.Unlock()
}

// Logger returns the endpoint's logger.
func (e *Endpoint) Logger() *slog.Logger { return e.log }
