package natcheck

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/rawpkt"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Config configures a Responder. Only DifferentPort is required.
type Config struct {
	// DifferentPort is a socket on the IP address clients reach the
	// server at, with another port: its probe tells whether a client can
	// receive from the server's address on a port it never sent to.
	DifferentPort rtmfp.PacketConn
	// DifferentAddress, on another IP address of the same family, tells
	// whether it can receive from an address it never sent to.
	DifferentAddress rtmfp.PacketConn
	// IntroReply, on a third IP address, is where clients are asked (by a
	// Forwarded IHello) to answer, which shows whether their NAT keeps the
	// mapping of the server session for a new destination.
	IntroReply rtmfp.PacketConn
	// IntroReplyAddress is IntroReply's address as clients see it (when
	// the server is itself behind a translation); default its local
	// address.
	IntroReplyAddress netip.AddrPort
	// Tries is how many times each probe is sent. Default 5.
	Tries int
	// Offset staggers the three probes. Default 20 ms.
	Offset time.Duration
	// MaxChecks caps the checks running at once; more are refused.
	// Default 1000.
	MaxChecks int
	Logger    *slog.Logger
}

// Defaults, those of rtmfp-cpp's conncheck.
const (
	DefaultTries     = 5
	DefaultOffset    = 20 * time.Millisecond
	DefaultMaxChecks = 1000
	// minInterval and maxInterval bound the repetition of a probe, which
	// follows the session's round trip.
	minInterval = 250 * time.Millisecond
	maxInterval = 3 * time.Second
	tagLength   = 32
	// maxAnnounced bounds the setPeerInfo addresses compared.
	maxAnnounced = 16
)

// probe kinds, by the socket they leave from.
const (
	probeSamePort = iota
	probeOtherAddress
	probeIntro
	probeKinds
)

// Responder runs connectivity checks for clients of an RTMFP server.
type Responder struct {
	cfg   Config
	log   *slog.Logger
	socks [probeKinds]rtmfp.PacketConn
	intro netip.AddrPort

	quit chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	byTag   map[string]*check
	checked map[*rtmfp.Session]bool
	closed  bool
}

// check is one client's check in progress.
type check struct {
	returned chan returned
}

type returned struct {
	kind int
	from netip.AddrPort
}

// New starts a responder on the configured sockets, which it owns.
func New(cfg Config) (*Responder, error) {
	if cfg.DifferentPort == nil {
		return nil, errors.New("natcheck: a different-port socket is required")
	}
	if cfg.Tries <= 0 {
		cfg.Tries = DefaultTries
	}
	if cfg.Offset <= 0 {
		cfg.Offset = DefaultOffset
	}
	if cfg.MaxChecks <= 0 {
		cfg.MaxChecks = DefaultMaxChecks
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Responder{cfg: cfg, log: cfg.Logger, quit: make(chan struct{}), byTag: map[string]*check{}, checked: map[*rtmfp.Session]bool{}}
	r.socks = [probeKinds]rtmfp.PacketConn{cfg.DifferentPort, cfg.DifferentAddress, cfg.IntroReply}
	if cfg.IntroReply != nil {
		r.intro = cfg.IntroReplyAddress
		if !r.intro.IsValid() {
			ua, ok := cfg.IntroReply.LocalAddr().(*net.UDPAddr)
			if !ok {
				ap, err := netip.ParseAddrPort(cfg.IntroReply.LocalAddr().String())
				if err != nil {
					return nil, errors.New("natcheck: the introduction reply socket has no IP address")
				}
				r.intro = ap
			} else {
				r.intro = ua.AddrPort()
			}
		}
		r.intro = netip.AddrPortFrom(r.intro.Addr().Unmap(), r.intro.Port())
	}
	for kind, c := range r.socks {
		if c != nil {
			r.wg.Add(1)
			go r.read(kind, c)
		}
	}
	return r, nil
}

// Close stops the responder and closes its sockets. Checks in progress end
// without results.
func (r *Responder) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.quit)
	}
	r.mu.Unlock()
	var err error
	for _, c := range r.socks {
		if c != nil {
			if e := c.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	r.wg.Wait()
	return err
}

// read takes the RHellos that answer the probes sent from one socket.
func (r *Responder) read(kind int, c rtmfp.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-r.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, chunks, err := rawpkt.OpenStartup(buf[:n])
		if err != nil {
			continue
		}
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			if cr.Type() != wire.TypeRHello {
				continue
			}
			rh, err := wire.ParseRHello(cr.Value())
			if err != nil {
				continue
			}
			r.mu.Lock()
			ch := r.byTag[string(rh.Tag)]
			r.mu.Unlock()
			if ch == nil {
				continue
			}
			select {
			case ch.returned <- returned{kind: kind, from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port())}:
			default:
			}
		}
	}
}

