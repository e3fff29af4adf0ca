// Package cookie mints and checks the stateless RHello cookies of an RTMFP
// responder (RFC 7016 §3.5.1.2).
//
// A responder answers every acceptable IHello with a cookie and keeps no
// state for it; the initiator echoes the cookie in its IIKeying. The cookie
// must therefore carry what the responder needs later, protected by a MAC
// under a secret only the responder knows. Flash Player and librtmfp accept
// exactly 64-byte cookies (rtmfp-facts §3.3, §15), so the layout fits 64:
//
//	0      version (high nibble) and certificate kind (low nibble)
//	1..4   minting time, seconds, big-endian, rounded down to Granularity
//	5..23  the initiator address the cookie was minted for:
//	       family (4 or 6), 16 address bytes, port (big-endian)
//	24..31 nonce derived from the IHello tag
//	32..63 HMAC-SHA256(secret, bytes 0..31)
//
// The time is rounded and the nonce derived from the tag so that a repeated
// IHello (same tag, same address) within a few seconds gets the identical
// cookie, as the reference servers do. A cookie presented from an address
// other than the one inside it is valid but moved: the responder answers with
// a Cookie Change (§3.5.1.3) instead of a session.
package cookie

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// Size is the cookie length Flash clients require.
const Size = 64

// Lifetime is how long a cookie stays valid (the reference implementations
// use 95 s).
const Lifetime = 95 * time.Second

// Granularity rounds the minting time.
const Granularity = 8 * time.Second

const version = 1

var (
	// ErrInvalid is returned for a cookie that was not minted here or is
	// malformed.
	ErrInvalid = errors.New("cookie: invalid")
	// ErrExpired is returned for a cookie older than Lifetime.
	ErrExpired = errors.New("cookie: expired")
)

// Jar mints and verifies cookies. It is safe for concurrent use.
type Jar struct {
	secret [32]byte
	pool   sync.Pool // *scratch
}

// scratch is one minting or verification's working memory, pooled: the
// hash's interface methods make stack arrays escape, and a responder under
// an IHello flood mints for every one.
type scratch struct {
	h   hash.Hash
	c   [Size]byte
	sum [32]byte
}

// New returns a jar with a fresh random secret.
func New() *Jar {
	j := &Jar{}
	if _, err := rand.Read(j.secret[:]); err != nil {
		panic("cookie: no randomness: " + err.Error())
	}
	j.pool.New = func() any { return &scratch{h: hmac.New(sha256.New, j.secret[:])} }
	return j
}

// Info is what a verified cookie carries.
type Info struct {
	Kind   byte           // certificate kind chosen when minting (0..15)
	Minted time.Time      // rounded minting time
	Addr   netip.AddrPort // address the cookie was minted for
}

// Mint appends a cookie for an IHello from addr with the given tag, answered
// with certificate kind (0..15), to dst.
func (j *Jar) Mint(dst []byte, now time.Time, addr netip.AddrPort, tag []byte, kind byte) []byte {
	s := j.pool.Get().(*scratch)
	defer j.pool.Put(s)
	c := &s.c
	c[0] = version<<4 | kind&0x0f
	ts := now.Unix() / int64(Granularity/time.Second) * int64(Granularity/time.Second)
	binary.BigEndian.PutUint32(c[1:5], uint32(ts))
	putAddr(c[5:24], addr)
	// The nonce: 'n' ‖ time ‖ address ‖ tag, hashed.
	h := s.h
	h.Reset()
	s.sum[0] = 'n'
	h.Write(s.sum[:1])
	h.Write(c[1:24])
	h.Write(tag)
	h.Sum(s.sum[:0])
	copy(c[24:32], s.sum[:8])
	h.Reset()
	h.Write(c[:32])
	h.Sum(c[32:32])
	return append(dst, c[:]...)
}

// Verify checks a cookie at now. It returns ErrInvalid or ErrExpired, or the
// cookie's content.
func (j *Jar) Verify(c []byte, now time.Time) (Info, error) {
	if len(c) != Size || c[0]>>4 != version {
		return Info{}, ErrInvalid
	}
	s := j.pool.Get().(*scratch)
	s.h.Reset()
	s.h.Write(c[:32])
	s.h.Sum(s.sum[:0])
	ok := hmac.Equal(s.sum[:], c[32:])
	j.pool.Put(s)
	if !ok {
		return Info{}, ErrInvalid
	}
	minted := time.Unix(int64(binary.BigEndian.Uint32(c[1:5])), 0)
	if age := now.Sub(minted); age > Lifetime+Granularity || age < -Granularity {
		return Info{}, ErrExpired
	}
	addr, ok := getAddr(c[5:24])
	if !ok {
		return Info{}, ErrInvalid
	}
	return Info{Kind: c[0] & 0x0f, Minted: minted, Addr: addr}, nil
}

func putAddr(b []byte, a netip.AddrPort) {
	ip := a.Addr()
	if ip.Is4() {
		b[0] = 4
		v := ip.As4()
		copy(b[1:], v[:])
	} else {
		b[0] = 6
		v := ip.As16()
		copy(b[1:], v[:])
	}
	binary.BigEndian.PutUint16(b[17:19], a.Port())
}

func getAddr(b []byte) (netip.AddrPort, bool) {
	port := binary.BigEndian.Uint16(b[17:19])
	switch b[0] {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[1:5])), port), true
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[1:17])), port), true
	}
	return netip.AddrPort{}, false
}
