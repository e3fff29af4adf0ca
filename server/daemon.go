package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/cluster"
	"github.com/rtmfpd/rtmfpd/cluster/natsembed"
	"github.com/rtmfpd/rtmfpd/internal/wsconn"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/natcheck"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/httpflv"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/netstream/rtmpnc"
	"github.com/rtmfpd/rtmfpd/recorder"
	"github.com/rtmfpd/rtmfpd/relay"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmp"
	"github.com/rtmfpd/rtmfpd/vod"
)

// Daemon is a running rtmfpd.
type Daemon struct {
	cfg         Config
	log         *slog.Logger
	prof        *flash.Profile
	endpoints   []*rtmfp.Endpoint
	ns          *netstream.Server
	nc          *rtmfpnc.Server
	rtmp        *rtmpnc.Server
	relay       *relay.Manager
	rtmpAddrs   []string
	flv         *httpflv.Server  // HTTP-FLV players, nil when off
	rtmpWS      *wsconn.Listener // RTMP over WebSocket, nil when off
	httpServers []*http.Server   // the players' HTTP listeners
	httpAddrs   []string
	stop        context.CancelFunc
	intro       *introducer.Introducer
	status      *statusServer
	groups      []*serverGroup // under groupsMu: a reload replaces them
	groupsMu    sync.Mutex
	groupsOnce  sync.Once
	// groupsClosed: the shutdown left the groups; a reload joins none
	groupsClosed bool
	mcs          *mcService // AMS's multicast service
	library      *mediafile.Library
	recorder     *recorder.Recorder
	vod          *vod.Service
	memory       *budget.Pool
	sessions     *sessionLog
	cluster      *cluster.Node     // nil: a single node
	streams      *cluster.Streams  // nil: streams not shared
	nats         *natsembed.Server // the embedded NATS server, if any
	natsConn     *nats.Conn
	refusals     *refusalRing // the last refusals logged, for the dashboard
	rates        rateTracker  // streams' bitrates, for the dashboard
	started      time.Time
	wg           sync.WaitGroup

	ctx     context.Context // ends at shutdown (hooks' requests)
	cancel  context.CancelFunc
	hooks   Hooks
	ctl     *control
	source  func() (Config, error)
	cfgMu   sync.Mutex // one Reload at a time; cfg's reloadable fields
	reloads atomic.Uint64
	// listening is set once Start has made every listener (d.rtmp, d.flv
	// are then read without a lock).
	listening atomic.Bool

	nat     *natcheck.Responder             // natcheck.go
	natHook func(*netstream.Conn, []string) // natcheck.go
}

