package rtmfpcheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// env is what the checks of a run share.
type env struct {
	opts    Options
	url     *url.URL
	server  netip.AddrPort
	results map[string]*Result

	// hello is the server's first RHello (handshake.ihello).
	hello *helloInfo
	// flash is the session of handshake.flash, kept for the session
	// checks.
	flash *rawSession
	// stream, introRun, groupRun and natRun are the scenarios of their
	// categories.
	stream   *streamRun
	introRun *introRun
	groupRun *groupRun
	natRun   *natRun

	// cur is the wire log of the check running.
	cur atomic.Pointer[wireLog]

	closers   []func()
	endpoints []*rtmfp.Endpoint
}

// close ends what the run opened: connections first, then the endpoints
// all at once, each given closeWait to close its sessions with the close
// exchange (none when closeWait is 0: until they have).
func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if e.opts.closeWait > 0 {
		ctx, cancel = context.WithTimeout(ctx, e.opts.closeWait)
	}
	defer cancel()
	var wg sync.WaitGroup
	for _, ep := range e.endpoints {
		wg.Go(func() { ep.Shutdown(ctx) })
	}
	wg.Wait()
	e.endpoints = nil
}

// network is the socket family that reaches the server.
func (e *env) network() string {
	if e.server.Addr().Is4() {
		return "udp4"
	}
	return "udp6"
}

// rec collects the outcome of one check. The first verdict stands.
type rec struct {
	mu     sync.Mutex
	status Status
	detail string
	facts  []Fact
	wire   *wireLog
}

func (r *rec) set(s Status, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status == "" {
		r.status, r.detail = s, fmt.Sprintf(format, args...)
	}
}

// failf fails the check.
func (r *rec) failf(format string, args ...any) { r.set(Fail, format, args...) }

// skipf skips it.
func (r *rec) skipf(format string, args ...any) { r.set(Skip, format, args...) }

// passf passes it with a detail line.
func (r *rec) passf(format string, args ...any) { r.set(Pass, format, args...) }

// fact records something seen. Facts are kept in order; a key given again
// replaces its value.
func (r *rec) fact(key string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := fmt.Sprintf(format, args...)
	for i := range r.facts {
		if r.facts[i].Key == key {
			r.facts[i].Value = v
			return
		}
	}
	if len(r.facts) < maxFacts {
		r.facts = append(r.facts, Fact{Key: key, Value: v})
	}
}

// maxFacts bounds the facts of one check (a server decides how many fields
// its answers have).
const maxFacts = 32

// wireLog keeps the last lines of what was seen on the wire.
type wireLog struct {
	mu      sync.Mutex
	ring    []string
	next    int
	dropped int
}

const wireLines = 24

func newWireLog() *wireLog { return &wireLog{} }

func (w *wireLog) add(format string, args ...any) {
	if w == nil {
		return
	}
	s := fmt.Sprintf(format, args...)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ring) < wireLines {
		w.ring = append(w.ring, s)
		return
	}
	w.ring[w.next] = s
	w.next = (w.next + 1) % wireLines
	w.dropped++
}

func (w *wireLog) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	if w.dropped > 0 {
		out = append(out, fmt.Sprintf("(%d earlier lines not kept)", w.dropped))
	}
	out = append(out, w.ring[w.next:]...)
	return append(out, w.ring[:w.next]...)
}

// endpoint opens an RTMFP endpoint for the checker on a tapped socket:
// what it receives from the server's address in startup packets goes to
// the check's wire log, and the tap keeps counts. It is closed with the
// run.
func (e *env) endpoint(r *rec, cfg rtmfp.Config) (*rtmfp.Endpoint, *tap, error) {
	pc, err := e.opts.Listen(e.network())
	if err != nil {
		return nil, nil, fmt.Errorf("opening a socket: %w", err)
	}
	t := newTap(pc, &e.cur)
	prof, err := flash.New(flash.Config{})
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	cfg.Profile, cfg.Logger = prof, e.opts.Logger
	if cfg.InOrder == nil {
		cfg.InOrder = func(s *rtmfp.Session) bool { return !s.PeerMode() }
	}
	// Answers to the checker's own probes must not be held back.
	cfg.StartupRate, cfg.StartupBurst = 1000, 1000
	ep, err := rtmfp.NewEndpoint(t, cfg)
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	e.endpoints = append(e.endpoints, ep)
	return ep, t, nil
}

// dial connects a NetConnection to the server's URL on an endpoint of its
// own. It is closed with the run.
func (e *env) dial(ctx context.Context, r *rec, opts client.Options) (*client.Conn, *tap, error) {
	ep, t, err := e.endpoint(r, rtmfp.Config{})
	if err != nil {
		return nil, nil, err
	}
	opts.Endpoint, opts.Logger = ep, e.opts.Logger
	c, err := client.Dial(ctx, e.opts.URL, opts)
	if err != nil {
		return nil, t, err
	}
	e.closers = append(e.closers, func() { c.Close() })
	return c, t, nil
}

// dialFailure explains why a connection could not be made.
func (e *env) dialFailure(ctx context.Context, r *rec, t *tap, err error) {
	var se *client.StatusError
	switch {
	case errors.As(err, &se):
		r.failf("connect refused: %s", se.Status)
	case ctx.Err() != nil || isNoAnswer(err):
		r.failf("connect: no answer within %v%s", e.opts.Timeout, t.summary())
	default:
		r.failf("connect: %s%s", plain(err), t.summary())
	}
}

// localAddrs are the addresses this end announces with setPeerInfo for
// an endpoint.
func (e *env) localAddrs(ep *rtmfp.Endpoint) []netip.AddrPort {
	ap, err := netip.ParseAddrPort(ep.LocalAddr().String())
	if err != nil {
		return nil
	}
	if a := ap.Addr().Unmap(); !a.IsUnspecified() {
		return []netip.AddrPort{netip.AddrPortFrom(a, ap.Port())}
	}
	// A wildcard socket: the host's addresses of the server's family.
	var out []netip.AddrPort
	for _, a := range e.opts.LocalAddrs(ap.Port()) {
		if a.Addr().Is4() == e.server.Addr().Is4() {
			out = append(out, a)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// defaultGroupSpec is a groupspec of a group named after the run, with
// the flags of every multicast groupspec seen (server channel, multicast).
func defaultGroupSpec(name string) string {
	b := []byte{0x02, 0x7f, 0x02, 0x01, 0x01, 0x01, 0x03, 0x01, 0x0c}
	b = append(b, byte(len(name)+1), 0x0e)
	b = append(b, name...)
	b = append(b, 0x01, 0x1b, 0x00)
	return "G:" + hex.EncodeToString(b)
}
