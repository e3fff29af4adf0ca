package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/cluster/registry"
	"github.com/rtmfpd/rtmfpd/cluster/trunk"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// StreamsConfig configures the sharing of streams between nodes.
type StreamsConfig struct {
	// NetStream is the node's stream server (required; or SetNetStream).
	NetStream *netstream.Server
	// Listen is the trunk's UDP address; Advertise the address other
	// nodes dial (default: Listen's, when it names a host).
	Listen, Advertise string
	// Identity proves this node on the trunks (required).
	Identity *trunk.Identity
	// QueueBytes bounds what waits on the origin for one pulling node
	// (default 4 MiB): a slow trunk stream drops whole GOPs.
	QueueBytes int
	// Linger is how long a pull outlives its last player, so that a
	// player coming back at once reuses it (default 2 s).
	Linger time.Duration
	// Logger: one line per pull started and ended.
	Logger *slog.Logger
	// Feed, when set, is asked about each stream another node starts
	// (origin, key): true pulls it at once, with no player here, for
	// OnCopy to use (the server publishing it into a group).
	Feed func(origin, key string) bool
	// OnCopy is told when a pulled copy starts (its publisher is the
	// pull), OnCopyEnd when it stops.
	OnCopy, OnCopyEnd func(st *netstream.Stream)
}

// Streams shares the nodes' streams: a stream published on one node (its
// origin, in the registry) is played on any other, which pulls it over a
// QUIC trunk when its first player asks for it and publishes the copy
// locally; the pull ends when its last player left (after Linger) or the
// origin's publisher stopped. Copies are never announced nor served to
// other nodes: every node pulls from the origin.
type Streams struct {
	cfg StreamsConfig
	log *slog.Logger
	ns  *netstream.Server
	tr  *trunk.Trunk
	adv string
	n   *Node

	mu     sync.Mutex
	pulls  map[string]*pull
	closed bool
	wg     sync.WaitGroup
}

// pull is a stream this node copies from its origin; it is the copy's
// publisher.
type pull struct {
	key, origin string
	cancel      context.CancelFunc
	since       time.Time
	messages    atomic.Uint64
	bytes       atomic.Uint64
	state       atomic.Value // string
}

// PublisherName describes the copy's publisher.
func (p *pull) PublisherName() string { return "cluster:" + p.origin }

// NewStreams opens the trunk.
func NewStreams(cfg StreamsConfig) (*Streams, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = 4 << 20
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 2 * time.Second
	}
	if cfg.Identity == nil {
		return nil, errors.New("cluster: streams need an identity")
	}
	s := &Streams{cfg: cfg, log: cfg.Logger, ns: cfg.NetStream, pulls: map[string]*pull{}}
	return s, nil
}

// SetNetStream gives the stream server, when it is made after the
// Streams (its hooks come from Hooks).
func (s *Streams) SetNetStream(ns *netstream.Server) { s.ns = ns }

// start opens the trunk once the node's registry runs.
func (s *Streams) start(n *Node) error {
	if s.ns == nil {
		return errors.New("cluster: streams need a stream server")
	}
	s.n = n
	tr, err := trunk.Listen(trunk.Config{Node: n.cfg.Name, Listen: s.cfg.Listen, Identity: s.cfg.Identity, Logger: s.log,
		Nodes: func() []string {
			var out []string
			for _, i := range n.reg.Nodes() {
				out = append(out, i.Name)
			}
			return out
		},
		Fingerprint: func(node string) string {
			i, _ := n.reg.NodeInfo(node)
			return i.TrunkCert
		},
		Known: func(node string) bool {
			_, ok := n.reg.NodeInfo(node)
			return ok
		},
		Serve: s.serve})
	if err != nil {
		return err
	}
	s.tr = tr
	s.adv = s.cfg.Advertise
	if s.adv == "" {
		if ua, ok := tr.Addr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
			s.adv = ua.String()
		}
	}
	fp := ""
	if s.cfg.Identity.Generated() {
		fp = s.cfg.Identity.Fingerprint()
	}
	n.reg.SetInfo(func(i *registry.NodeInfo) { i.Trunk, i.TrunkCert = s.adv, fp })
	n.log.Info("cluster: trunk listening", "address", tr.Addr().String(), "advertise", s.adv, "generatedCertificate", fp != "")
	return nil
}

