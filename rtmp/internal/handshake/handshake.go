// Package handshake implements the RTMP handshake over a byte stream (RTMP
// specification 1.0 §5.2): C0/C1/C2 from the client, S0/S1/S2 from the
// server, each of C1/S1/C2/S2 1536 bytes.
//
// Two forms exist. The plain form of the specification puts a time, four
// zero bytes and 1528 random bytes in C1/S1, and C2/S2 echo the peer's
// C1/S1. The digest form, which Flash Player 9.0.115 and later, Flash Media
// Encoder, Flash Media Server, nginx-rtmp and ffmpeg use, puts a non-zero
// version in bytes 4–7 and an HMAC-SHA256 digest inside the random bytes at
// a position derived from the bytes themselves (see [DigestOffset]); C2/S2
// then end with a signature keyed from the peer's digest. A server answers a
// client's digest with a digest S1 and the S2 derived from it, and a plain
// C1 with a plain S1/S2, as Flash Media Server does.
//
// Only version 3 (unencrypted RTMP) is supported: C0 = 6 (RTMPE) and other
// versions are refused. The functions here do blocking I/O on what they are
// given; the caller bounds them with deadlines.
package handshake

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sizes and versions.
const (
	// Size is the size of C1, C2, S1 and S2.
	Size = 1536
	// Version is the only RTMP version (C0/S0 byte) accepted and sent.
	Version = 3
	// versionEncrypted is the C0 of RTMPE, which is not supported.
	versionEncrypted = 6
)

// Version fields put in bytes 4–7 of a digest C1 and S1. Peers only test them
// for zero (plain) or not; ffmpeg also wants the server's first byte to be 3
// or more before it looks for a digest.
var (
	ClientVersion = [4]byte{9, 0, 124, 2}
	ServerVersion = [4]byte{4, 5, 0, 1}
)

// Errors. I/O errors are wrapped with the step that failed.
var (
	// ErrVersion means C0 or S0 is not 3.
	ErrVersion = errors.New("rtmp handshake: unsupported version")
	// ErrSignature means the peer's S2 does not carry the signature derived
	// from our C1 digest although its S1 carried a valid digest.
	ErrSignature = errors.New("rtmp handshake: S2 signature mismatch")
)

// Result describes a completed handshake.
type Result struct {
	// Digest reports that the digest form was used in both directions.
	Digest bool
	// Scheme is the digest position scheme in use when Digest is set.
	Scheme Scheme
	// PeerTime and PeerVersion are the first eight bytes of the peer's C1/S1.
	PeerTime    uint32
	PeerVersion [4]byte
	// ResponseOK reports that the peer's C2/S2 echoed (plain) or signed
	// (digest) our C1/S1 as expected. A client fails on a bad digest S2; a
	// server only records a bad C2, as Flash Media Server does.
	ResponseOK bool
}

// ClientOptions configures the client side.
type ClientOptions struct {
	// Digest makes the client send a digest C1 (with Scheme).
	Digest bool
	Scheme Scheme
	// Rand is the source of the random bytes; nil means crypto/rand.
	Rand io.Reader
}

// Client runs the client side of the handshake on rw.
func Client(rw io.ReadWriter, o ClientOptions) (Result, error) {
	var res Result
	c01 := make([]byte, 1+Size)
	c01[0] = Version
	c1 := c01[1:]
	if err := fill(c1, o.Rand); err != nil {
		return res, err
	}
	binary.BigEndian.PutUint32(c1, now())
	var ourDigest []byte
	if o.Digest {
		copy(c1[4:8], ClientVersion[:])
		ourDigest = SignDigest(c1, o.Scheme, ClientKey)
	} else {
		clear(c1[4:8])
	}
	if _, err := rw.Write(c01); err != nil {
		return res, fmt.Errorf("rtmp handshake: writing C0+C1: %w", err)
	}
	s012 := make([]byte, 1+2*Size)
	if _, err := io.ReadFull(rw, s012[:1]); err != nil {
		return res, fmt.Errorf("rtmp handshake: reading S0: %w", err)
	}
	if s012[0] != Version {
		return res, fmt.Errorf("%w: S0 is %d", ErrVersion, s012[0])
	}
	if _, err := io.ReadFull(rw, s012[1:]); err != nil {
		return res, fmt.Errorf("rtmp handshake: reading S1+S2: %w", err)
	}
	s1, s2 := s012[1:1+Size], s012[1+Size:]
	res.PeerTime = binary.BigEndian.Uint32(s1)
	copy(res.PeerVersion[:], s1[4:8])
	c2 := make([]byte, Size)
	peerDigest, scheme, ok := []byte(nil), Scheme0, false
	if o.Digest {
		peerDigest, scheme, ok = FindDigest(s1, ServerKey)
	}
	if ok {
		if !checkResponse(s2, ourDigest, ServerFullKey) {
			return res, ErrSignature
		}
		res.Digest, res.Scheme, res.ResponseOK = true, scheme, true
		if err := fill(c2[:Size-DigestSize], o.Rand); err != nil {
			return res, err
		}
		signResponse(c2, peerDigest, ClientFullKey)
	} else {
		// Plain: echo S1 with our read time, and see whether S2 echoes C1.
		res.ResponseOK = string(s2[8:]) == string(c1[8:])
		copy(c2, s1)
		binary.BigEndian.PutUint32(c2[4:], now())
	}
	if _, err := rw.Write(c2); err != nil {
		return res, fmt.Errorf("rtmp handshake: writing C2: %w", err)
	}
	return res, nil
}

