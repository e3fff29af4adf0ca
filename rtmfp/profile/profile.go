// Package profile defines the cryptography profile seam of RFC 7016 §2.2.
//
// RFC 7016 leaves packet protection, certificates, key agreement and the
// meaning of endpoint discriminators to a cryptography profile. The rtmfp
// engine talks to a profile only through the interfaces here; the Flash
// Communication profile of RFC 7425 lives in package flash, and package plain
// holds a profile without real cryptography for tests and fuzzing.
//
// Ownership: a Profile and its StartupCodec are used from several goroutines
// at once and must be safe for that. An Initiator, and the two PacketCodecs of
// a SessionCrypto, are owned by one goroutine (the session's) and need no
// locking.
package profile

import (
	"encoding/hex"
	"errors"
)

// PeerID is the fingerprint of an endpoint's certificate: in the Flash
// profile, SHA-256 of the certificate's canonical part (RFC 7425 §4.4).
type PeerID [32]byte

// String returns the 64 lowercase hex characters Flash shows as nearID/farID.
func (p PeerID) String() string { return hex.EncodeToString(p[:]) }

// ParsePeerID parses 64 hex characters (either case).
func ParsePeerID(s string) (PeerID, error) {
	var p PeerID
	if len(s) != 64 {
		return p, errors.New("profile: a peer ID is 64 hex characters")
	}
	if _, err := hex.Decode(p[:], []byte(s)); err != nil {
		return p, errors.New("profile: a peer ID is 64 hex characters")
	}
	return p, nil
}

// EPD is the meaning of an endpoint discriminator (RFC 7016 §2.3.2,
// RFC 7425 §4.4.2), as the profile understands it.
type EPD struct {
	// Raw is the discriminator as received or sent.
	Raw []byte
	// HasPeerID is set when the discriminator names a peer by fingerprint;
	// PeerID is then that fingerprint.
	HasPeerID bool
	PeerID    PeerID
	// Ancillary is the ancillary data; Flash puts the connection URL (or,
	// for librtmfp, only its path) here.
	Ancillary string
	// Hostname is the required hostname, if any.
	Hostname string
}

// Profile is one endpoint's cryptographic identity together with the
// algorithms of a cryptography profile.
type Profile interface {
	// StartupCodec protects startup packets: those with session ID 0 and
	// the RIKeying and Cookie Change packets sent with the initiator's
	// session ID (RFC 7016 §2.3.1 and §4.4.1 of RFC 7425). It is safe for
	// concurrent use.
	StartupCodec() PacketCodec

	// PeerID is this endpoint's own fingerprint: the peer ID by which
	// others can reach it with an IHello and the nearID of its sessions.
	PeerID() PeerID

	// ParseEPD interprets an endpoint discriminator.
	ParseEPD(epd []byte) (EPD, error)

	// ResponderCertificate returns the certificate this endpoint puts in an
	// RHello that answers an IHello for epd. The Flash profile answers a
	// discriminator naming its peer ID with its static certificate, and any
	// other with the 77-byte server certificate that Flash and librtmfp
	// expect. The result must not be modified.
	ResponderCertificate(epd EPD) []byte

	// Fingerprint returns the fingerprint of any certificate.
	Fingerprint(cert []byte) (PeerID, error)

	// NewInitiator starts the initiator's half of a handshake towards the
	// endpoint that epd discriminates.
	NewInitiator(epd []byte) (Initiator, error)

	// Respond runs the responder's half of the key agreement for an
	// IIKeying. responderCert is the certificate this endpoint sent in the
	// RHello whose cookie the IIKeying echoes; initiatorCert and skic come
	// from the IIKeying. It returns the responder session key component for
	// the RIKeying and the session's packet protection.
	Respond(responderCert, initiatorCert, skic []byte) (skrc []byte, sc *SessionCrypto, err error)
}

// Initiator is the initiator's state during one handshake.
type Initiator interface {
	// Keying checks the responder certificate received in RHello against the
	// endpoint discriminator and returns the initiator certificate and the
	// initiator session key component for the IIKeying.
	Keying(responderCert []byte) (initiatorCert, skic []byte, err error)
	// Finish completes the key agreement with the responder session key
	// component of the RIKeying.
	Finish(skrc []byte) (*SessionCrypto, error)
}

// SessionCrypto is the negotiated protection of one established session.
type SessionCrypto struct {
	// Send protects the packets this endpoint sends; Recv checks and
	// decrypts the packets it receives.
	Send, Recv PacketCodec
	// NearNonce and FarNonce are the session nonces of RFC 7425 §4.6:
	// HMAC-SHA256(K, own component) and HMAC-SHA256(K, far component). The
	// NetGroup key is derived from them.
	NearNonce, FarNonce []byte
	// NearComponent and FarComponent are the exact session key components
	// this endpoint sent and received.
	NearComponent, FarComponent []byte
	// FarCertificate is the far endpoint's certificate and FarPeerID its
	// fingerprint.
	FarCertificate []byte
	FarPeerID      PeerID
}

// PacketCodec protects packets in one direction. Body is everything from the
// flags byte on: flags, the optional timestamp and echo, and the chunks.
type PacketCodec interface {
	// Overhead is the most bytes Seal adds to a body (integrity prefix,
	// padding, trailer). A sender keeps 4 + len(body) + Overhead() within
	// the path MTU.
	Overhead() int
	// Seal appends to dst the protected packet for body: the bytes that
	// follow the 4-byte scrambled session ID field on the wire. It never
	// keeps body or dst. The result is at least 8 bytes long (the session
	// ID scrambling reads them).
	Seal(dst, body []byte) []byte
	// Open checks the integrity of pkt (the datagram after its 4-byte
	// session ID field), decrypts it in place and returns the body, which
	// aliases pkt. Trailing padding is left in place: the chunk loop stops
	// at it. A packet that fails is reported with an error and must be
	// dropped.
	Open(pkt []byte) ([]byte, error)
}

// ErrIntegrity is returned by Open for a packet whose checksum or HMAC does
// not match, or which is too short or misaligned to be a packet.
var ErrIntegrity = errors.New("profile: packet failed its integrity check")

// ErrReplay is returned by Open for a packet whose session sequence number
// was already seen or is too old.
var ErrReplay = errors.New("profile: replayed packet")
