package access

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestTokens(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok, err := Mint(secret, Claims{App: "live", Stream: "cam*", Act: ActPublish, Exp: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify([][]byte{[]byte("old secret"), secret}, tok, now)
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if err := c.Allows("live", "cam1", ActPublish); err != nil {
		t.Fatalf("in scope refused: %v", err)
	}
	for _, bad := range []struct{ app, stream, act string }{
		{"live", "cam1", ActPlay}, {"other", "cam1", ActPublish}, {"live", "mic", ActPublish},
	} {
		if err := c.Allows(bad.app, bad.stream, bad.act); !errors.Is(err, ErrScope) {
			t.Errorf("%v: %v, want ErrScope", bad, err)
		}
	}
	if _, err := Verify([][]byte{secret}, tok, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if _, err := Verify([][]byte{[]byte("another secret")}, tok, now); !errors.Is(err, ErrSignature) {
		t.Errorf("other secret: %v", err)
	}
	// Tampered claims (a longer expiry, another app) with the old signature.
	parts := strings.Split(tok, ".")
	forged, _ := Mint([]byte("attacker"), Claims{App: "*", Exp: now.Add(100 * time.Hour).Unix()})
	fp := strings.Split(forged, ".")
	if _, err := Verify([][]byte{secret}, fp[0]+"."+fp[1]+"."+parts[2], now); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered: %v", err)
	}
	for _, m := range []string{"", "v1.", "v1..", "v2.abc.def", "v1.abc", "v1.abc.!!!!", tok + "x", strings.Repeat("v", MaxTokenLen+1)} {
		if _, err := Verify([][]byte{secret}, m, now); err == nil || errors.Is(err, ErrExpired) {
			t.Errorf("%q: %v", m, err)
		}
	}
	if _, err := Mint(secret, Claims{App: "live"}); err == nil {
		t.Error("token without expiry minted")
	}
	if _, err := Mint(secret, Claims{Act: "delete", Exp: 1}); err == nil {
		t.Error("unknown act minted")
	}
}

func FuzzVerify(f *testing.F) {
	tok, _ := Mint(secret, Claims{App: "live", Exp: 2_000_000_000})
	f.Add(tok)
	f.Add("v1.e30.AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify([][]byte{secret}, s, time.Unix(1_700_000_000, 0))
		if err == nil && c.Check() != nil {
			t.Fatalf("%q accepted with invalid claims %+v", s, c)
		}
	})
}

func TestPolicy(t *testing.T) {
	p, err := Rule{Allow: []string{"10.0.0.0/8", "::1", "127.0.0.1"}, Deny: []string{"10.1.0.0/16"}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{"10.2.3.4": true, "10.1.2.3": false, "::1": true, "127.0.0.1": true,
		"::ffff:10.2.3.4": true, "192.0.2.1": false, "127.0.0.2": false} {
		if got := p.CheckAddr(netip.MustParseAddr(a)) == nil; got != want {
			t.Errorf("%s: allowed %v, want %v", a, got, want)
		}
	}
	open, _ := Rule{Deny: []string{"192.0.2.0/24"}}.Compile()
	if open.CheckAddr(netip.MustParseAddr("198.51.100.1")) != nil || open.CheckAddr(netip.MustParseAddr("192.0.2.9")) == nil {
		t.Error("deny-only rule")
	}
	if _, err := (Rule{Allow: []string{"10.0.0.0/33"}}).Compile(); err == nil || !strings.Contains(err.Error(), "allow[0]") {
		t.Errorf("bad prefix: %v", err)
	}
}