// Check starts the check of the client on session s, whose NetConnection
// is c, with the addresses its setPeerInfo announced; the results are sent
// on c when done. Each session is checked once; Check reports false when
// it was already, or when MaxChecks are running.
func (r *Responder) Check(s *rtmfp.Session, c *netstream.Conn, announced []string) bool {
	ch := &check{returned: make(chan returned, 4*probeKinds)}
	tag := make([]byte, tagLength)
	rand.Read(tag)
	r.mu.Lock()
	if r.closed || r.checked[s] || len(r.byTag) >= r.cfg.MaxChecks {
		r.mu.Unlock()
		return false
	}
	r.checked[s] = true
	r.byTag[string(tag)] = ch
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		res, ok := r.run(s, ch, tag, announced)
		r.mu.Lock()
		delete(r.byTag, string(tag))
		r.mu.Unlock()
		r.wg.Add(1)
		go func() { // forget the session once it is gone
			defer r.wg.Done()
			select {
			case <-s.Done():
			case <-r.quit:
			}
			r.mu.Lock()
			delete(r.checked, s)
			r.mu.Unlock()
		}()
		if !ok {
			return
		}
		m, err := netstream.EncodeCommand("onStatus", 0, nil, res.Info())
		if err == nil {
			err = c.Transport().Send(0, m)
		}
		r.log.Info("connectivity check", "session", s.FarPeerID().String(), "remote", res.PublicAddress.String(),
			"sameAddress", res.ReceiveSameAddressDifferentPortAllowed, "otherAddress", fmtOpt(res.ReceiveDifferentAddressDifferentPortAllowed),
			"introduction", fmtOpt(res.SendAfterIntroductionAllowed), "keepsPort", fmtOpt(res.SendAfterIntroductionPreservesSourcePort), "err", err)
	}()
	return true
}

func fmtOpt(b *bool) string {
	switch {
	case b == nil:
		return "n/a"
	case *b:
		return "yes"
	}
	return "no"
}

// interval is how often a probe is repeated: a few round trips.
func interval(s *rtmfp.Session) time.Duration {
	return min(max(3*s.Stats().SRTT, minInterval), maxInterval)
}

