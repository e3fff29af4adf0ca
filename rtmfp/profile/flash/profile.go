package flash

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Config configures a Profile. The zero value gives a fresh random identity,
// short DH exponents and the exact Flash behaviour (no HMAC, no sequence
// numbers unless a peer asks for them).
//
// HMAC and session sequence numbers are negotiated per direction with
// options 0x1A and 0x1E of the session key components (RFC 7425 §4.6; the
// rule below is the one rtmfp-cpp, by the RFC's author, implements). For
// each option and given the far end's flags:
//
//   - we send it when the far end sets Request (0x01), or always when
//     configured to (SendHMACAlways, SendSequenceAlways);
//   - we expect it when the far end sets Will Send Always (0x04), or when
//     we request it and the far end offers Will Send Always or Will Send On
//     Request (0x02); a request the far end cannot satisfy fails the
//     handshake;
//   - we check received HMACs at the length the far end announced (4 to 32
//     bytes) and send ours at HMACLength.
//
// Our own flags: as initiator we offer Will Send On Request, plus Request
// and Will Send Always when configured, with HMACLength; by default that is
// Flash's exact 03 1A 02 0A and 02 1E 02 (rtmfp-cpp's clients send
// 03 1A 07 10 and 02 1E 07). As responder, an option used in neither
// direction is answered with no flags (03 1A 00 00, 02 1E 00: the prefix
// librtmfp checks for), otherwise with Will Send On Request, plus Will Send
// Always when we send and Request when we expect to receive.
type Config struct {
	// StaticPrivateKey is the big-endian private exponent of this
	// endpoint's long-lived group-2 key, whose certificate
	// (81 02 1D 02 <public key>) defines its peer ID. nil generates a new
	// key; Profile.StaticPrivateKey returns it for saving, so that an
	// identity survives restarts.
	StaticPrivateKey []byte
	// ExponentBits is the length of the DH private exponents generated
	// (static and ephemeral). 0 selects twice each group's symmetric
	// strength after RFC 3526 §8 (its conservative estimates): 160 bits for
	// group 2, 240 for 5, 320 for 14, 480 for 16. A value at or above a
	// group's modulus length selects full-length exponents; under 160 is
	// refused. Shorter exponents make the handshake cheaper: the server's
	// DH work per group-2 handshake is a fixed-base exponentiation (the
	// ephemeral key) and a modular exponentiation (the shared secret) with
	// this exponent.
	ExponentBits int
	// RequestHMAC asks peers to authenticate their packets with
	// HMAC-SHA256 (flag 0x01 of option 0x1A).
	RequestHMAC bool
	// RequestSequence asks peers to number their packets (flag 0x01 of
	// option 0x1E).
	RequestSequence bool
	// HMACLength is the length of the HMACs this end sends: 4 to 32, 0
	// meaning 10 (the length Flash announces).
	HMACLength int
	// SendHMACAlways and SendSequenceAlways make this end authenticate
	// (number) every packet it sends whatever the far end asks, and say
	// so with flag 0x04 of option 0x1A (0x1E), as rtmfp-cpp does.
	SendHMACAlways, SendSequenceAlways bool
	// StaticGroups are the Diffie-Hellman groups of the static keys in
	// this endpoint's certificate, in order. nil means Flash's single
	// group-2 key (81 02 1D 02 <key>); rtmfp-cpp's clients send keys of
	// groups 16, 14 and 2. As initiator the strongest group both ends
	// support is selected. The group-2 key, when present, is the one
	// StaticPrivateKey gives; the others are generated. The certificate,
	// hence the peer ID, covers every key.
	StaticGroups []int
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
}

// Profile is the Flash Communication cryptography profile of RFC 7425 for
// one endpoint identity. It implements profile.Profile and is safe for
// concurrent use.
type Profile struct {
	rand         io.Reader
	exponentBits int
	pol          policy
	static       *dhKey   // the group-2 key of keys, or nil
	keys         []*dhKey // the keys of the static certificate, in order
	staticCert   []byte
	peerID       profile.PeerID
	serverCert   []byte
	startup      *Codec
}

var _ profile.Profile = (*Profile)(nil)

