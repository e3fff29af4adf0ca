package group

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/bits"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// RawPeerIDLen is the size of a raw peer ID: 21 0F ‖ 32-byte peer ID.
const RawPeerIDLen = 34

// rawPrefix is the option header of a peer ID in an endpoint discriminator
// (length 0x21, type 0x0F, RFC 7425 §4.4.2), reused by NetGroup messages.
var rawPrefix = [2]byte{0x21, 0x0F}

// RawPeerID returns 21 0F ‖ id, the form NetGroup messages carry.
func RawPeerID(id profile.PeerID) [RawPeerIDLen]byte {
	var r [RawPeerIDLen]byte
	copy(r[:2], rawPrefix[:])
	copy(r[2:], id[:])
	return r
}

// ParseRawPeerID returns the peer ID of a 34-byte raw peer ID.
func ParseRawPeerID(b []byte) (profile.PeerID, bool) {
	if len(b) != RawPeerIDLen || b[0] != rawPrefix[0] || b[1] != rawPrefix[1] {
		return profile.PeerID{}, false
	}
	return profile.PeerID(b[2:]), true
}

// Address is a member's position on the group ring: SHA-256 of its raw peer
// ID (librtmfp NetGroup::GetGroupAddressFromPeerId, MonaServer2 RTMFP.h).
type Address [32]byte

// AddressOf computes the group address of a peer.
func AddressOf(id profile.PeerID) Address {
	r := RawPeerID(id)
	return sha256.Sum256(r[:])
}

// String returns the address as 64 lowercase hex characters; librtmfp
// orders addresses by this text, which is the same order as Compare.
func (a Address) String() string { return hex.EncodeToString(a[:]) }

// Compare orders addresses as 256-bit big-endian numbers.
func (a Address) Compare(b Address) int { return bytes.Compare(a[:], b[:]) }

// Prefix64 returns the first 64 bits of the address, the precision
// librtmfp uses to estimate the group size.
func (a Address) Prefix64() uint64 { return binary.BigEndian.Uint64(a[:8]) }

// Clockwise returns (to − from) mod 2^256: how far to lies after from
// going up the ring.
func Clockwise(from, to Address) Address {
	var d Address
	var borrow uint64
	for i := 24; i >= 0; i -= 8 {
		x := binary.BigEndian.Uint64(to[i:])
		y := binary.BigEndian.Uint64(from[i:])
		r, b := bits.Sub64(x, y, borrow)
		binary.BigEndian.PutUint64(d[i:], r)
		borrow = b
	}
	return d
}

// Distance returns the shorter of the two ways around the ring between a
// and b.
func Distance(a, b Address) Address {
	cw, ccw := Clockwise(a, b), Clockwise(b, a)
	if cw.Compare(ccw) <= 0 {
		return cw
	}
	return ccw
}
