// Package access decides who may connect to an application, publish and
// play: lists of client addresses (CIDR) and signed tokens.
//
// A token is "v1.<claims>.<mac>": claims is the base64url (no padding) of a
// JSON object {app, stream, act, exp}, and mac the base64url of
// HMAC-SHA256 over "v1.<claims>" with a secret the server and the minter
// share (as rtmfp-cpp's tcserver and nginx's secure links sign URLs). It is
// passed in the URL query (rtmfp://host/app/stream?token=…,
// rtmp://host/app?token=…/stream) or as a connect argument.
package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// Actions a token may grant.
const (
	ActPublish = "publish"
	ActPlay    = "play"
)

// MaxTokenLen bounds the token the server reads.
const MaxTokenLen = 2048

// Errors of Verify and Claims.Allows, for errors.Is.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("token signature does not match")
	ErrExpired   = errors.New("token expired")
	ErrScope     = errors.New("token does not grant this")
)

// Claims is what a token grants.
type Claims struct {
	// App is the application (a path.Match pattern; "" any).
	App string `json:"app,omitempty"`
	// Stream is the stream name (a pattern; "" any).
	Stream string `json:"stream,omitempty"`
	// Act is ActPublish, ActPlay, or "" for both.
	Act string `json:"act,omitempty"`
	// Exp is the expiry, in Unix seconds (required).
	Exp int64 `json:"exp"`
}

// Check validates the claims for minting.
func (c Claims) Check() error {
	for _, p := range []string{c.App, c.Stream} {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	switch c.Act {
	case "", ActPublish, ActPlay:
	default:
		return fmt.Errorf("act %q: want publish, play or empty (both)", c.Act)
	}
	if c.Exp <= 0 {
		return errors.New("exp: an expiry is required")
	}
	return nil
}

// AllowsApp reports (nil) whether the claims are for application app.
func (c Claims) AllowsApp(app string) error {
	if ok, _ := path.Match(c.App, app); c.App != "" && !ok {
		return fmt.Errorf("%w: application %q is outside %q", ErrScope, app, c.App)
	}
	return nil
}

// Allows reports (nil) whether the claims grant act on stream of app; a
// refusal wraps ErrScope and says what was asked against what is granted.
func (c Claims) Allows(app, stream, act string) error {
	if c.Act != "" && c.Act != act {
		return fmt.Errorf("%w: it is for %s, not %s", ErrScope, c.Act, act)
	}
	if err := c.AllowsApp(app); err != nil {
		return err
	}
	if ok, _ := path.Match(c.Stream, stream); c.Stream != "" && !ok {
		return fmt.Errorf("%w: stream %q is outside %q", ErrScope, stream, c.Stream)
	}
	return nil
}

const prefix = "v1."

var b64 = base64.RawURLEncoding

// Mint signs claims with secret.
func Mint(secret []byte, c Claims) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("access: empty secret")
	}
	if err := c.Check(); err != nil {
		return "", fmt.Errorf("access: %w", err)
	}
	js, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	body := prefix + b64.EncodeToString(js)
	tok := body + "." + b64.EncodeToString(mac(secret, body))
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("access: token of %d bytes is above %d", len(tok), MaxTokenLen)
	}
	return tok, nil
}

func mac(secret []byte, body string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(body))
	return h.Sum(nil)
}

// Verify checks a token's signature against each secret (several allow a
// rotation) and its expiry at now, and returns its claims. The signature
// is checked before the claims are decoded.
func Verify(secrets [][]byte, tok string, now time.Time) (Claims, error) {
	var c Claims
	if len(tok) > MaxTokenLen {
		return c, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	if !strings.HasPrefix(tok, prefix) {
		return c, fmt.Errorf("%w: it does not start with %q", ErrMalformed, prefix)
	}
	i := strings.LastIndexByte(tok, '.')
	body, sig := tok[:i], tok[i+1:]
	if len(body) <= len(prefix) {
		return c, fmt.Errorf("%w: want v1.<claims>.<signature>", ErrMalformed)
	}
	got, err := b64.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return c, fmt.Errorf("%w: the signature is not 32 bytes of base64url", ErrMalformed)
	}
	ok := false
	for _, s := range secrets {
		if hmac.Equal(got, mac(s, body)) {
			ok = true
		}
	}
	if !ok {
		return c, ErrSignature
	}
	js, err := b64.DecodeString(body[len(prefix):])
	if err != nil {
		return c, fmt.Errorf("%w: the claims are not base64url", ErrMalformed)
	}
	if err := json.Unmarshal(js, &c); err != nil {
		return c, fmt.Errorf("%w: the claims are not JSON", ErrMalformed)
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if exp := time.Unix(c.Exp, 0); !now.Before(exp) {
		return c, fmt.Errorf("%w at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	return c, nil
}
