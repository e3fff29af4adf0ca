package handshake

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DigestSize is the size of the HMAC-SHA256 digest embedded in C1/S1 and
// appended to C2/S2.
const DigestSize = sha256.Size

// The digest handshake splits the 1528 bytes after a C1/S1's time and version
// fields into two 764-byte blocks. One of them carries the digest: its first
// four bytes, summed and reduced modulo 728, give the digest's position
// after those four bytes.
const (
	blockSize     = 764
	offsetModulus = blockSize - DigestSize - 4 // 728
	blockA        = 8                          // first block, after time and version
	blockB        = blockA + blockSize         // 772, second block
)

// Scheme says where a C1/S1 carries its digest.
type Scheme int

const (
	// Scheme0 puts the key block first and the digest block second (the
	// digest block starts at byte 772): Flash Player 9 style.
	Scheme0 Scheme = 0
	// Scheme1 puts the digest block first (it starts at byte 8): Flash Player
	// 10 and ffmpeg style.
	Scheme1 Scheme = 1
)

// String names the scheme.
func (s Scheme) String() string {
	switch s {
	case Scheme0:
		return "scheme 0 (digest block at 772)"
	case Scheme1:
		return "scheme 1 (digest block at 8)"
	}
	return "unknown scheme"
}

// Key material of the digest handshake: an ASCII name followed by a fixed
// 32-byte tail. Digests in C1 are keyed with the client name alone, in S1
// with the server name alone; the keys that sign C2/S2 are derived with the
// full 62- and 68-byte keys.
var (
	keyTail = []byte{
		0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8,
		0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
		0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab,
		0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
	}
	clientName = []byte("Genuine Adobe Flash Player 001")
	serverName = []byte("Genuine Adobe Flash Media Server 001")

	// ClientKey keys the digest of C1 (30 bytes).
	ClientKey = clientName
	// ServerKey keys the digest of S1 (36 bytes).
	ServerKey = serverName
	// ClientFullKey derives the key that signs C2 (62 bytes).
	ClientFullKey = append(append([]byte{}, clientName...), keyTail...)
	// ServerFullKey derives the key that signs S2 (68 bytes).
	ServerFullKey = append(append([]byte{}, serverName...), keyTail...)
)

// DigestOffset returns where the digest of a 1536-byte C1/S1 sits under the
// given scheme. p must hold at least Size bytes.
func DigestOffset(p []byte, s Scheme) int {
	base := blockA
	if s == Scheme0 {
		base = blockB
	}
	sum := int(p[base]) + int(p[base+1]) + int(p[base+2]) + int(p[base+3])
	return base + 4 + sum%offsetModulus
}

// hmacSHA256 returns HMAC-SHA256 with key over the concatenation of parts.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// computeDigest returns the digest of a C1/S1 whose digest sits at off: the
// HMAC of every byte but the 32 at off.
func computeDigest(p []byte, off int, key []byte) []byte {
	return hmacSHA256(key, p[:off], p[off+DigestSize:Size])
}

// SignDigest writes the digest of p at the scheme's offset and returns it.
func SignDigest(p []byte, s Scheme, key []byte) []byte {
	off := DigestOffset(p, s)
	d := computeDigest(p, off, key)
	copy(p[off:], d)
	return p[off : off+DigestSize]
}

// FindDigest looks for a valid digest in a C1/S1, trying scheme 0 then
// scheme 1. It returns the digest and its scheme, or ok false.
func FindDigest(p []byte, key []byte) (digest []byte, s Scheme, ok bool) {
	if len(p) < Size {
		return nil, 0, false
	}
	for _, s := range []Scheme{Scheme0, Scheme1} {
		off := DigestOffset(p, s)
		if hmac.Equal(computeDigest(p, off, key), p[off:off+DigestSize]) {
			return p[off : off+DigestSize], s, true
		}
	}
	return nil, 0, false
}

// signResponse writes the signature of a C2/S2 in its last 32 bytes. The
// signature key is the HMAC, keyed with fullKey, of the digest the peer put
// in its C1/S1.
func signResponse(p []byte, peerDigest, fullKey []byte) {
	k := hmacSHA256(fullKey, peerDigest)
	copy(p[Size-DigestSize:], hmacSHA256(k, p[:Size-DigestSize]))
}

// checkResponse reports whether a C2/S2 carries the signature derived from
// the digest we sent in our C1/S1.
func checkResponse(p []byte, ourDigest, fullKey []byte) bool {
	k := hmacSHA256(fullKey, ourDigest)
	return hmac.Equal(hmacSHA256(k, p[:Size-DigestSize]), p[Size-DigestSize:Size])
}
