package flash

import (
	"bytes"
	"errors"
	"io"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// errNotSelected is returned by Keying for a responder certificate that
// the endpoint discriminator does not select.
var errNotSelected = errors.New("flash: responder certificate does not match the endpoint discriminator")

var errOrder = errors.New("flash: Finish called before Keying")

// initiator is one handshake in the initiator role.
type initiator struct {
	p    *Profile
	epd  profile.EPD
	rc   *certificate // responder certificate (owns its bytes)
	g    *dhGroup
	key  *dhKey // our static key of group g
	k    []byte // shared secret, known at Keying for a static responder
	skic []byte
}

// NewInitiator starts a handshake towards the endpoint epd discriminates.
func (p *Profile) NewInitiator(epd []byte) (profile.Initiator, error) {
	e, err := ParseEPD(epd)
	if err != nil {
		return nil, err
	}
	return &initiator{p: p, epd: e}, nil
}

// Keying checks the responder certificate against the discriminator (a
// fingerprint must match it; a required hostname must be in it; ancillary
// data needs a certificate that accepts it), picks the strongest group both
// ends support (with Flash's certificate, group 2) and returns our static
// certificate and the initiator component, for Flash the 76 bytes
//
//	02 1D 02 | 41 0E <64 random> | 03 1A 02 0A | 02 1E 02
//
// (with flag 0x01 added when Config requests HMAC or sequence numbers,
// 0x04 when it sends them always, and the group selected).
// Against a static (peer) certificate the secret is computed here, from the
// two static keys.
func (in *initiator) Keying(responderCert []byte) (initiatorCert, skic []byte, err error) {
	rc, err := parseCertificate(bytes.Clone(responderCert))
	if err != nil {
		return nil, nil, err
	}
	if !rc.selectedBy(in.epd) {
		return nil, nil, errNotSelected
	}
	p := in.p
	var g *dhGroup
	var key *dhKey
	for _, id := range groupStrength {
		if key = p.keyFor(groups[id]); key != nil && rc.supports(uint64(id)) {
			g = groups[id]
			break
		}
	}
	if g == nil {
		return nil, nil, errDHGroup
	}
	var k []byte
	if rc.isStatic() {
		far, _ := rc.staticKey(uint64(g.id))
		if k, err = key.sharedSecret(far); err != nil {
			return nil, nil, err
		}
	}
	var extra [64]byte
	if _, err := io.ReadFull(p.rand, extra[:]); err != nil {
		return nil, nil, err
	}
	c := make([]byte, 0, 80)
	c = vlu.AppendOption(c, compGroupSelect, vlu.Append(nil, uint64(g.id)))
	c = vlu.AppendOption(c, compExtraRandomness, extra[:])
	c = p.pol.appendInitiatorOptions(c)
	in.rc, in.g, in.key, in.k, in.skic = rc, g, key, k, c
	return p.StaticCertificate(), c[:len(c):len(c)], nil
}

// Finish completes the key agreement with the responder's component: the
// negotiation of HMAC and sequence numbers (see Config) and, against a
// server certificate, the responder's ephemeral key of the chosen group.
func (in *initiator) Finish(skrc []byte) (*profile.SessionCrypto, error) {
	if in.rc == nil {
		return nil, errOrder
	}
	skrc = bytes.Clone(skrc)
	comp, err := parseComponent(skrc)
	if err != nil {
		return nil, err
	}
	n, err := in.p.pol.negotiate(comp)
	if err != nil {
		return nil, err
	}
	k := in.k
	if !in.rc.isStatic() {
		far, ok := comp.ephemeralKey(uint64(in.g.id))
		if !ok {
			return nil, errComponent
		}
		if k, err = in.key.sharedSecret(far); err != nil {
			return nil, err
		}
	}
	return in.p.newSession(k, in.skic, skrc, n, in.rc.raw, in.rc.fingerprint)
}
