package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/server/access"
	"github.com/rtmfpd/rtmfpd/server/httphook"
)

// AppConfig is an application clients connect to (rtmfp://host/app/...):
// who may connect, publish and play, and its HTTP callbacks. In the
// configuration file an application is its name alone ("live") or an
// object.
type AppConfig struct {
	// Name is the application's name, or a pattern (path.Match: "*"
	// serves any application with these rules).
	Name string `json:"name"`
	// Connect, Publish and Play say who may connect, publish and play:
	// address lists and whether a token is required.
	Connect access.Rule `json:"connect"`
	Publish access.Rule `json:"publish"`
	Play    access.Rule `json:"play"`
	// Hooks are the application's HTTP callbacks; those it does not name
	// are the top-level hooks.
	Hooks HTTPHooks `json:"hooks"`
}

// UnmarshalJSON accepts a name or an object.
func (a *AppConfig) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		*a = AppConfig{}
		return json.Unmarshal(b, &a.Name)
	}
	type plain AppConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(a))
}

// HTTPHooks are HTTP callbacks in nginx-rtmp's style (see README "HTTP
// callbacks"). The deciding ones (onConnect, onPublish, onPlay,
// onGroupJoin) allow with a 2xx answer; the others report an end.
type HTTPHooks struct {
	OnConnect     *HookConfig `json:"onConnect"`
	OnPublish     *HookConfig `json:"onPublish"`
	OnPublishDone *HookConfig `json:"onPublishDone"`
	OnPlay        *HookConfig `json:"onPlay"`
	OnPlayDone    *HookConfig `json:"onPlayDone"`
	OnRecordDone  *HookConfig `json:"onRecordDone"`
	OnGroupJoin   *HookConfig `json:"onGroupJoin"`
}

// over returns h with the hooks it does not set taken from base.
func (h HTTPHooks) over(base HTTPHooks) HTTPHooks {
	pick := func(a, b *HookConfig) *HookConfig {
		if a != nil {
			return a
		}
		return b
	}
	return HTTPHooks{
		OnConnect: pick(h.OnConnect, base.OnConnect), OnPublish: pick(h.OnPublish, base.OnPublish),
		OnPublishDone: pick(h.OnPublishDone, base.OnPublishDone), OnPlay: pick(h.OnPlay, base.OnPlay),
		OnPlayDone: pick(h.OnPlayDone, base.OnPlayDone), OnRecordDone: pick(h.OnRecordDone, base.OnRecordDone),
		OnGroupJoin: pick(h.OnGroupJoin, base.OnGroupJoin),
	}
}

func (h HTTPHooks) validate() error {
	for name, c := range map[string]*HookConfig{"onConnect": h.OnConnect, "onPublish": h.OnPublish,
		"onPublishDone": h.OnPublishDone, "onPlay": h.OnPlay, "onPlayDone": h.OnPlayDone,
		"onRecordDone": h.OnRecordDone, "onGroupJoin": h.OnGroupJoin} {
		if c == nil {
			continue
		}
		if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
			return fmt.Errorf("%s.url: %q is not an http:// or https:// URL", name, c.URL)
		}
	}
	return nil
}

// HookConfig is one HTTP callback. In the configuration file it is its URL
// alone or an object.
type HookConfig struct {
	URL string `json:"url"`
	// Timeout bounds the request (default 5 s).
	Timeout Duration `json:"timeout"`
	// FailOpen allows when the callback does not answer (down, timed out,
	// an answer too large or malformed); by default that refuses.
	FailOpen bool `json:"failOpen"`
	// Retries is how many times a report (onPublishDone, onPlayDone,
	// onRecordDone) is sent again after a failure (default 3).
	Retries int `json:"retries"`
}

// UnmarshalJSON accepts a URL or an object.
func (h *HookConfig) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
		*h = HookConfig{}
		return json.Unmarshal(b, &h.URL)
	}
	type plain HookConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(h))
}

func (h *HookConfig) hook() httphook.Hook {
	return httphook.Hook{URL: h.URL, Timeout: time.Duration(h.Timeout), FailOpen: h.FailOpen, Retries: h.Retries}
}

// TokenConfig holds the secrets that sign access tokens.
type TokenConfig struct {
	// Secrets verify tokens (several: a rotation); the first signs those
	// `rtmfpd token` mints. At least 16 bytes each.
	Secrets []string `json:"secrets"`
	// SecretFile holds one more secret (its first line), kept out of the
	// configuration file.
	SecretFile string `json:"secretFile"`
}

