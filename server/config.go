package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/relay"
)

// Config is rtmfpd's configuration. It is read from a JSON file; every field
// has a default, so an empty file (or none) gives a working server.
type Config struct {
	// RTMFP lists the UDP addresses of the RTMFP endpoints. Default
	// ["0.0.0.0:1935", "[::]:1935"] (IPv6 is skipped with a warning when
	// the host has none).
	RTMFP []string `json:"rtmfp"`
	// RTMP lists the TCP addresses of the RTMP listeners. Absent (or
	// null): the addresses of RTMFP, on TCP (so 0.0.0.0:1935 and
	// [::]:1935 by default). An empty list disables RTMP.
	RTMP []string `json:"rtmp"`
	// RTMPOptions tunes RTMP connections.
	RTMPOptions RTMPOptions `json:"rtmpOptions"`
	// Apps lists the applications clients may connect to
	// (rtmfp://host/app/...), each a name or an object with its access
	// rules and HTTP callbacks. Empty: any application, open, which is
	// also the Cirrus-compatible mode (rtmfp://host/<developer key>).
	Apps []AppConfig `json:"apps"`
	// DefaultApp is the application of a URL that names none
	// (rtmfp://host/, or rtmp://host/stream whose application is not
	// served).
	DefaultApp string `json:"defaultApp"`
	// AppKey says where the application comes from: "path" (default, the
	// URL's first path segment) or "query" (an appKey query parameter or
	// connect field; DefaultApp without one).
	AppKey string `json:"appKey"`
	// Tokens holds the secrets of access tokens.
	Tokens TokenConfig `json:"tokens"`
	// Hooks are HTTP callbacks for every application (an application's
	// own replace them one by one).
	Hooks HTTPHooks `json:"hooks"`
	// Admin is the admin API on the status listener.
	Admin AdminConfig `json:"admin"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `json:"logLevel"`
	// LogFormat is text or json. Default text.
	LogFormat string `json:"logFormat"`
	// IdentityFile keeps the server's RTMFP identity (its static DH key,
	// hence its peer ID) across restarts. Empty: a new identity per run.
	IdentityFile string `json:"identityFile"`
	// ShutdownTimeout bounds the graceful shutdown. Default (and 0) 5 s.
	ShutdownTimeout Duration `json:"shutdownTimeout"`
	// Session tunes RTMFP sessions.
	Session SessionConfig `json:"session"`
	// Status is the address of the HTTP status endpoint (GET /status gives
	// the counters in JSON). Default 127.0.0.1:8935; "off" disables it.
	Status string `json:"status"`
	// NoMediaRelay makes the server an introducer only: publish and play
	// are refused, as Adobe Cirrus did.
	NoMediaRelay bool `json:"noMediaRelay"`
	// Introducer tunes peer introduction and NetGroup membership.
	Introducer IntroducerConfig `json:"introducer"`
	// Groups makes the server a member of NetGroups that it publishes
	// server streams into (P2P multicast, and native IP multicast).
	Groups []GroupConfig `json:"groups"`
	// Relay republishes streams to other servers (multipoint publishing).
	Relay RelayConfig `json:"relay"`
	// NATCheck turns on the connectivity-check responder (natcheck.go);
	// absent or null: off.
	NATCheck *NATCheckConfig `json:"natCheck,omitempty"`
	// Limits bounds what peers can make the server hold in memory (see
	// limits.go).
	Limits LimitsConfig `json:"limits"`
	// Media configures recording and video on demand (see media.go).
	Media MediaConfig `json:"media"`
	// Cluster makes the server one node of a cluster (see cluster.go).
	Cluster ClusterConfig `json:"cluster"`
	// HTTP configures HTTP-FLV playback and RTMP over WebSocket (see
	// httpmedia.go).
	HTTP HTTPConfig `json:"http"`
	// MulticastService is Adobe Media Server's multicast service,
	// drop-in (see mcservice.go).
	MulticastService MulticastServiceConfig `json:"multicastService"`
}

// RelayConfig holds the relay rules and their retry policy (zero: the relay
// package's defaults).
type RelayConfig struct {
	// Rules: when a stream matching app and stream (glob patterns) is
	// published, republish it to the targets.
	Rules []relay.Rule `json:"rules"`
	// MinBackoff and MaxBackoff bound the wait between attempts to a
	// failing target (default 1 s doubling up to 30 s).
	MinBackoff Duration `json:"minBackoff"`
	MaxBackoff Duration `json:"maxBackoff"`
	// MaxAttempts gives up on a target after that many consecutive
	// failures; 0 retries while the stream is published.
	MaxAttempts int `json:"maxAttempts"`
	// QueueBytes bounds each target's queue (default 4 MiB).
	QueueBytes int `json:"queueBytes"`
	// DialTimeout bounds connecting and publishing to a target (default
	// 10 s); DrainTimeout the sending of what is queued at unpublish
	// (default 5 s).
	DialTimeout  Duration `json:"dialTimeout"`
	DrainTimeout Duration `json:"drainTimeout"`
	// MaxHops refuses a relayed publish that went through more servers
	// (default 8); a relay back to a stream already on the path is
	// refused whatever its length.
	MaxHops int `json:"maxHops"`
}

// IntroducerConfig holds the introducer's settings (zero: defaults).
type IntroducerConfig struct {
	// BootstrapRing is how many ring neighbours a group newcomer is given
	// (and told about it); BootstrapRandom how many random others. Default
	// 6 and 2.
	BootstrapRing   int `json:"bootstrapRing"`
	BootstrapRandom int `json:"bootstrapRandom"`
	// Caps. Defaults 100000 groups, 100000 members per group, 16 groups
	// per session.
	MaxGroups           int `json:"maxGroups"`
	MaxMembers          int `json:"maxMembers"`
	MaxGroupsPerSession int `json:"maxGroupsPerSession"`
	// IntroductionRate limits the introductions one address may ask per
	// second (default 10, bursts of twice that).
	IntroductionRate float64 `json:"introductionRate"`
	// ForwardRate limits the Forwarded IHellos sent to one connected
	// client per second, whatever the number of initiators (default 5,
	// bursts of four times that); all clients together get at most 2000
	// times that. Each makes the client answer an unproven address.
	ForwardRate float64 `json:"forwardRate"`
	// RequirePeerInfo introduces only clients that sent setPeerInfo.
	RequirePeerInfo bool `json:"requirePeerInfo"`
	// DeadPeerRedirect answers repeated IHellos for unknown peers with a
	// Redirect to 0.0.0.0:0 (MonaServer2's signal, used by librtmfp).
	DeadPeerRedirect bool `json:"deadPeerRedirect"`
}

// RTMPOptions tunes RTMP connections (zero: defaults).
type RTMPOptions struct {
	// MaxConns caps the RTMP connections served at once (default 10000).
	MaxConns int `json:"maxConns"`
	// ConnectTimeout bounds the time from TCP accept to a successful
	// connect command, handshake included (default 10 s).
	ConnectTimeout Duration `json:"connectTimeout"`
	// HandshakeTimeout bounds the RTMP handshake (default 10 s).
	HandshakeTimeout Duration `json:"handshakeTimeout"`
	// ReadTimeout is how long a connection may stay silent; quiet peers
	// are pinged first (default 60 s).
	ReadTimeout Duration `json:"readTimeout"`
	// WriteTimeout is how long a write may wait for a peer that does not
	// read before the connection is closed (default 30 s).
	WriteTimeout Duration `json:"writeTimeout"`
	// ChunkSize is the outgoing chunk size (default 4096).
	ChunkSize int `json:"chunkSize"`
	// MaxMessageSize is the largest message a peer may send (default
	// 16 MiB).
	MaxMessageSize int `json:"maxMessageSize"`
}

// RTMPAddrs returns the RTMP listening addresses: RTMP, or when it is not
// set, the RTMFP addresses.
func (c *Config) RTMPAddrs() []string {
	if c.RTMP == nil {
		return c.RTMFP
	}
	return c.RTMP
}

// SessionConfig holds the RTMFP session limits (zero: the rtmfp package's
// defaults).
type SessionConfig struct {
	MaxSessions     int      `json:"maxSessions"`
	KeepalivePeriod Duration `json:"keepalive"`
	IdleTimeout     Duration `json:"idleTimeout"`
	// StartupRate and StartupBurst limit the handshake replies sent to one
	// IP address that has not proven itself, per second (anti-reflection;
	// 0: 20/s, bursts of 256). A completed handshake gives its reply back,
	// so a crowd behind one address is limited only by the burst: the
	// handshakes it may have in flight at once.
	StartupRate  float64 `json:"startupRate"`
	StartupBurst int     `json:"startupBurst"`
	// ExponentBits is the length of the Diffie-Hellman private exponents
	// (0: about twice the group's strength, see RFC 3526 §8).
	ExponentBits int `json:"dhExponentBits"`
	// ReceivePace is how long the receive goroutine of an RTMFP endpoint
	// waits after a batch of datagrams while more keep arriving, so that
	// one wake-up reads all that came meanwhile (0: 2 ms; negative, "-1ms": no
	// pacing). A datagram waits at most this long before it is read.
	ReceivePace Duration `json:"receivePace" config:"signed"`
}

// Duration is a time.Duration written as a Go duration string ("15s").
type Duration time.Duration

// UnmarshalJSON accepts "1m30s" or a number of seconds. Anything else is
// a *json.UnmarshalTypeError, which the decoder completes with the field's
// path (see Load).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: reflect.TypeFor[Duration]()}
		}
		*d = Duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		RTMFP:           []string{"0.0.0.0:1935", "[::]:1935"},
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: Duration(5 * time.Second),
		Status:          "127.0.0.1:8935",
	}
}

// Load reads a JSON configuration file over the defaults. Unknown fields
// are an error, so a typo does not go unnoticed; an empty file (or one of
// white space only) means all defaults. Errors name the file and the field.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if c, err = Decode(src); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Decode reads a JSON configuration over the defaults, without validating
// it: empty (or white space only) means all defaults; unknown fields, and
// text after the object, are errors naming what is wrong.
func Decode(src []byte) (Config, error) {
	c := Default()
	if len(bytes.TrimSpace(src)) == 0 {
		return c, nil
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, decodeError(err, src)
	}
	if dec.More() {
		return c, errors.New("text after the configuration object")
	}
	return c, nil
}

// Validate checks the configuration and reports the first problem, naming
// the field. No duration or number may be negative.
func (c *Config) Validate() error {
	if err := checkNonNegative(reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	for _, a := range c.RTMFP {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return fmt.Errorf("rtmfp: address %q: %w", a, err)
		}
	}
	for _, a := range c.RTMP {
		if _, err := netip.ParseAddrPort(a); err != nil {
			return fmt.Errorf("rtmp: address %q: %w", a, err)
		}
	}
	if n := c.RTMPOptions.ChunkSize; n > 1<<24 {
		return fmt.Errorf("rtmpOptions.chunkSize: %d is above 16777216", n)
	}
	for i, r := range c.Relay.Rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("relay.rules[%d]: %w", i, err)
		}
	}
	if c.Status != "" && c.Status != "off" {
		if _, err := netip.ParseAddrPort(c.Status); err != nil {
			return fmt.Errorf("status: address %q: %w", c.Status, err)
		}
	}
	pol, err := compilePolicy(c)
	if err != nil {
		return err
	}
	if err := c.MulticastService.validate(pol); err != nil {
		return err
	}
	if err := c.Admin.validate(c.Status); err != nil {
		return fmt.Errorf("admin.%w", err)
	}
	for i := range c.Groups {
		if err := c.Groups[i].validate(); err != nil {
			return fmt.Errorf("groups[%d].%w", i, err)
		}
	}
	if c.NATCheck != nil {
		if err := c.NATCheck.validate(c.Apps); err != nil {
			return err
		}
	}
	if err := c.Media.validate(); err != nil {
		return err
	}
	if err := c.Cluster.validate(); err != nil {
		return fmt.Errorf("cluster.%w", err)
	}
	if err := c.HTTP.validate(); err != nil {
		return err
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("logFormat %q: want text or json", c.LogFormat)
	}
	if err := c.Limits.validate(c.RTMPOptions.MaxMessageSize); err != nil {
		return err
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logLevel %q: want debug, info, warn or error", s)
}

// NewLogger builds the logger the configuration asks for.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