// Trunk returns the node's trunk.
func (s *Streams) Trunk() *trunk.Trunk { return s.tr }

func (s *Streams) close() {
	s.mu.Lock()
	s.closed = true
	for _, p := range s.pulls {
		p.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.tr != nil {
		s.tr.Close()
	}
}

// Hooks adds the cluster's part to the stream server's hooks: local
// publications are announced, plays of streams published elsewhere are
// pulled.
func (s *Streams) Hooks(next netstream.Hooks) netstream.Hooks {
	h := next
	h.OnPublish = func(c *netstream.Conn, st *netstream.Stream) error {
		if next.OnPublish != nil {
			if err := next.OnPublish(c, st); err != nil {
				return err
			}
		}
		if s.n != nil {
			s.n.reg.StreamUp(st.Key())
		}
		return nil
	}
	h.OnUnpublish = func(c *netstream.Conn, st *netstream.Stream) {
		if s.n != nil {
			s.n.reg.StreamDown(st.Key())
		}
		if next.OnUnpublish != nil {
			next.OnUnpublish(c, st)
		}
	}
	h.CheckPlay = func(c *netstream.Conn, req *netstream.StreamRequest) error {
		if next.CheckPlay != nil {
			if err := next.CheckPlay(c, req); err != nil {
				return err
			}
		}
		info := c.Info()
		s.want(info.App + "/" + info.Instance + "/" + req.Name)
		return nil
	}
	h.OnPlayStop = func(c *netstream.Conn, name string) {
		if next.OnPlayStop != nil {
			next.OnPlayStop(c, name)
		}
		info := c.Info()
		key := info.App + "/" + info.Instance + "/" + name
		time.AfterFunc(s.cfg.Linger, func() { s.release(key) })
	}
	return h
}

// want starts pulling key if it is published on another node and not
// here.
func (s *Streams) want(key string) {
	if s.n == nil {
		return
	}
	if st, ok := s.ns.Registry.LookupKey(key); ok && st.Publisher() != nil {
		return // published here, or pulled already
	}
	origin, ok := s.n.reg.StreamOrigin(key)
	if !ok {
		return // a player waiting: the origin's announce will start the pull
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.pulls[key] != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pull{key: key, origin: origin, cancel: cancel, since: time.Now()}
	p.state.Store("connecting")
	s.pulls[key] = p
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx, p)
		s.mu.Lock()
		if s.pulls[key] == p {
			delete(s.pulls, key)
		}
		s.mu.Unlock()
		cancel()
	}()
}

// release ends a pull that has no player left.
func (s *Streams) release(key string) {
	st, ok := s.ns.Registry.LookupKey(key)
	if ok && st.Subscribers() > 0 {
		return
	}
	s.mu.Lock()
	p := s.pulls[key]
	s.mu.Unlock()
	if p != nil {
		p.cancel()
	}
}

// players reports whether key has local players.
func (s *Streams) players(key string) bool {
	st, ok := s.ns.Registry.LookupKey(key)
	return ok && st.Subscribers() > 0
}