// Start opens the sockets and starts serving. It returns once everything
// listens.
func Start(cfg Config, log *slog.Logger, opts ...Option) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pol, err := compilePolicy(&cfg)
	if err != nil {
		return nil, err
	}
	prof, err := loadIdentity(cfg)
	if err != nil {
		return nil, err
	}
	refusals := &refusalRing{}
	log = slog.New(&refusalTap{next: log.Handler(), ring: refusals})
	lim := cfg.Limits.withDefaults()
	d := &Daemon{cfg: cfg, log: log, prof: prof, started: time.Now(), memory: budget.NewPool(lim.Memory), refusals: refusals}
	for _, o := range opts {
		o(d)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.sessions = newSessionLog(d)
	d.mcs = newMCService(d, cfg.MulticastService)
	rc := cfg.Relay
	d.relay, err = relay.New(relay.Config{Logger: log, Rules: rc.Rules,
		MinBackoff: time.Duration(rc.MinBackoff), MaxBackoff: time.Duration(rc.MaxBackoff), MaxAttempts: rc.MaxAttempts,
		QueueBytes: rc.QueueBytes, DialTimeout: time.Duration(rc.DialTimeout), DrainTimeout: time.Duration(rc.DrainTimeout),
		ServerID: prof.PeerID().String(), MaxHops: rc.MaxHops})
	if err != nil {
		return nil, err
	}
	d.relay.OnState = d.hooks.OnRelay
	d.ctl = newControl(d.ctx, log, pol, d.hooks, d.relay)
	ic := cfg.Introducer
	d.intro = introducer.New(introducer.Config{Logger: log, BootstrapRing: ic.BootstrapRing, BootstrapRandom: ic.BootstrapRandom,
		MaxGroups: ic.MaxGroups, MaxMembers: ic.MaxMembers, MaxGroupsPerSession: ic.MaxGroupsPerSession,
		IntroductionRate: ic.IntroductionRate, IntroductionBurst: int(2 * ic.IntroductionRate),
		ForwardRate: ic.ForwardRate, ForwardBurst: int(4 * ic.ForwardRate),
		RequirePeerInfo: ic.RequirePeerInfo, DeadPeerRedirect: ic.DeadPeerRedirect, OnJoin: d.ctl.onJoin})
	if err := d.startMedia(); err != nil {
		return nil, err
	}
	nsc := netstream.Config{Logger: log, NoMedia: cfg.NoMediaRelay,
		PlayerQueue: lim.PlayerQueue, MaxSticky: lim.StickyBytes, SlowConsumer: time.Duration(lim.SlowConsumer),
		Hooks: d.bandwidthChecker().Hooks(d.relay.Hooks(d.ctl.netstreamHooks(d.groupHooks())))}
	nsc.Hooks.OnPeerInfo = d.intro.PeerInfo // the cluster's; natHooks adds its own
	nsc.Hooks = d.natHooks(nsc.Hooks)
	if d.streams, err = d.clusterStreams(); err != nil {
		d.closeMedia()
		return nil, err
	}
	if d.streams != nil {
		nsc.Hooks = d.streams.Hooks(nsc.Hooks)
	}
	if d.recorder != nil {
		nsc.Recorder, nsc.Files = d.recorder, d.vod
	}
	if cfg.HTTP.flv() {
		nsc.GOPCache = cfg.HTTP.gopCache()
	}
	d.ns = netstream.NewServer(nsc)
	if d.streams != nil {
		d.streams.SetNetStream(d.ns)
	}
	d.nc = rtmfpnc.New(rtmfpnc.Config{NS: d.ns, Logger: log, OnConn: d.intro.AddConn,
		OnGroupFlow: d.intro.HandleGroupFlow, OnGroupMessage: d.intro.GroupMessage})
	// The cluster is joined before any packet is read, so that every
	// introduction and IHello may use it.
	if err := d.startCluster(); err != nil {
		d.close()
		return nil, err
	}
	for _, a := range cfg.RTMFP {
		ap := netip.MustParseAddrPort(a)
		network := "udp4"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "udp6"
		}
		epp := new(*rtmfp.Endpoint)
		ep, err := rtmfp.Listen(network, a, rtmfp.Config{
			Profile:           prof,
			OnIntroduction:    d.intro.Hook(epp),
			Redirect:          d.redirect,
			InOrder:           netConnectionsInOrder,
			Logger:            log,
			MaxSessions:       cfg.Session.MaxSessions,
			KeepalivePeriod:   time.Duration(cfg.Session.KeepalivePeriod),
			IdleTimeout:       time.Duration(cfg.Session.IdleTimeout),
			ReceivePace:       time.Duration(cfg.Session.ReceivePace),
			StartupRate:       cfg.Session.StartupRate,
			StartupBurst:      cfg.Session.StartupBurst,
			RetransmitLimit:   time.Duration(lim.SlowConsumer), // no acknowledged progress: a slow consumer
			Memory:            d.memory,
			PeerMemory:        lim.PeerMemory,
			SessionRecvBudget: lim.SessionReceive,
		})
		if err != nil {
			if network == "udp6" && len(cfg.RTMFP) > 1 {
				log.Warn("IPv6 RTMFP endpoint not started", "address", a, "err", err)
				continue
			}
			d.close()
			return nil, fmt.Errorf("rtmfp endpoint %s: %w", a, err)
		}
		*epp = ep
		d.endpoints = append(d.endpoints, ep)
		log.Info("RTMFP endpoint listening", "address", ep.LocalAddr().String())
	}
	if d.cluster != nil {
		d.cluster.Advertise(d.prof.PeerID(), d.advertised())
	}
	// The groups are joined before any session or publication is accepted.
	if len(cfg.Groups) > 0 && len(d.endpoints) == 0 {
		d.close()
		return nil, errors.New("groups need an RTMFP endpoint")
	}
	if err := d.startGroups(); err != nil {
		d.close()
		return nil, err
	}
	d.announceGroups()
	if err := d.startNATCheck(); err != nil {
		d.close()
		return nil, err
	}
	for _, ep := range d.endpoints {
		ep.OnAccept(d.accepted)
	}
	if err := d.startRTMP(); err != nil {
		d.close()
		return nil, err
	}
	if len(d.endpoints) == 0 && len(d.rtmpAddrs) == 0 {
		d.close()
		return nil, errors.New("no RTMFP endpoint or RTMP listener could be opened")
	}
	if cfg.Status != "" && cfg.Status != "off" {
		st, err := d.startStatus(cfg.Status)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("status endpoint %s: %w", cfg.Status, err)
		}
		d.status = st
		log.Info("status endpoint listening", "address", "http://"+st.addr+"/status")
	}
	d.listening.Store(true)
	log.Info("rtmfpd started", "peerID", prof.PeerID().String())
	return d, nil
}

