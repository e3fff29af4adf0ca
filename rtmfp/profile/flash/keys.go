package flash

import (
	"crypto/hmac"
	"crypto/sha256"
)

// sessionKeys is the key material RFC 7425 §4.6 derives from the shared
// secret K and the two session key components.
type sessionKeys struct {
	// send and recv are the full HMAC outputs whose first 16 bytes are the
	// AES-128 keys this end encrypts and decrypts with.
	send, recv [sha256.Size]byte
	// nearNonce = HMAC-SHA256(K, near component), farNonce likewise.
	nearNonce, farNonce [sha256.Size]byte
}

func hmacSHA256(key []byte, msg ...[]byte) (out [sha256.Size]byte) {
	m := hmac.New(sha256.New, key)
	for _, b := range msg {
		m.Write(b)
	}
	m.Sum(out[:0])
	return out
}

// deriveKeys computes, for the end that sent near and received far:
//
//	send = HMAC-SHA256(K, HMAC-SHA256(far, near))
//	recv = HMAC-SHA256(K, HMAC-SHA256(near, far))
//
// so the initiator's send key is the responder's receive key.
func deriveKeys(k, near, far []byte) sessionKeys {
	var s sessionKeys
	md := hmacSHA256(far, near)
	s.send = hmacSHA256(k, md[:])
	md = hmacSHA256(near, far)
	s.recv = hmacSHA256(k, md[:])
	s.nearNonce = hmacSHA256(k, near)
	s.farNonce = hmacSHA256(k, far)
	return s
}

// hmacKeys returns the packet HMAC keys: HMAC-SHA256(K, full send output)
// for sending and HMAC-SHA256(K, full receive output) for receiving (as
// rtmfp-cpp derives them; see testdata/rtmfp-traces/SOURCE.md).
func (s *sessionKeys) hmacKeys(k []byte) (send, recv [sha256.Size]byte) {
	return hmacSHA256(k, s.send[:]), hmacSHA256(k, s.recv[:])
}
