package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/recorder"
	"github.com/rtmfpd/rtmfpd/relay"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/server/access"
	"github.com/rtmfpd/rtmfpd/server/httphook"
)

// control decides who may connect, publish, play and join groups: the
// access rules of the current policy, then the HTTP callbacks, then the Go
// hooks. It sits on the netstream and introducer hooks.
type control struct {
	ctx   context.Context // ends with the server
	log   *slog.Logger
	pol   atomic.Pointer[policy]
	http  *httphook.Client
	hooks Hooks
	relay *relay.Manager
	now   func() time.Time

	mu    sync.Mutex
	conns map[*netstream.Conn]*connState
}

// connState is what control keeps of a connection.
type connState struct {
	claims  *access.Claims // the token of the connect, verified
	started map[string]time.Time
	relayTo map[string][]relay.Target // Event.Republish targets by stream name
}

func newControl(ctx context.Context, log *slog.Logger, pol *policy, hooks Hooks, rm *relay.Manager) *control {
	ct := &control{ctx: ctx, log: log, http: httphook.New(log, 0), hooks: hooks, relay: rm, now: time.Now,
		conns: map[*netstream.Conn]*connState{}}
	ct.pol.Store(pol)
	rm.OnPublish = ct.republishTargets
	return ct
}

// netstreamHooks are control's part of the netstream server's hooks; next
// is told of publishes that were accepted.
func (ct *control) netstreamHooks(next netstream.Hooks) netstream.Hooks {
	h := next
	h.OnConnect = ct.onConnect
	h.OnDisconnect = func(c *netstream.Conn) {
		ct.mu.Lock()
		delete(ct.conns, c)
		ct.mu.Unlock()
		if next.OnDisconnect != nil {
			next.OnDisconnect(c)
		}
	}
	h.CheckPublish = func(c *netstream.Conn, req *netstream.StreamRequest) error {
		if err := ct.checkPublish(c, req); err != nil {
			return err
		}
		if next.CheckPublish != nil {
			return next.CheckPublish(c, req)
		}
		return nil
	}
	h.CheckPlay = ct.checkPlay
	h.OnUnpublish = func(c *netstream.Conn, s *netstream.Stream) {
		ct.onUnpublish(c, s)
		if next.OnUnpublish != nil {
			next.OnUnpublish(c, s)
		}
	}
	h.OnPlayStop = ct.onPlayStop
	return h
}

func (ct *control) state(c *netstream.Conn) *connState {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	st := ct.conns[c]
	if st == nil {
		st = &connState{started: map[string]time.Time{}, relayTo: map[string][]relay.Target{}}
		ct.conns[c] = st
	}
	return st
}

func remoteAddr(c *netstream.Conn) netip.Addr {
	ap, _ := netip.ParseAddrPort(c.Transport().RemoteAddr())
	return ap.Addr()
}

// resolveApp applies defaultApp and appKey to a connect.
func (p *policy) resolveApp(info *netstream.ConnectInfo) {
	if p.appKeyQuery {
		key := info.Query.Get("appKey")
		if key == "" {
			key = connectField(info, "appKey")
		}
		if key != "" {
			info.App, info.Instance = key, netstream.DefaultInstance
			return
		}
		info.App, info.Instance = p.defaultApp, netstream.DefaultInstance
		return
	}
	if p.defaultApp != "" && (info.App == "" || p.lookup(info.App) == nil) {
		info.App, info.Instance = p.defaultApp, netstream.DefaultInstance
	}
}

// connectToken is the token a connect carries: in the URL's query, the
// connect object's token field, or a connect argument (a string, or an
// object's token field).
func connectToken(info *netstream.ConnectInfo) string {
	if t := info.Query.Get("token"); t != "" {
		return t
	}
	if t := connectField(info, "token"); t != "" {
		return t
	}
	for _, a := range info.Args {
		if s, ok := a.(string); ok {
			return s
		}
	}
	return ""
}

