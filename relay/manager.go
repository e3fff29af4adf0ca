package relay

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/waitgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Defaults of [Config].
const (
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 30 * time.Second
	DefaultQueueBytes   = 4 << 20
	DefaultDialTimeout  = 10 * time.Second
	DefaultDrainTimeout = 5 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Config configures a [Manager]. Zero values mean the defaults.
type Config struct {
	Logger *slog.Logger
	// Rules are applied to every published stream, in order; a stream
	// goes to the targets of every rule it matches (each URL once).
	Rules []Rule
	// MinBackoff is the wait before the first retry of a failed target;
	// it doubles with each consecutive failure up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts stops retrying a target after that many consecutive
	// failures; 0 retries for as long as the local stream is published.
	MaxAttempts int
	// QueueBytes bounds each target's queue (default 4 MiB); a target that
	// falls further behind loses whole groups of pictures.
	QueueBytes int
	// DialTimeout bounds connecting to a target and publishing there.
	DialTimeout time.Duration
	// DrainTimeout bounds the sending of what is queued for a target once
	// the local stream is unpublished.
	DrainTimeout time.Duration
	// WriteTimeout bounds each write to an RTMP target.
	WriteTimeout time.Duration
	// ServerID names this server in the relay path its connections carry
	// (see [Hops]); empty: a random ID per Manager.
	ServerID string
	// MaxHops is the longest relay path a stream may have travelled before
	// this server relays it on (default 8): beyond it, its targets are not
	// started, which bounds loops that rename the stream at each hop.
	MaxHops int
}

// Manager republishes the streams of a netstream.Server to the targets its
// rules and its OnPublish hook name. Install it with [Manager.Hooks]; set
// the hook fields before the first stream is published.
type Manager struct {
	// OnPublish, when set, is called for each published stream and
	// returns targets to add to those of the rules (the part FMS's
	// application.onPublish plays). It runs on the publisher's goroutine
	// and must return quickly.
	OnPublish func(s *netstream.Stream) []Target
	// OnUnpublish, when set, is told when a stream stops; its targets are
	// being unpublished.
	OnUnpublish func(s *netstream.Stream)
	// OnState, when set, is told of each target's state changes: state
	// StatePublishing means the target answered NetStream.Publish.Start.
	// It runs on the target's goroutine and must return quickly.
	OnState func(st TargetStatus)

	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	rules   []Rule
	active  map[*netstream.Stream][]*pusher // published streams' pushers
	all     map[*pusher]struct{}            // every running pusher, draining ones included
	closed  bool
	wg      sync.WaitGroup
	started uint64
}

// New returns a manager with cfg's rules, or an error for an invalid rule.
func New(cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = DefaultMaxHops
	}
	if cfg.ServerID == "" {
		cfg.ServerID = randomID()
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, active: map[*netstream.Stream][]*pusher{}, all: map[*pusher]struct{}{}}
	rules := cfg.Rules
	m.cfg.Rules = nil
	for _, r := range rules {
		if err := m.AddRule(r); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// CheckRules validates rules as SetRules would.
func (m *Manager) CheckRules(rules []Rule) error {
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("relay.rules[%d]: %w", i, err)
		}
	}
	return nil
}

// SetRules replaces the rules (a configuration reload); they apply to
// streams published from now on. Nothing changes when one is invalid.
func (m *Manager) SetRules(rules []Rule) error {
	if err := m.CheckRules(rules); err != nil {
		return err
	}
	cp := make([]Rule, len(rules))
	for i, r := range rules {
		r.Targets = append([]Target(nil), r.Targets...)
		cp[i] = r
	}
	m.mu.Lock()
	m.rules = cp
	m.mu.Unlock()
	return nil
}

// AddRule adds a rule; it applies to streams published from now on.
func (m *Manager) AddRule(r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.Targets = append([]Target(nil), r.Targets...)
	m.mu.Lock()
	m.rules = append(m.rules, r)
	m.mu.Unlock()
	return nil
}

// Rules returns the rules.
func (m *Manager) Rules() []Rule {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Rule(nil), m.rules...)
}