// run sends the probes and collects the answers. It reports false when the
// session or the responder ended first.
func (r *Responder) run(s *rtmfp.Session, ch *check, tag []byte, announced []string) (Results, bool) {
	pub := s.RemoteAddr()
	pub = netip.AddrPortFrom(pub.Addr().Unmap(), pub.Port())
	res := Results{PublicAddress: pub}
	if len(announced) > 0 {
		local, port := false, false
		for i, a := range announced {
			if i >= maxAnnounced {
				break
			}
			ap, err := ParseAddress(a)
			if err != nil {
				continue
			}
			local = local || ap == pub
			port = port || ap.Port() == pub.Port()
		}
		res.PublicAddressIsLocal, res.PublicPortMatchesLocalPort = &local, &port
	}
	f := false
	if r.socks[probeOtherAddress] != nil {
		res.ReceiveDifferentAddressDifferentPortAllowed = &f
	}
	if r.socks[probeIntro] != nil {
		ff, fa, fp := false, false, false
		res.SendAfterIntroductionAllowed = &ff
		res.SendAfterIntroductionPreservesSourceAddress = &fa
		res.SendAfterIntroductionPreservesSourcePort = &fp
	}
	epd := flash.PeerEPD(s.FarPeerID())
	ihello := wire.IHello{EPD: epd, Tag: tag}.Append(nil)
	every := interval(s)
	start := time.Now()
	var sent [probeKinds]int
	var done [probeKinds]bool
	pending := 0
	for k, c := range r.socks {
		if c == nil {
			done[k] = true
		} else {
			pending++
		}
	}
	end := time.NewTimer(3*r.cfg.Offset + time.Duration(r.cfg.Tries)*every)
	defer end.Stop()
	tick := time.NewTicker(r.cfg.Offset)
	defer tick.Stop()
	send := func(k int, now time.Time) {
		// Probe k starts at (k+1)·Offset and repeats every interval.
		due := start.Add(time.Duration(k+1)*r.cfg.Offset + time.Duration(sent[k])*every)
		if done[k] || sent[k] >= r.cfg.Tries || now.Before(due) {
			return
		}
		sent[k]++
		if k == probeIntro {
			s.ForwardIHello(epd, wire.Address{AddrPort: r.intro, Origin: wire.OriginObserved}, tag)
			return
		}
		d := rawpkt.SealStartup(0, uint16(now.UnixMilli()/4), ihello)
		r.socks[k].WriteToUDPAddrPort(d, pub)
	}
	for pending > 0 {
		select {
		case now := <-tick.C:
			for k := range probeKinds {
				send(k, now)
			}
		case got := <-ch.returned:
			if done[got.kind] {
				continue
			}
			done[got.kind] = true
			pending--
			t := true
			switch got.kind {
			case probeSamePort:
				res.ReceiveSameAddressDifferentPortAllowed = true
			case probeOtherAddress:
				res.ReceiveDifferentAddressDifferentPortAllowed = &t
			case probeIntro:
				a, p := got.from.Addr() == pub.Addr(), got.from.Port() == pub.Port()
				res.SendAfterIntroductionAllowed = &t
				res.SendAfterIntroductionPreservesSourceAddress = &a
				res.SendAfterIntroductionPreservesSourcePort = &p
			}
		case <-end.C:
			pending = 0
		case <-s.Done():
			return res, false
		case <-r.quit:
			return res, false
		}
	}
	return res, true
}

// Hook returns a netstream OnPeerInfo hook that checks the clients of app
// ("" for every application) after their setPeerInfo, and then calls next
// (which may be nil). lookup finds a connection's RTMFP session (nil for
// another transport); see SessionOf.
func (r *Responder) Hook(app string, lookup func(*netstream.Conn) *rtmfp.Session, next func(*netstream.Conn, []string)) func(*netstream.Conn, []string) {
	return func(c *netstream.Conn, addrs []string) {
		if app == "" || c.Info().App == app {
			if s := lookup(c); s != nil && !s.PeerMode() {
				r.Check(s, c, addrs)
			}
		}
		if next != nil {
			next(c, addrs)
		}
	}
}

// SessionOf returns the session of an RTMFP NetConnection on one of eps:
// the open session with the peer its ID names.
func SessionOf(eps []*rtmfp.Endpoint, c *netstream.Conn) *rtmfp.Session {
	if c.Transport().Protocol() != "rtmfp" {
		return nil
	}
	id, err := profile.ParsePeerID(c.ID)
	if err != nil {
		return nil
	}
	for _, ep := range eps {
		if s, ok := ep.Session(id); ok && s.Err() == nil {
			return s
		}
	}
	return nil
}