// ServerOptions configures the server side.
type ServerOptions struct {
	// Rand is the source of the random bytes; nil means crypto/rand.
	Rand io.Reader
}

// Server runs the server side of the handshake on rw. It reads C0 and C1,
// then answers with S0, S1 and S2 in one write, then reads C2.
func Server(rw io.ReadWriter, o ServerOptions) (Result, error) {
	var res Result
	c01 := make([]byte, 1+Size)
	if _, err := io.ReadFull(rw, c01[:1]); err != nil {
		return res, fmt.Errorf("rtmp handshake: reading C0: %w", err)
	}
	switch c01[0] {
	case Version:
	case versionEncrypted:
		return res, fmt.Errorf("%w: C0 is 6 (RTMPE, encrypted RTMP, is not supported)", ErrVersion)
	default:
		return res, fmt.Errorf("%w: C0 is %d", ErrVersion, c01[0])
	}
	if _, err := io.ReadFull(rw, c01[1:]); err != nil {
		return res, fmt.Errorf("rtmp handshake: reading C1: %w", err)
	}
	c1 := c01[1:]
	res.PeerTime = binary.BigEndian.Uint32(c1)
	copy(res.PeerVersion[:], c1[4:8])

	s012 := make([]byte, 1+2*Size)
	s012[0] = Version
	s1, s2 := s012[1:1+Size], s012[1+Size:]
	if err := fill(s1, o.Rand); err != nil {
		return res, err
	}
	binary.BigEndian.PutUint32(s1, now())
	var ourDigest []byte
	peerDigest, scheme, ok := []byte(nil), Scheme0, false
	if res.PeerVersion != [4]byte{} {
		peerDigest, scheme, ok = FindDigest(c1, ClientKey)
	}
	if ok {
		res.Digest, res.Scheme = true, scheme
		copy(s1[4:8], ServerVersion[:])
		ourDigest = SignDigest(s1, scheme, ServerKey)
		if err := fill(s2[:Size-DigestSize], o.Rand); err != nil {
			return res, err
		}
		signResponse(s2, peerDigest, ServerFullKey)
	} else {
		clear(s1[4:8])
		copy(s2, c1)
		binary.BigEndian.PutUint32(s2[4:], now())
	}
	if _, err := rw.Write(s012); err != nil {
		return res, fmt.Errorf("rtmp handshake: writing S0+S1+S2: %w", err)
	}
	c2 := c01[1:] // C1 is no longer needed; ourDigest points into S1
	if _, err := io.ReadFull(rw, c2); err != nil {
		return res, fmt.Errorf("rtmp handshake: reading C2: %w", err)
	}
	if res.Digest {
		res.ResponseOK = checkResponse(c2, ourDigest, ClientFullKey)
	} else {
		res.ResponseOK = string(c2[8:]) == string(s1[8:])
	}
	return res, nil
}

// fill fills p with random bytes from r (crypto/rand when nil).
func fill(p []byte, r io.Reader) error {
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, p); err != nil {
		return fmt.Errorf("rtmp handshake: random bytes: %w", err)
	}
	return nil
}

// now is the handshake time field: milliseconds, wrapping at 2^32. Tests
// replaying recorded exchanges replace it.
var now = func() uint32 { return uint32(time.Now().UnixMilli()) }