// Hooks returns next with the manager's publish and unpublish handling
// added: next.OnPublish runs first and may still refuse the stream.
func (m *Manager) Hooks(next netstream.Hooks) netstream.Hooks {
	h := next
	h.OnPublish = func(c *netstream.Conn, s *netstream.Stream) error {
		if next.OnPublish != nil {
			if err := next.OnPublish(c, s); err != nil {
				return err
			}
		}
		m.Publish(s)
		return nil
	}
	h.OnUnpublish = func(c *netstream.Conn, s *netstream.Stream) {
		m.Unpublish(s)
		if next.OnUnpublish != nil {
			next.OnUnpublish(c, s)
		}
	}
	return h
}

// Targets returns the targets of a stream: those of the matching rules,
// then those of OnPublish, each URL and mode once.
func (m *Manager) Targets(s *netstream.Stream) []Target {
	m.mu.Lock()
	rules := m.rules
	m.mu.Unlock()
	var out []Target
	seen := map[string]bool{}
	add := func(t Target) {
		if k := t.key(); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	for _, r := range rules {
		if r.Matches(s.App, s.Inst, s.Name) {
			for _, t := range r.Targets {
				add(t)
			}
		}
	}
	if m.OnPublish != nil {
		for _, t := range m.OnPublish(s) {
			add(t)
		}
	}
	return out
}

// Publish starts republishing a stream that was just published. Each
// target subscribes at once, so that nothing the publisher sends while the
// target connects is lost (up to the queue's bound).
func (m *Manager) Publish(s *netstream.Stream) {
	targets := m.Targets(s)
	m.Unpublish(s) // a stream republished without an unpublish in between
	if len(targets) == 0 {
		return
	}
	hops := m.nextHops(s)
	var ps []*pusher
	for _, t := range targets {
		rt, err := t.resolve(s.App, s.Inst, s.Name)
		if err != nil {
			m.log.Warn("relay: bad target", "app", netstream.Clip(s.App), "stream", netstream.Clip(s.Name), "err", err)
			continue
		}
		rt.hops = hops
		ps = append(ps, newPusher(m, s, rt))
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.active[s] = ps
	for _, p := range ps {
		m.all[p] = struct{}{}
		m.started++
		m.wg.Add(1)
	}
	m.mu.Unlock()
	for _, p := range ps {
		sk := p.newSink()
		sub := s.Subscribe(sk, m.cfg.QueueBytes)
		go func() {
			defer m.wg.Done()
			p.run(sub, sk)
			m.mu.Lock()
			delete(m.all, p)
			m.mu.Unlock()
		}()
	}
}

// Unpublish stops republishing a stream: each target gets what is queued
// for it, then the remote stream is unpublished.
func (m *Manager) Unpublish(s *netstream.Stream) {
	m.mu.Lock()
	ps := m.active[s]
	delete(m.active, s)
	m.mu.Unlock()
	for _, p := range ps {
		p.stopOnce.Do(func() { close(p.stop) })
	}
	if len(ps) > 0 && m.OnUnpublish != nil {
		m.OnUnpublish(s)
	}
}

// Status returns the state of every target being relayed to (or draining),
// ordered by stream and target.
func (m *Manager) Status() []TargetStatus {
	m.mu.Lock()
	ps := make([]*pusher, 0, len(m.all))
	for p := range m.all {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	out := make([]TargetStatus, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.status())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stream != out[j].Stream {
			return out[i].Stream < out[j].Stream
		}
		return out[i].Target < out[j].Target
	})
	return out
}

// Close unpublishes every target (each first sends what is queued) and
// waits for them, or until ctx ends, when the remaining connections are
// closed at once. Streams published afterwards are not relayed.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	var streams []*netstream.Stream
	for s := range m.active {
		streams = append(streams, s)
	}
	m.mu.Unlock()
	for _, s := range streams {
		m.Unpublish(s)
	}
	done := waitgroup.Done(&m.wg)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	m.mu.Lock()
	cut := len(m.all) // targets still sending (an expired ctx with none is no failure)
	for p := range m.all {
		p.kill()
	}
	m.mu.Unlock()
	<-done
	if cut == 0 {
		return nil
	}
	return fmt.Errorf("relay: close: %d targets cut short: %w", cut, ctx.Err())
}