// startRTMP opens the RTMP listeners and serves them.
func (d *Daemon) startRTMP() error {
	cfg := d.cfg
	o := cfg.RTMPOptions
	lim := cfg.Limits.withDefaults()
	d.rtmp = rtmpnc.New(rtmpnc.Config{NS: d.ns, Logger: d.log, MaxConns: o.MaxConns,
		ConnectTimeout: time.Duration(o.ConnectTimeout), Memory: d.memory, PeerMemory: lim.PeerMemory,
		RTMP: &rtmp.Config{HandshakeTimeout: time.Duration(o.HandshakeTimeout), ReadTimeout: time.Duration(o.ReadTimeout),
			WriteTimeout: time.Duration(o.WriteTimeout), ChunkSize: o.ChunkSize, MaxMessageSize: o.MaxMessageSize,
			MaxReassemblyBytes: lim.RTMPUnfinished}})
	ctx, stop := context.WithCancel(context.Background())
	d.stop = stop
	addrs := cfg.RTMPAddrs()
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		network := "tcp4"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "tcp6"
		}
		l, err := net.Listen(network, a)
		if err != nil {
			if network == "tcp6" && len(addrs) > 1 {
				d.log.Warn("IPv6 RTMP listener not started", "address", a, "err", err)
				continue
			}
			return fmt.Errorf("rtmp listener %s: %w", a, err)
		}
		d.rtmpAddrs = append(d.rtmpAddrs, l.Addr().String())
		d.log.Info("RTMP listening", "address", l.Addr().String())
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.rtmp.Serve(ctx, l)
		}()
	}
	return d.startHTTPMedia(ctx)
}

// Relay returns the relay manager: add rules, or set its OnPublish hook
// before streams are published.
func (d *Daemon) Relay() *relay.Manager { return d.relay }

// RTMPAddrs returns the addresses the RTMP listeners listen on.
func (d *Daemon) RTMPAddrs() []string { return d.rtmpAddrs }

// Endpoints returns the RTMFP endpoints.
func (d *Daemon) Endpoints() []*rtmfp.Endpoint { return d.endpoints }

// PeerID is the server's RTMFP peer ID.
func (d *Daemon) PeerID() string { return d.prof.PeerID().String() }

// accepted starts serving a session a far end opened. It runs on the
// endpoint's goroutine that opened it (rtmfp.Endpoint.OnAccept) and does
// not block.
func (d *Daemon) accepted(s *rtmfp.Session) {
	d.log.Debug("session opened", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "proto", "rtmfp", "p2p", s.PeerMode())
	if !d.sessions.follow(s) {
		return
	}
	if d.cluster != nil {
		d.cluster.SessionOpened(s.RemoteAddr())
	}
	if s.PeerMode() {
		// A NetGroup neighbour of the server's own group membership
		// (configured groups); without one the session is closed.
		if !d.inGroups() {
			d.log.Info("P2P session refused", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "proto", "rtmfp",
				"reason", "the server is a member of no group")
			s.Close()
		} else {
			netgroup.HandleSession(s)
		}
		s.OnDone(func() { d.sessions.ended(s) })
		return
	}
	// No goroutine of its own while the NetConnection is idle.
	d.nc.Start(s, func() { d.sessions.ended(s) })
}

// Introducer returns the introducer and group membership server.
func (d *Daemon) Introducer() *introducer.Introducer { return d.intro }

// NetStream returns the NetConnection/NetStream server.
func (d *Daemon) NetStream() *netstream.Server { return d.ns }