// New returns a profile for cfg.
func New(cfg Config) (*Profile, error) {
	p := &Profile{rand: cfg.Rand, exponentBits: cfg.ExponentBits}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if cfg.ExponentBits < 0 {
		return nil, errors.New("flash: negative exponent length")
	}
	if cfg.ExponentBits != 0 && cfg.ExponentBits < 160 {
		return nil, errors.New("flash: DH exponents under 160 bits are too weak")
	}
	p.pol = policy{requestHMAC: cfg.RequestHMAC, requestSequence: cfg.RequestSequence,
		sendHMAC: cfg.SendHMACAlways, sendSequence: cfg.SendSequenceAlways, hmacLen: cfg.HMACLength}
	if p.pol.hmacLen == 0 {
		p.pol.hmacLen = defaultHMACLength
	}
	if p.pol.hmacLen < MinHMACLength || p.pol.hmacLen > MaxHMACLength {
		return nil, errors.New("flash: HMAC length must be 4 to 32 bytes")
	}
	gids := cfg.StaticGroups
	if len(gids) == 0 {
		gids = []int{group2}
	}
	if len(gids) > maxCertKeys {
		return nil, errors.New("flash: too many static groups")
	}
	for _, id := range gids {
		g, err := lookupGroup(uint64(id))
		if err != nil {
			return nil, fmt.Errorf("flash: static group %d: %w", id, err)
		}
		if p.keyFor(g) != nil {
			return nil, fmt.Errorf("flash: static group %d given twice", id)
		}
		var k *dhKey
		if g.id == group2 && cfg.StaticPrivateKey != nil {
			k, err = g.keyFromPrivate(new(big.Int).SetBytes(cfg.StaticPrivateKey))
		} else {
			k, err = g.generateKey(p.rand, cfg.ExponentBits)
		}
		if err != nil {
			return nil, err
		}
		if g.id == group2 {
			p.static = k
		}
		p.keys = append(p.keys, k)
	}
	p.staticCert = staticCertificate(p.keys)
	var err error
	if p.peerID, err = fingerprint(p.staticCert); err != nil {
		return nil, err
	}
	if p.serverCert, err = serverCertificate(p.rand); err != nil {
		return nil, err
	}
	if p.startup, err = NewCodec([]byte(DefaultKey), Integrity{}); err != nil {
		return nil, err
	}
	return p, nil
}

// StartupCodec returns the codec of startup packets: the default key and
// the simple checksum. It is safe for concurrent use.
func (p *Profile) StartupCodec() profile.PacketCodec { return p.startup }

// PeerID returns the fingerprint of this endpoint's static certificate.
func (p *Profile) PeerID() profile.PeerID { return p.peerID }

// StaticCertificate returns this endpoint's static certificate: by default
// 81 02 1D 02 <128-byte group-2 public key>, otherwise one option 0x1D per
// Config.StaticGroups. It must not be modified.
func (p *Profile) StaticCertificate() []byte {
	return p.staticCert[:len(p.staticCert):len(p.staticCert)]
}

// ServerCertificate returns the 77-byte certificate this endpoint sends as
// a server. It must not be modified.
func (p *Profile) ServerCertificate() []byte {
	return p.serverCert[:len(p.serverCert):len(p.serverCert)]
}

// StaticPrivateKey returns the private exponent of the static group-2 key,
// for Config.StaticPrivateKey (nil when Config.StaticGroups has no group 2).
func (p *Profile) StaticPrivateKey() []byte {
	if p.static == nil {
		return nil
	}
	return p.static.x.Bytes()
}

// keyFor returns the static key of group g, or nil.
func (p *Profile) keyFor(g *dhGroup) *dhKey {
	for _, k := range p.keys {
		if k.g == g {
			return k
		}
	}
	return nil
}

// ParseEPD interprets an endpoint discriminator (see the function
// ParseEPD).
func (p *Profile) ParseEPD(epd []byte) (profile.EPD, error) { return ParseEPD(epd) }

// ResponderCertificate returns the static certificate for a discriminator
// that names this endpoint's peer ID, and the 77-byte server certificate for
// any other.
func (p *Profile) ResponderCertificate(epd profile.EPD) []byte {
	if epd.HasPeerID && epd.PeerID == p.peerID {
		return p.StaticCertificate()
	}
	return p.ServerCertificate()
}

// Fingerprint returns SHA-256 of the certificate's canonical part: the
// options before its first marker, or all of it without a marker.
func (p *Profile) Fingerprint(cert []byte) (profile.PeerID, error) { return fingerprint(cert) }

// newSession builds the packet protection for a completed key agreement.
func (p *Profile) newSession(k, near, far []byte, n negotiated, farCert []byte, farID profile.PeerID) (*profile.SessionCrypto, error) {
	keys := deriveKeys(k, near, far)
	var in, out Integrity
	if n.hmacSend || n.hmacRecv {
		hs, hr := keys.hmacKeys(k)
		if n.hmacSend {
			out.HMACKey, out.HMACLength = hs[:], p.pol.hmacLen
		}
		if n.hmacRecv {
			in.HMACKey, in.HMACLength = hr[:], n.hmacRecvLen
		}
	}
	out.Sequence, in.Sequence = n.seqSend, n.seqRecv
	send, err := NewCodec(keys.send[:16], out)
	if err != nil {
		return nil, err
	}
	recv, err := NewCodec(keys.recv[:16], in)
	if err != nil {
		return nil, err
	}
	return &profile.SessionCrypto{
		Send:           send,
		Recv:           recv,
		NearNonce:      keys.nearNonce[:],
		FarNonce:       keys.farNonce[:],
		NearComponent:  near,
		FarComponent:   far,
		FarCertificate: farCert,
		FarPeerID:      farID,
	}, nil
}
