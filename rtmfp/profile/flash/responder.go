package flash

import (
	"bytes"
	"errors"
	"io"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// errNotOurCertificate is returned by Respond when responderCert is neither
// of this profile's certificates.
var errNotOurCertificate = errors.New("flash: responder certificate is not this endpoint's")

// Respond runs the responder's half of the key agreement (RFC 7425 §4.6)
// for an IIKeying that echoes an RHello carrying responderCert.
//
// The initiator's DH key is the key of its certificate for the group its
// component selects (option 0x1D: Flash and librtmfp send group 2 with one
// key in the certificate; rtmfp-cpp sends keys for groups 16, 14 and 2 and
// selects one), or, from an initiator without static keys, the ephemeral key
// of its component (option 0x0D).
//
// When we answered with the server certificate, the responder component
// carries a fresh ephemeral key of that group; for a Flash initiator that
// asks for nothing it is exactly
//
//	03 1A 00 00 | 02 1E 00 | 81 02 0D 02 <128-byte public key>
//
// (librtmfp checks the first 11 bytes and reads the key at offset 11). When
// we answered with the static certificate (an IHello naming our peer ID),
// the secret comes from the two static keys and the component is the
// 73-byte 03 1A 00 00 02 1E 00 41 0E <64 random bytes> that Flash peers
// send; only the groups of our static keys are possible then.
func (p *Profile) Respond(responderCert, initiatorCert, skic []byte) ([]byte, *profile.SessionCrypto, error) {
	var static bool
	switch {
	case bytes.Equal(responderCert, p.staticCert):
		static = true
	case bytes.Equal(responderCert, p.serverCert):
	default:
		return nil, nil, errNotOurCertificate
	}
	initiatorCert = bytes.Clone(initiatorCert)
	skic = bytes.Clone(skic)
	ic, err := parseCertificate(initiatorCert)
	if err != nil {
		return nil, nil, err
	}
	comp, err := parseComponent(skic)
	if err != nil {
		return nil, nil, err
	}
	n, err := p.pol.negotiate(comp)
	if err != nil {
		return nil, nil, err
	}

	var farPub []byte
	var group uint64
	if ic.isStatic() {
		if !comp.hasGroupSelect {
			return nil, nil, errComponent
		}
		group = comp.groupSelect
		var ok bool
		if farPub, ok = ic.staticKey(group); !ok {
			return nil, nil, errDHGroup
		}
	} else {
		if len(comp.ephemeral) == 0 {
			return nil, nil, errComponent
		}
		group, farPub = comp.ephemeral[0].group, comp.ephemeral[0].pub
	}
	g, err := lookupGroup(group)
	if err != nil {
		return nil, nil, err
	}
	if _, err := g.parsePublic(farPub); err != nil {
		return nil, nil, err
	}

	skrc := p.pol.appendResponderOptions(make([]byte, 0, 16+g.size), n)
	var k []byte
	if static {
		key := p.keyFor(g)
		if key == nil {
			return nil, nil, errDHGroup
		}
		var extra [64]byte
		if _, err := io.ReadFull(p.rand, extra[:]); err != nil {
			return nil, nil, err
		}
		skrc = vlu.AppendOption(skrc, compExtraRandomness, extra[:])
		k, err = key.sharedSecret(farPub)
	} else {
		var eph *dhKey
		if eph, err = g.generateKey(p.rand, p.exponentBits); err != nil {
			return nil, nil, err
		}
		v := vlu.Append(make([]byte, 0, 2+len(eph.pub)), group)
		skrc = vlu.AppendOption(skrc, compEphemeralKey, append(v, eph.pub...))
		k, err = eph.sharedSecret(farPub)
	}
	if err != nil {
		return nil, nil, err
	}
	sc, err := p.newSession(k, skrc, skic, n, initiatorCert, ic.fingerprint)
	if err != nil {
		return nil, nil, err
	}
	return skrc, sc, nil
}
