package flash

import (
	"crypto/sha256"
	"errors"
	"io"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Certificate option types (RFC 7425 §4.3).
const (
	certHostname         = 0x00
	certAcceptsAncillary = 0x0a
	certExtraRandomness  = 0x0e
	certSupportedGroup   = 0x15
	certStaticKey        = 0x1d
)

// errCertificate is returned for a certificate that is not an option list,
// or has neither (or both) static keys and supported groups.
var errCertificate = errors.New("flash: malformed certificate")

// maxCertKeys bounds how many static keys or groups of a certificate are
// remembered; rtmfp-cpp sends three.
const maxCertKeys = 8

// staticKey is one option 0x1D of a certificate: a group and a public key.
type staticKey struct {
	group uint64
	pub   []byte
}

// certificate is a parsed Flash-profile certificate. Only options before
// the first marker (the canonical part) carry meaning; the rest must still
// be a valid option sequence.
type certificate struct {
	raw              []byte
	canonical        []byte
	fingerprint      profile.PeerID
	static           []staticKey // option 0x1D, in order
	groups           []uint64    // option 0x15, in order
	acceptsAncillary bool
	hostname         []byte
	hasHostname      bool
}

// canonicalPart returns the options of cert before its first marker, after
// checking that all of cert is a valid option sequence.
func canonicalPart(cert []byte) ([]byte, error) {
	if len(cert) == 0 {
		return nil, errCertificate
	}
	it := vlu.NewOptionList(cert)
	for it.Next() {
	}
	if it.Err() != nil {
		return nil, errCertificate
	}
	n := it.Consumed()
	canon := cert[:n]
	if it.Marker() {
		canon = cert[:n-1]
		rest := vlu.NewOptions(cert[n:])
		for rest.Next() {
		}
		if rest.Err() != nil {
			return nil, errCertificate
		}
	}
	return canon, nil
}

// fingerprint returns SHA-256 of the canonical part of cert (RFC 7425
// §4.3): a Flash peer ID.
func fingerprint(cert []byte) (profile.PeerID, error) {
	canon, err := canonicalPart(cert)
	if err != nil {
		return profile.PeerID{}, err
	}
	return sha256.Sum256(canon), nil
}

// parseCertificate parses cert. The result aliases cert.
func parseCertificate(cert []byte) (*certificate, error) {
	canon, err := canonicalPart(cert)
	if err != nil {
		return nil, err
	}
	c := &certificate{raw: cert, canonical: canon, fingerprint: sha256.Sum256(canon)}
	it := vlu.NewOptionList(canon)
	for it.Next() {
		o := it.Option()
		switch o.Type {
		case certHostname:
			if !c.hasHostname {
				c.hostname, c.hasHostname = o.Value, true
			}
		case certAcceptsAncillary:
			c.acceptsAncillary = true
		case certSupportedGroup:
			g, n, err := vlu.Parse(o.Value)
			if err != nil || n != len(o.Value) {
				return nil, errCertificate
			}
			if len(c.groups) < maxCertKeys {
				c.groups = append(c.groups, g)
			}
		case certStaticKey:
			g, n, err := vlu.Parse(o.Value)
			if err != nil || n == len(o.Value) {
				return nil, errCertificate
			}
			if len(c.static) < maxCertKeys {
				c.static = append(c.static, staticKey{group: g, pub: o.Value[n:]})
			}
		}
	}
	if (len(c.static) == 0) == (len(c.groups) == 0) {
		return nil, errCertificate
	}
	return c, nil
}

// isStatic reports whether the certificate holds static DH keys (a Flash
// peer or client) rather than a list of groups for an ephemeral key (a
// server).
func (c *certificate) isStatic() bool { return len(c.static) > 0 }

// staticKey returns the certificate's public key for group g.
func (c *certificate) staticKey(g uint64) ([]byte, bool) {
	for _, k := range c.static {
		if k.group == g {
			return k.pub, true
		}
	}
	return nil, false
}

// supports reports whether the certificate offers group g, as a static key
// or as a supported ephemeral group.
func (c *certificate) supports(g uint64) bool {
	if c.isStatic() {
		_, ok := c.staticKey(g)
		return ok
	}
	for _, x := range c.groups {
		if x == g {
			return true
		}
	}
	return false
}

// selectedBy checks the certificate against an endpoint discriminator the
// way RFC 7425 §4.4 describes: a fingerprint must match exactly (and then
// decides alone); a required hostname must equal the certificate's; and
// ancillary data is only sent to an endpoint that accepts it.
func (c *certificate) selectedBy(epd profile.EPD) bool {
	if epd.HasPeerID {
		return epd.PeerID == c.fingerprint
	}
	if epd.Hostname != "" && (!c.hasHostname || string(c.hostname) != epd.Hostname) {
		return false
	}
	if epd.Ancillary != "" && !c.acceptsAncillary {
		return false
	}
	return true
}

// serverCertificate returns the 77-byte responder certificate of Cumulus and
// MonaServer, which librtmfp reads blindly as exactly 77 bytes:
//
//	01 0A | 41 0E <64 random> | 02 15 02 | 02 15 05 | 02 15 0E
func serverCertificate(rand io.Reader) ([]byte, error) {
	var extra [64]byte
	if _, err := io.ReadFull(rand, extra[:]); err != nil {
		return nil, err
	}
	c := make([]byte, 0, 77)
	c = vlu.AppendOption(c, certAcceptsAncillary, nil)
	c = vlu.AppendOption(c, certExtraRandomness, extra[:])
	for _, g := range []uint64{group2, group5, group14} {
		c = vlu.AppendOption(c, certSupportedGroup, vlu.Append(nil, g))
	}
	return c, nil
}

// staticCertificate returns the certificate of static keys: one option 0x1D
// (VLU group ‖ public key) per key, which for Flash's single group-2 key is
// 81 02 1D 02 <key> for a 128-byte key.
func staticCertificate(keys []*dhKey) []byte {
	var c []byte
	for _, k := range keys {
		v := vlu.Append(make([]byte, 0, 1+len(k.pub)), uint64(k.g.id))
		c = vlu.AppendOption(c, certStaticKey, append(v, k.pub...))
	}
	return c
}