// run pulls a stream from its origin and publishes the copy, until the
// origin's publisher stops, the pull is released, or the origin is gone.
// A trunk that fails is dialed again (backoff 100 ms doubling to 2 s).
func (s *Streams) run(ctx context.Context, p *pull) {
	app, inst, name, ok := splitKey(p.key)
	if !ok {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		info, ok := s.n.reg.NodeInfo(p.origin)
		if o, announced := s.n.reg.StreamOrigin(p.key); !ok || !announced || o != p.origin || info.Trunk == "" {
			return // the origin stopped publishing or left
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := s.tr.Pull(dctx, p.origin, info.Trunk, p.key)
		cancel()
		if errors.Is(err, trunk.ErrNotFound) {
			return
		}
		if err != nil {
			p.state.Store("retrying")
			s.log.Info("cluster: pull failed", "stream", p.key, "origin", p.origin, "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		st, err := s.ns.Registry.Publish(app, inst, name, p)
		if err != nil {
			r.Close() // published here meanwhile
			return
		}
		p.state.Store("pulling")
		s.log.Info("cluster: pulling", "stream", p.key, "origin", p.origin)
		if s.cfg.OnCopy != nil {
			s.cfg.OnCopy(st)
		}
		stop := context.AfterFunc(ctx, r.Close)
		var m media.Message
		for {
			if m, err = r.Read(); err != nil {
				break
			}
			p.messages.Add(1)
			p.bytes.Add(uint64(len(m.Payload)))
			st.Write(p, m)
		}
		stop()
		r.Close()
		s.ns.Registry.Unpublish(st, p)
		if s.cfg.OnCopyEnd != nil {
			s.cfg.OnCopyEnd(st)
		}
		s.log.Info("cluster: pull ended", "stream", p.key, "origin", p.origin, "messages", p.messages.Load(), "reason", s.pullEnd(ctx, err))
		if errors.Is(err, trunk.ErrEnd) || ctx.Err() != nil || !s.players(p.key) {
			return
		}
		backoff = 100 * time.Millisecond
	}
}

func (s *Streams) pullEnd(ctx context.Context, err error) string {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return "node stopping"
	case ctx.Err() != nil:
		return "no player left"
	case errors.Is(err, trunk.ErrEnd):
		return "unpublished on the origin"
	}
	return err.Error()
}

// splitKey splits app/instance/name (the name may hold '/').
func splitKey(key string) (app, inst, name string, ok bool) {
	app, rest, ok1 := strings.Cut(key, "/")
	inst, name, ok2 := strings.Cut(rest, "/")
	return app, inst, name, ok1 && ok2 && app != "" && inst != "" && name != ""
}

// serve answers another node's pull of a stream published here.
func (s *Streams) serve(from, key string, w *trunk.Writer) error {
	st, ok := s.ns.Registry.LookupKey(key)
	if !ok {
		return trunk.ErrNotFound
	}
	ended := make(chan struct{})
	var once sync.Once
	l := &endListener{fn: func() { once.Do(func() { close(ended) }) }}
	unlisten := st.Listen(l)
	defer unlisten()
	pub := st.Publisher()
	if _, copied := pub.(*pull); pub == nil || copied {
		return trunk.ErrNotFound
	}
	if err := w.Start(); err != nil {
		return err
	}
	sub := st.Subscribe(w, s.cfg.QueueBytes)
	defer sub.Close()
	l.mu.Lock()
	l.sub = sub
	l.mu.Unlock()
	s.log.Info("cluster: serving a pull", "stream", key, "node", from)
	select {
	case <-ended:
		return nil
	case <-sub.Done():
		return errors.New("the puller left")
	case <-w.Done():
		return errors.New("the puller left")
	}
}

// endListener reports the end of the origin's publication once the media
// queued before it have been sent.
type endListener struct {
	fn  func()
	mu  sync.Mutex
	sub *netstream.Subscription
}

func (l *endListener) PublishStarted(*netstream.Stream) {}

func (l *endListener) PublishStopped(*netstream.Stream) {
	l.mu.Lock()
	sub := l.sub
	l.mu.Unlock()
	if sub == nil {
		l.fn()
		return
	}
	sub.After(l.fn)
}

// nodeGone ends the pulls from a node that left.
func (s *Streams) nodeGone(name string) {
	if s.tr != nil {
		s.tr.Drop(name)
	}
}

// remoteStream starts pulling a stream another node started, when players
// wait for it here.
func (s *Streams) remoteStream(node, key string, up bool) {
	if up && (s.players(key) || s.cfg.Feed != nil && s.cfg.Feed(node, key)) {
		s.want(key)
	}
}

// PullStats describes one pulled stream.
type PullStats struct {
	Stream   string    `json:"stream"`
	Origin   string    `json:"origin"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Messages uint64    `json:"messages"`
	Bytes    uint64    `json:"bytes"`
}

// Pulls lists the streams pulled from other nodes.
func (s *Streams) Pulls() []PullStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PullStats, 0, len(s.pulls))
	for _, p := range s.pulls {
		st, _ := p.state.Load().(string)
		out = append(out, PullStats{Stream: p.key, Origin: p.origin, State: st, Since: p.since, Messages: p.messages.Load(), Bytes: p.bytes.Load()})
	}
	return out
}
