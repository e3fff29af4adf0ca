package plain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync/atomic"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Option types, as in the Flash profile.
const (
	optHostname    = 0x00 // EPD: required hostname; certificate: hostname
	optAncillary   = 0x0a // EPD: ancillary data; certificate: accepts it
	optRandomness  = 0x0e // component: (here deterministic) randomness
	optFingerprint = 0x0f // EPD: peer ID
	optIdentity    = 0x1d // certificate: the endpoint's name
)

var (
	errCertificate = errors.New("plain: malformed certificate")
	errNotOurs     = errors.New("plain: responder certificate is not this endpoint's")
	errNotSelected = errors.New("plain: responder certificate does not match the endpoint discriminator")
	errComponent   = errors.New("plain: malformed session key component")
	errOrder       = errors.New("plain: Finish called before Keying")
)

const maxBytes = 4096

// Profile is a plain profile for one named endpoint. It is safe for
// concurrent use.
type Profile struct {
	name       string
	staticCert []byte
	serverCert []byte
	peerID     profile.PeerID
	counter    atomic.Uint64
}

var _ profile.Profile = (*Profile)(nil)

// New returns the profile of the endpoint called name. Two profiles with
// the same name have the same certificates and peer ID.
func New(name string) *Profile {
	p := &Profile{name: name}
	p.staticCert = vlu.AppendOption(nil, optIdentity, []byte(name))
	p.serverCert = vlu.AppendOption(nil, optAncillary, nil)
	p.serverCert = vlu.AppendOption(p.serverCert, optRandomness, []byte("server:"+name))
	p.peerID = sha256.Sum256(p.staticCert)
	return p
}

// StartupCodec returns the codec keyed with StartupKey.
func (p *Profile) StartupCodec() profile.PacketCodec { return NewCodec(StartupKey) }

// PeerID returns SHA-256 of the static certificate.
func (p *Profile) PeerID() profile.PeerID { return p.peerID }

// StaticCertificate returns the certificate that names this endpoint. It
// must not be modified.
func (p *Profile) StaticCertificate() []byte {
	return p.staticCert[:len(p.staticCert):len(p.staticCert)]
}

// ServerCertificate returns the certificate for other discriminators. It
// must not be modified.
func (p *Profile) ServerCertificate() []byte {
	return p.serverCert[:len(p.serverCert):len(p.serverCert)]
}

// ParseEPD reads options 0x00, 0x0A and 0x0F, like the Flash profile.
func (p *Profile) ParseEPD(epd []byte) (profile.EPD, error) { return ParseEPD(epd) }

// ParseEPD reads options 0x00 (hostname), 0x0A (ancillary data) and 0x0F
// (32-byte peer ID); at least one must be present (profile.ParseOptionEPD).
func ParseEPD(epd []byte) (profile.EPD, error) { return profile.ParseOptionEPD(epd) }

// ResponderCertificate returns the static certificate for a discriminator
// naming this endpoint's peer ID and the server certificate otherwise.
func (p *Profile) ResponderCertificate(epd profile.EPD) []byte {
	if epd.HasPeerID && epd.PeerID == p.peerID {
		return p.StaticCertificate()
	}
	return p.ServerCertificate()
}

// Fingerprint returns SHA-256 of a certificate, which must be a non-empty
// option list.
func (p *Profile) Fingerprint(cert []byte) (profile.PeerID, error) {
	if !wellFormed(cert) {
		return profile.PeerID{}, errCertificate
	}
	return sha256.Sum256(cert), nil
}

// wellFormed reports whether b is a non-empty option sequence of at most
// maxBytes.
func wellFormed(b []byte) bool {
	if len(b) == 0 || len(b) > maxBytes {
		return false
	}
	it := vlu.NewOptions(b)
	for it.Next() {
	}
	return it.Err() == nil
}

// component returns a fresh session key component: option 0x0E holding the
// endpoint name and a counter.
func (p *Profile) component() []byte {
	v := binary.BigEndian.AppendUint64([]byte(p.name), p.counter.Add(1))
	return vlu.AppendOption(nil, optRandomness, v)
}

// session derives the keys of a session from both components: the key of
// each direction is the first 4 bytes of SHA-256(sender's component ‖
// receiver's component), and each nonce is SHA-256 of a component.
func session(near, far, farCert []byte) *profile.SessionCrypto {
	key := func(from, to []byte) uint32 {
		h := sha256.New()
		h.Write(from)
		h.Write(to)
		return binary.BigEndian.Uint32(h.Sum(nil))
	}
	nonce := func(c []byte) []byte {
		s := sha256.Sum256(c)
		return s[:]
	}
	return &profile.SessionCrypto{
		Send:           NewCodec(key(near, far)),
		Recv:           NewCodec(key(far, near)),
		NearNonce:      nonce(near),
		FarNonce:       nonce(far),
		NearComponent:  near,
		FarComponent:   far,
		FarCertificate: farCert,
		FarPeerID:      sha256.Sum256(farCert),
	}
}

// Respond accepts any well-formed initiator certificate and component.
func (p *Profile) Respond(responderCert, initiatorCert, skic []byte) ([]byte, *profile.SessionCrypto, error) {
	if !bytes.Equal(responderCert, p.staticCert) && !bytes.Equal(responderCert, p.serverCert) {
		return nil, nil, errNotOurs
	}
	if !wellFormed(initiatorCert) {
		return nil, nil, errCertificate
	}
	if !wellFormed(skic) {
		return nil, nil, errComponent
	}
	skrc := p.component()
	return skrc, session(skrc, bytes.Clone(skic), bytes.Clone(initiatorCert)), nil
}

// NewInitiator starts a handshake towards the endpoint epd names.
func (p *Profile) NewInitiator(epd []byte) (profile.Initiator, error) {
	e, err := ParseEPD(epd)
	if err != nil {
		return nil, err
	}
	return &initiator{p: p, epd: e}, nil
}

type initiator struct {
	p    *Profile
	epd  profile.EPD
	rc   []byte
	skic []byte
}

// Keying checks the responder certificate against the discriminator: a
// peer ID must be its fingerprint, ancillary data needs option 0x0A and a
// hostname needs the same option 0x00.
func (in *initiator) Keying(responderCert []byte) ([]byte, []byte, error) {
	if !wellFormed(responderCert) {
		return nil, nil, errCertificate
	}
	if !selectedBy(in.epd, responderCert) {
		return nil, nil, errNotSelected
	}
	in.rc = bytes.Clone(responderCert)
	in.skic = in.p.component()
	return in.p.StaticCertificate(), in.skic[:len(in.skic):len(in.skic)], nil
}

func selectedBy(e profile.EPD, cert []byte) bool {
	if e.HasPeerID {
		return sha256.Sum256(cert) == e.PeerID
	}
	if e.Hostname != "" {
		if h, ok := vlu.Find(cert, optHostname); !ok || string(h) != e.Hostname {
			return false
		}
	}
	if e.Ancillary != "" {
		if _, ok := vlu.Find(cert, optAncillary); !ok {
			return false
		}
	}
	return true
}

// Finish accepts any well-formed responder component.
func (in *initiator) Finish(skrc []byte) (*profile.SessionCrypto, error) {
	if in.rc == nil {
		return nil, errOrder
	}
	if !wellFormed(skrc) {
		return nil, errComponent
	}
	return session(in.skic, bytes.Clone(skrc), in.rc), nil
}
