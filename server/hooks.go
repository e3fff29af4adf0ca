package server

import (
	"context"
	"net/url"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/relay"
)

// Event describes a connect, publish, play or group join (and their
// ends) to a hook: the Go hooks get it as it is, the HTTP callbacks as
// their JSON body. Its keys are those of the log (README "Logs").
type Event struct {
	// Call is the hook: connect, publish, publishDone, play, playDone,
	// recordDone or groupJoin.
	Call string `json:"call"`
	// Session is the client (its peer ID for RTMFP, rtmp-N for RTMP);
	// Remote its address (ip:port); Proto rtmfp or rtmp.
	Session string `json:"session"`
	Remote  string `json:"remote"`
	Proto   string `json:"proto"`
	// App and Instance are the application and its instance.
	App      string `json:"app"`
	Instance string `json:"instance"`
	// Stream is the stream name (without its query); Mode publish's type.
	Stream string `json:"stream,omitempty"`
	Mode   string `json:"mode,omitempty"`
	// Query holds the query parameters: the stream name's, then the
	// connection URL's (first value of each).
	Query map[string]string `json:"query,omitempty"`
	// Connect holds the connect command object's fields with a string,
	// number or boolean value (tcUrl, flashVer, login, appKey, ...).
	Connect map[string]any `json:"connect,omitempty"`
	// Group is the group ID (hex) of a group join.
	Group string `json:"group,omitempty"`
	// Duration is how long a stream was published or played, in seconds
	// (the "done" calls).
	Duration float64 `json:"duration,omitempty"`
	// Path is the file of recordDone, File its stream name ("cam",
	// "mp4:cam.mp4"), Bytes its size; Error why the recording ended early
	// (a quota, a write error).
	Path  string `json:"path,omitempty"`
	File  string `json:"file,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
	Error string `json:"error,omitempty"`

	// Conn is the client's NetConnection (nil in recordDone); not sent.
	Conn *netstream.Conn `json:"-"`
	// NetStream is the stream that was published (publishDone); not sent.
	NetStream *netstream.Stream `json:"-"`

	relayTo []relay.Target
}

// Republish, in an OnPublish hook that allows, republishes the stream to
// targets besides those of the relay rules, as FMS's application.onPublish
// did with a NetStream of its own; they are unpublished with it. Relay
// target states reach Hooks.OnRelay.
func (e *Event) Republish(targets ...relay.Target) { e.relayTo = append(e.relayTo, targets...) }

// Decision is a hook's answer: allow, deny or redirect.
type Decision struct {
	deny     bool
	reason   string
	redirect string
}

// Allow lets the client go on.
func Allow() Decision { return Decision{} }

// Deny refuses, telling the client reason (the description of
// NetConnection.Connect.Rejected, NetStream.Publish.Failed or
// NetStream.Play.Failed).
func Deny(reason string) Decision { return Decision{deny: true, reason: reason} }

// Redirect sends the client elsewhere: for a connect, to the URL to (in
// NetConnection.Connect.Rejected's ex.redirect, as FMS's
// application.redirectConnection did); for a publish or a play, to the
// stream named to in the same application instance. A group join cannot
// be redirected: it is denied.
func Redirect(to string) Decision { return Decision{redirect: to} }

// Denied reports whether d refuses, and why.
func (d Decision) Denied() (bool, string) { return d.deny, d.reason }

// RedirectTo returns where d redirects, or "".
func (d Decision) RedirectTo() string { return d.redirect }

// Hooks are an embedding program's say over its clients, in the manner of
// FMS's server-side application.onConnect, onPublish, onUnpublish and
// onPlay. They run after the access rules and the HTTP callbacks, on the
// client's goroutine: a slow hook holds that client (only). ctx ends with
// the server. Each may be nil.
type Hooks struct {
	OnConnect   func(ctx context.Context, e *Event) Decision
	OnPublish   func(ctx context.Context, e *Event) Decision
	OnUnpublish func(e *Event)
	OnPlay      func(ctx context.Context, e *Event) Decision
	OnGroupJoin func(ctx context.Context, e *Event) Decision
	// OnRelay is told of each relay target's state changes: "publishing"
	// means the target answered NetStream.Publish.Start.
	OnRelay func(st relay.TargetStatus)
}

// Option configures Start.
type Option func(*Daemon)

// WithHooks installs Go hooks.
func WithHooks(h Hooks) Option { return func(d *Daemon) { d.hooks = h } }

// Limits on what a client's connect makes an Event hold.
const (
	maxEventFields = 32
	maxEventString = 256
)

// newEvent describes c's connection.
func newEvent(call string, c *netstream.Conn, info *netstream.ConnectInfo) *Event {
	t := c.Transport()
	e := &Event{Call: call, Session: c.ID, Remote: t.RemoteAddr(), Proto: t.Protocol(),
		App: info.App, Instance: info.Instance, Conn: c}
	e.addQuery(info.Query)
	objs := []*amf.Object{info.Object}
	for _, a := range info.Args {
		if o, ok := amf.AsObject(a); ok {
			objs = append(objs, o) // nc.connect(url, {login: ..., appKey: ...})
		}
	}
	for _, o := range objs {
		if o == nil {
			continue
		}
		for _, p := range o.Props {
			if len(e.Connect) == maxEventFields {
				break
			}
			switch v := p.Value.(type) {
			case string:
				if len(v) > maxEventString {
					v = v[:maxEventString]
				}
				e.setConnect(p.Key, v)
			case float64, bool:
				e.setConnect(p.Key, v)
			}
		}
	}
	return e
}

func (e *Event) setConnect(k string, v any) {
	if len(k) > maxEventString {
		return
	}
	if _, ok := e.Connect[k]; ok {
		return
	}
	if e.Connect == nil {
		e.Connect = map[string]any{}
	}
	e.Connect[k] = v
}

// addQuery adds the parameters of q not already there.
func (e *Event) addQuery(q url.Values) {
	for k, vs := range q {
		if len(e.Query) == maxEventFields || len(k) > maxEventString || len(vs) == 0 {
			continue
		}
		if _, ok := e.Query[k]; ok {
			continue
		}
		if e.Query == nil {
			e.Query = map[string]string{}
		}
		v := vs[0]
		if len(v) > 4*maxEventString {
			v = v[:4*maxEventString]
		}
		e.Query[k] = v
	}
}

// connectString returns a string field of the connect object.
func connectString(o *amf.Object, key string) string {
	if o == nil {
		return ""
	}
	s, _ := o.GetString(key)
	return s
}

// connectField returns a string field of the connect command object or,
// failing that, of an object argument of the connect.
func connectField(info *netstream.ConnectInfo, key string) string {
	if s := connectString(info.Object, key); s != "" {
		return s
	}
	for _, a := range info.Args {
		if o, ok := amf.AsObject(a); ok {
			if s := connectString(o, key); s != "" {
				return s
			}
		}
	}
	return ""
}
