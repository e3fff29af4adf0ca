package group

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Key is the 32-byte group key of a P2P group init message: it proves to
// the far peer that the sender knows the groupspec text.
type Key [32]byte

// Nonce computes a session nonce, HMAC-SHA256(K, component), from the
// Diffie-Hellman shared secret K (big-endian, as the DH computation returns
// it) and a session key component as it was sent in IIKeying or RIKeying
// (RFC 7425 §4.6; profile.SessionCrypto carries both nonces of a session).
func Nonce(sharedSecret, component []byte) []byte {
	m := hmac.New(sha256.New, sharedSecret)
	m.Write(component)
	return m.Sum(nil)
}

// ComputeKey returns HMAC-SHA256(key = groupTxt, message = nonce).
//
// In a P2P session, the key a member sends in its group init is
// ComputeKey(groupTxt, farNonce) and the key it expects from the far peer is
// ComputeKey(groupTxt, nearNonce), where farNonce = HMAC-SHA256(K, far
// component) and nearNonce = HMAC-SHA256(K, own component) (librtmfp
// P2PSession::buildGroupKey; checked on all three P2P sessions of the
// c_netgroup trace). groupTxt is the spec text up to the marker
// (Spec.GroupTxt).
func ComputeKey(groupTxt string, nonce []byte) Key {
	m := hmac.New(sha256.New, []byte(groupTxt))
	m.Write(nonce)
	return Key(m.Sum(nil))
}

// SessionKeys returns the key to send and the key to expect on a P2P
// session whose negotiated crypto is sc.
func SessionKeys(groupTxt string, sc *profile.SessionCrypto) (send, expect Key) {
	return ComputeKey(groupTxt, sc.FarNonce), ComputeKey(groupTxt, sc.NearNonce)
}

// Equal compares two keys in constant time.
func (k Key) Equal(o Key) bool { return hmac.Equal(k[:], o[:]) }