// Shutdown stops the server: it leaves the groups, closes every RTMFP
// session with the close exchange and every RTMP connection after what is
// queued for it, then lets the relay send what local publishers left.
// Sessions and connections get three quarters of ctx's time and the relay
// the rest, so that the relay never starts with an expired context.
//
// A far end that does not answer is normal (a client that vanished, a
// target that is down): sessions silent since the shutdown began are
// abandoned after a second or so, and whatever still runs when its share
// of the time is up is cut short; both are logged, neither is an error.
// The error is for what really failed, such as closing a socket.
func (d *Daemon) Shutdown(ctx context.Context) error {
	start := time.Now()
	d.sessions.shutdown.Store(true)
	var errs []error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// Leave the groups first: neighbours hear it while sessions are up.
	d.closeGroups()
	d.drainCluster(ctx)
	cctx, cancel := connectionsContext(ctx)
	defer cancel()
	var rtmpCut, epCut atomic.Bool
	var wg sync.WaitGroup
	if d.rtmp != nil {
		wg.Go(func() {
			switch err := d.rtmp.Shutdown(cctx); {
			case err == nil:
			case cctx.Err() != nil:
				rtmpCut.Store(true)
			default:
				fail(fmt.Errorf("rtmp: %w", err))
			}
		})
	}
	wg.Go(func() {
		if err := d.shutdownHTTPMedia(cctx); err != nil && cctx.Err() == nil {
			fail(fmt.Errorf("http: %w", err))
		}
	})
	for _, ep := range d.endpoints {
		wg.Go(func() {
			switch err := ep.Shutdown(cctx); {
			case err == nil:
			case cctx.Err() != nil:
				epCut.Store(true)
			default:
				fail(fmt.Errorf("rtmfp endpoint %s: %w", ep.LocalAddr(), err))
			}
		})
	}
	wg.Wait()
	d.sessions.stopWaiting()
	if rtmpCut.Load() {
		d.log.Warn("shutdown: RTMP connections that had not sent their queues in time were closed")
	}
	if d.stop != nil {
		d.stop()
	}
	d.wg.Wait()
	// The local publishers are gone: their streams' targets are being
	// unpublished.
	relayCut := false
	if err := d.relay.Close(ctx); err != nil {
		if ctx.Err() == nil {
			fail(err)
		} else {
			relayCut = true
			d.log.Warn("shutdown: relay targets that had not sent their queues in time were closed", "err", err)
		}
	}
	d.closeMedia()
	d.stopCluster()
	if err := d.ctl.http.Close(ctx); err != nil {
		d.log.Warn("shutdown: HTTP callback reports left unsent", "err", err)
	}
	d.cancel()
	if d.status != nil {
		d.status.close()
	}
	d.closeNATCheck()
	d.log.Info("shutdown complete", "duration", time.Since(start).Round(time.Millisecond),
		"sessions", d.sessions.closed.Load(), "abandoned", d.sessions.dropped.Load(),
		"cutShort", epCut.Load() || rtmpCut.Load() || relayCut)
	return errors.Join(errs...)
}

// connectionsContext is the part of ctx's time given to sessions and
// connections: three quarters of what is left (all of it without a
// deadline).
func connectionsContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(dl)*3/4))
}

func (d *Daemon) close() {
	defer d.closeMedia()
	d.cancel()
	d.ctl.http.Close(context.Background())
	d.closeGroups()
	d.stopCluster()
	d.closeNATCheck()
	for _, ep := range d.endpoints {
		ep.Close()
	}
	if d.stop != nil {
		d.stop()
	}
	if d.rtmp != nil {
		d.rtmp.Shutdown(context.Background())
	}
	d.shutdownHTTPMedia(context.Background())
	d.wg.Wait()
}

// loadIdentity returns the server's Flash profile, keeping its static key
// in cfg.IdentityFile when one is configured.
func loadIdentity(cfg Config) (*flash.Profile, error) {
	fc := flash.Config{ExponentBits: cfg.Session.ExponentBits}
	if cfg.IdentityFile != "" {
		b, err := os.ReadFile(cfg.IdentityFile)
		switch {
		case err == nil:
			fc.StaticPrivateKey = b
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("identity file: %w", err)
		}
	}
	p, err := flash.New(fc)
	if err != nil {
		return nil, err
	}
	if cfg.IdentityFile != "" && fc.StaticPrivateKey == nil {
		if err := os.WriteFile(cfg.IdentityFile, p.StaticPrivateKey(), 0o600); err != nil {
			return nil, fmt.Errorf("identity file: %w", err)
		}
	}
	return p, nil
}

// netConnectionsInOrder reads the sessions of NetConnections (clients that
// connected to the server's URL) in arrival order across flows, as Flash
// servers do; P2P sessions (NetGroup neighbours) are read flow by flow.
func netConnectionsInOrder(s *rtmfp.Session) bool { return !s.PeerMode() }