// secrets returns the configured secrets, reading SecretFile.
func (t TokenConfig) secrets() ([][]byte, error) {
	var out [][]byte
	for i, s := range t.Secrets {
		if len(s) < 16 {
			return nil, fmt.Errorf("tokens.secrets[%d]: shorter than 16 bytes", i)
		}
		out = append(out, []byte(s))
	}
	if t.SecretFile != "" {
		b, err := os.ReadFile(t.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("tokens.secretFile: %w", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSpace(line)
		if len(line) < 16 {
			return nil, fmt.Errorf("tokens.secretFile: %s: the secret is shorter than 16 bytes", t.SecretFile)
		}
		out = append(out, line)
	}
	return out, nil
}

// policy is the compiled form of what decides who may do what; a reload
// replaces it whole.
type policy struct {
	apps        []*appPolicy // empty: any application, open (Cirrus mode)
	open        *appPolicy   // the rules of Cirrus mode: top-level hooks only
	defaultApp  string
	appKeyQuery bool
	secrets     [][]byte
}

// appPolicy is one application's compiled rules.
type appPolicy struct {
	name                   string
	connect, publish, play *access.Policy
	hooks                  HTTPHooks
}

// compilePolicy builds the policy of a configuration; errors name the
// field.
func compilePolicy(c *Config) (*policy, error) {
	p := &policy{defaultApp: c.DefaultApp, open: &appPolicy{name: "*", hooks: c.Hooks,
		connect: &access.Policy{}, publish: &access.Policy{}, play: &access.Policy{}}}
	switch c.AppKey {
	case "", "path":
	case "query":
		p.appKeyQuery = true
	default:
		return nil, fmt.Errorf("appKey %q: want path or query", c.AppKey)
	}
	if err := c.Hooks.validate(); err != nil {
		return nil, fmt.Errorf("hooks.%w", err)
	}
	var err error
	if p.secrets, err = c.Tokens.secrets(); err != nil {
		return nil, err
	}
	for i, a := range c.Apps {
		ap, err := compileApp(a, c.Hooks)
		if err != nil {
			return nil, fmt.Errorf("apps[%d].%w", i, err)
		}
		if ap.needsToken() && len(p.secrets) == 0 {
			return nil, fmt.Errorf("apps[%d]: a token is required but tokens has no secret", i)
		}
		p.apps = append(p.apps, ap)
	}
	if p.defaultApp != "" && len(p.apps) > 0 && p.lookup(p.defaultApp) == nil {
		return nil, fmt.Errorf("defaultApp %q is not one of apps", p.defaultApp)
	}
	return p, nil
}

func compileApp(a AppConfig, base HTTPHooks) (*appPolicy, error) {
	if a.Name == "" {
		return nil, errors.New("name: required")
	}
	if err := netstream.CheckPattern(a.Name); err != nil {
		return nil, fmt.Errorf("name: %w", err)
	}
	ap := &appPolicy{name: a.Name, hooks: a.Hooks.over(base)}
	var err error
	for _, r := range []struct {
		name string
		rule access.Rule
		dst  **access.Policy
	}{{"connect", a.Connect, &ap.connect}, {"publish", a.Publish, &ap.publish}, {"play", a.Play, &ap.play}} {
		if *r.dst, err = r.rule.Compile(); err != nil {
			return nil, fmt.Errorf("%s.%w", r.name, err)
		}
	}
	if err := a.Hooks.validate(); err != nil {
		return nil, fmt.Errorf("hooks.%w", err)
	}
	return ap, nil
}

// groupJoinHooked reports whether any application has an onGroupJoin
// callback.
func (p *policy) groupJoinHooked() bool {
	if p.open.hooks.OnGroupJoin != nil {
		return true
	}
	for _, a := range p.apps {
		if a.hooks.OnGroupJoin != nil {
			return true
		}
	}
	return false
}

func (a *appPolicy) needsToken() bool {
	return a.connect.Token || a.publish.Token || a.play.Token
}

// lookup returns the rules of application name: the first entry whose
// name or pattern matches, the open rules in Cirrus mode, or nil for an
// application not served.
func (p *policy) lookup(name string) *appPolicy {
	if len(p.apps) == 0 {
		return p.open
	}
	for _, a := range p.apps {
		if netstream.MatchPattern(a.name, name) {
			return a
		}
	}
	return nil
}

// TokenSecret returns the secret new tokens are signed with: the first of
// tokens.secrets, or the secret file's.
func (c *Config) TokenSecret() ([]byte, error) {
	s, err := c.Tokens.secrets()
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, errors.New("tokens: no secret configured (tokens.secrets or tokens.secretFile)")
	}
	return s[0], nil
}