func (ct *control) onConnect(c *netstream.Conn, info *netstream.ConnectInfo) error {
	pol := ct.pol.Load()
	pol.resolveApp(info)
	ap := pol.lookup(info.App)
	if ap == nil {
		return &netstream.Refusal{Code: netstream.ConnectInvalidApp, Description: fmt.Sprintf("application %q is not served here", info.App)}
	}
	if err := ap.connect.CheckAddr(remoteAddr(c)); err != nil {
		return err
	}
	var claims *access.Claims
	if tok := connectToken(info); tok != "" && len(pol.secrets) > 0 {
		cl, err := access.Verify(pol.secrets, tok, ct.now())
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		if err := cl.AllowsApp(info.App); err != nil {
			return fmt.Errorf("token: %w", err)
		}
		claims = &cl
	} else if ap.connect.Token {
		return errors.New("a token is required to connect")
	}
	e := newEvent("connect", c, info)
	if d := ct.decide(ap.hooks.OnConnect, ct.hooks.OnConnect, e); d.deny || d.redirect != "" {
		return &netstream.Refusal{Description: d.reason, Redirect: d.redirect}
	}
	ct.state(c).claims = claims
	return nil
}

// decide asks the HTTP callback h (when configured), then the Go hook g
// (when set, and the callback allowed).
func (ct *control) decide(h *HookConfig, g func(context.Context, *Event) Decision, e *Event) Decision {
	if h != nil {
		a, err := ct.http.Ask(ct.ctx, h.hook(), "on"+upperFirst(e.Call), e)
		switch {
		case err != nil && h.FailOpen:
			ct.log.Warn("hook failed; allowed", "hook", "on"+upperFirst(e.Call), "session", e.Session, "app", e.App, "stream", e.Stream, "err", err)
		case err != nil:
			ct.log.Warn("hook failed; refused", "hook", "on"+upperFirst(e.Call), "session", e.Session, "app", e.App, "stream", e.Stream, "err", err)
			return Deny("on" + upperFirst(e.Call) + " did not answer")
		case !a.Allow:
			return Deny(a.Description)
		case a.Redirect != "":
			return Redirect(a.Redirect)
		}
	}
	if g != nil {
		return g(ct.ctx, e)
	}
	return Allow()
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// checkStream applies an application's rule, the token and the hooks to a
// publish or a play.
func (ct *control) checkStream(c *netstream.Conn, req *netstream.StreamRequest, act string) error {
	info := c.Info()
	pol := ct.pol.Load()
	ap := pol.lookup(info.App)
	if ap == nil {
		return fmt.Errorf("application %q is no longer served", info.App)
	}
	rule, h, g := ap.publish, ap.hooks.OnPublish, ct.hooks.OnPublish
	if act == access.ActPlay {
		rule, h, g = ap.play, ap.hooks.OnPlay, ct.hooks.OnPlay
	}
	if err := rule.CheckAddr(remoteAddr(c)); err != nil {
		return err
	}
	st := ct.state(c)
	claims := st.claims
	if tok := req.Query.Get("token"); tok != "" && len(pol.secrets) > 0 {
		cl, err := access.Verify(pol.secrets, tok, ct.now())
		if err != nil {
			return fmt.Errorf("token: %w", err)
		}
		claims = &cl
	}
	if rule.Token {
		if claims == nil {
			return fmt.Errorf("a token is required to %s", act)
		}
		if time.Unix(claims.Exp, 0).Before(ct.now()) {
			return fmt.Errorf("token: %w", access.ErrExpired)
		}
		if err := claims.Allows(info.App, req.Name, act); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	e := newEvent(act, c, &info)
	e.Stream, e.Mode = req.Name, req.Mode
	q := e.Query
	e.Query = nil
	e.addQuery(req.Query)
	for k, v := range q {
		e.addQuery(url.Values{k: {v}})
	}
	d := ct.decide(h, g, e)
	if d.deny {
		return errors.New(d.reason)
	}
	if d.redirect != "" {
		req.Name = d.redirect
	}
	ct.mu.Lock()
	st.started[act+"/"+req.Name] = ct.now()
	if len(e.relayTo) > 0 {
		st.relayTo[req.Name] = e.relayTo
	}
	ct.mu.Unlock()
	return nil
}

func (ct *control) checkPublish(c *netstream.Conn, req *netstream.StreamRequest) error {
	info := c.Info()
	if err := ct.relay.CheckLoop(info, info.App, info.Instance, req.Name); err != nil {
		return err
	}
	return ct.checkStream(c, req, access.ActPublish)
}

func (ct *control) checkPlay(c *netstream.Conn, req *netstream.StreamRequest) error {
	return ct.checkStream(c, req, access.ActPlay)
}

// ended reports the end of a publish or a play: the HTTP report, and for
// a publish the Go hook.
func (ct *control) ended(c *netstream.Conn, act, name string, s *netstream.Stream) {
	info := c.Info()
	ap := ct.pol.Load().lookup(info.App)
	ct.mu.Lock()
	var since time.Time
	if st := ct.conns[c]; st != nil {
		since = st.started[act+"/"+name]
		delete(st.started, act+"/"+name)
		delete(st.relayTo, name)
	}
	ct.mu.Unlock()
	e := newEvent(act+"Done", c, &info)
	e.Stream, e.NetStream = name, s
	if !since.IsZero() {
		e.Duration = ct.now().Sub(since).Seconds()
	}
	h := (*HookConfig)(nil)
	if ap != nil {
		h = ap.hooks.OnPlayDone
		if act == access.ActPublish {
			h = ap.hooks.OnPublishDone
		}
	}
	if h != nil {
		ct.http.Notify(h.hook(), "on"+upperFirst(e.Call), e)
	}
	if act == access.ActPublish && ct.hooks.OnUnpublish != nil {
		ct.hooks.OnUnpublish(e)
	}
}

func (ct *control) onUnpublish(c *netstream.Conn, s *netstream.Stream) {
	ct.ended(c, access.ActPublish, s.Name, s)
}

func (ct *control) onPlayStop(c *netstream.Conn, name string) {
	ct.ended(c, access.ActPlay, name, nil)
}

// republishTargets is the relay manager's OnPublish: the targets the Go
// OnPublish hook named with Event.Republish.
func (ct *control) republishTargets(s *netstream.Stream) []relay.Target {
	c, ok := netstream.ConnOf(s.Publisher())
	if !ok {
		return nil
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if st := ct.conns[c]; st != nil {
		return st.relayTo[s.Name]
	}
	return nil
}

// onJoin is the introducer's OnJoin: the hooks of the client's
// application decide.
func (ct *control) onJoin(c *netstream.Conn, s *rtmfp.Session, id group.GroupID) error {
	if c == nil {
		// A session that has not connected: only the hooks could say no.
		if ct.hooks.OnGroupJoin == nil && !ct.pol.Load().groupJoinHooked() {
			return nil
		}
		return errors.New("connect first")
	}
	info := c.Info()
	ap := ct.pol.Load().lookup(info.App)
	if ap == nil {
		return fmt.Errorf("application %q is no longer served", info.App)
	}
	e := newEvent("groupJoin", c, &info)
	e.Group = id.String()
	if d := ct.decide(ap.hooks.OnGroupJoin, ct.hooks.OnGroupJoin, e); d.deny || d.redirect != "" {
		if d.reason == "" {
			d.reason = "group join refused"
		}
		return errors.New(d.reason)
	}
	return nil
}

// recordDone reports a finished recording to the application's
// onRecordDone callback (the recorder's OnRecordDone).
func (ct *control) recordDone(dn recorder.Done) {
	ap := ct.pol.Load().lookup(dn.App)
	if ap == nil || ap.hooks.OnRecordDone == nil {
		return
	}
	e := &Event{Call: "recordDone", App: dn.App, Instance: dn.Instance, Stream: dn.Stream, Mode: dn.Mode,
		Path: dn.Path, Duration: dn.Duration.Seconds(), File: dn.Name, Bytes: dn.Bytes}
	if dn.Err != nil {
		e.Error = dn.Err.Error()
	}
	ct.http.Notify(ap.hooks.OnRecordDone.hook(), "onRecordDone", e)
}
