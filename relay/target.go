package relay

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// Publishing modes of a target (NetStream.publish's type).
const (
	ModeLive   = rtmp.ModeLive
	ModeRecord = rtmp.ModeRecord
	ModeAppend = rtmp.ModeAppend
	// ModeAppendWithGap appends, telling the target that the timeline may
	// have a gap (Flash's "appendWithGap", for DVR with dynamic streaming).
	ModeAppendWithGap = "appendWithGap"
)

// Target is where a stream is republished.
type Target struct {
	// URL is rtmp://host[:port]/app[/instance]/name or
	// rtmfp://host[:port]/app[/instance]/name: the last path segment (with
	// the query, if any, as RTMP stream keys are written) is the remote
	// stream name, the rest the application. {name}, {app} and {instance}
	// are replaced by the local stream's name, application and instance:
	// "rtmp://origin2/live/{name}" keeps the name, "rtmp://origin2/live/{name}_hd"
	// maps it.
	URL string `json:"url"`
	// Mode is the publishing mode asked of the target: "live" (default),
	// "record", "append" or "appendWithGap". One URL with two modes is two
	// targets.
	Mode string `json:"mode,omitempty"`
}

// key identifies a target among a stream's: its URL and its mode.
func (t Target) key() string {
	m := t.Mode
	if m == "" {
		m = ModeLive
	}
	return m + " " + t.URL
}

// Rule republishes the streams it matches to its targets.
type Rule struct {
	// App is a pattern (path.Match syntax: *, ?, [...]) on the application
	// name; empty matches any.
	App string `json:"app"`
	// Instance is a pattern on the application instance ("_definst_"
	// when the URL names none); empty matches any.
	Instance string `json:"instance,omitempty"`
	// Stream is a pattern on the stream name; empty matches any.
	Stream string `json:"stream"`
	// Targets receive every matching stream.
	Targets []Target `json:"targets"`
}

// Validate checks the patterns and the targets.
func (r Rule) Validate() error {
	for _, p := range []string{r.App, r.Instance, r.Stream} {
		if err := netstream.CheckPattern(p); err != nil {
			return fmt.Errorf("relay: %w", err)
		}
	}
	if len(r.Targets) == 0 {
		return errors.New("relay: rule without targets")
	}
	for _, t := range r.Targets {
		if err := t.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Matches reports whether the rule applies to stream name of application
// app, instance inst.
func (r Rule) Matches(app, inst, name string) bool {
	return netstream.MatchPattern(r.App, app) && netstream.MatchPattern(r.Instance, inst) && netstream.MatchPattern(r.Stream, name)
}

// Validate checks the target with placeholder values.
func (t Target) Validate() error {
	_, err := t.resolve("app", netstream.DefaultInstance, "name")
	return err
}

// resolved is a target for one stream.
type resolved struct {
	scheme  string // "rtmp" or "rtmfp"
	connURL string // scheme://host/app: what the NetConnection connects to
	name    string // remote stream name, with its query
	mode    string
	display string // the URL without credentials or query, for logs and status
	hops    Hops   // carried in the connect (loop detection)
}

// resolve expands the placeholders for a stream and splits the URL.
func (t Target) resolve(app, inst, name string) (resolved, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return resolved{}, fmt.Errorf("relay: target %q: %w", t.URL, err)
	}
	if u.Scheme != "rtmp" && u.Scheme != "rtmfp" {
		return resolved{}, fmt.Errorf("relay: target %q: scheme must be rtmp or rtmfp", t.URL)
	}
	if u.Hostname() == "" {
		return resolved{}, fmt.Errorf("relay: target %q has no host", t.URL)
	}
	mode := t.Mode
	switch mode {
	case "":
		mode = ModeLive
	case ModeLive, ModeRecord, ModeAppend, ModeAppendWithGap:
	default:
		return resolved{}, fmt.Errorf("relay: target %q: mode %q is not live, record, append or appendWithGap", t.URL, t.Mode)
	}
	expand := func(s string) string { return netstream.ExpandName(s, app, inst, name) }
	p := strings.Trim(u.Path, "/")
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return resolved{}, fmt.Errorf("relay: target %q must be %s://host/app/name (the last path segment is the stream name)", t.URL, u.Scheme)
	}
	appPath, streamName := expand(p[:i]), expand(p[i+1:])
	if n, _, _ := strings.Cut(streamName, "?"); appPath == "" || n == "" {
		return resolved{}, fmt.Errorf("relay: target %q names no application or stream", t.URL)
	}
	full := streamName
	if u.RawQuery != "" {
		full += "?" + expand(u.RawQuery)
	}
	host := u.Host
	return resolved{
		scheme:  u.Scheme,
		connURL: u.Scheme + "://" + host + "/" + appPath,
		name:    full,
		mode:    mode,
		display: u.Scheme + "://" + host + "/" + appPath + "/" + streamName,
	}, nil
}
