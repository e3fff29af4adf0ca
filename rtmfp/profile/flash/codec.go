package flash

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"slices"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// DefaultKey is the AES-128 key of startup packets, "Adobe Systems 02"
// (RFC 7425 §4.1).
const DefaultKey = "Adobe Systems 02"

// HMAC lengths allowed by RFC 7425 §4.6.4.
const (
	MinHMACLength = 4
	MaxHMACLength = 32
)

// Integrity selects how a Codec protects packets besides encrypting them
// (RFC 7425 §4.6): the zero value is the simple checksum form.
type Integrity struct {
	// HMACKey, when HMACLength > 0, is the HMAC-SHA256 key; the packet then
	// ends with the first HMACLength bytes of HMAC-SHA256 over the
	// ciphertext, and carries no checksum.
	HMACKey    []byte
	HMACLength int
	// Sequence puts a session sequence number (a VLU counting from 0) at
	// the start of the plaintext; a receiving codec refuses repeats.
	Sequence bool
}

// Codec protects packets in one direction with AES-128-CBC (an all-zero IV
// for every packet), 0xFF padding to a multiple of 16 bytes and one of the
// integrity forms of RFC 7425 §4.6. The plaintext of a packet is
//
//	[session sequence number VLU] [checksum, 2 bytes] body 0xFF…
//
// where the checksum is present unless HMAC is used, and covers every byte
// after it. With HMAC the truncated HMAC-SHA256 of the ciphertext follows
// the ciphertext.
//
// A Codec without HMAC and sequence numbers keeps no state and may be used
// from any number of goroutines. Otherwise it belongs to one goroutine: Seal
// advances the sequence number, Open updates the replay window and both use
// scratch space for the HMAC.
type Codec struct {
	block   cipher.Block
	mac     hash.Hash // nil without HMAC
	hmacLen int
	seq     bool
	nextSeq uint64
	window  replayWindow
	macSum  [sha256.Size]byte
}

var _ profile.PacketCodec = (*Codec)(nil)

// NewCodec returns a codec for the 16-byte key and integrity form.
func NewCodec(key []byte, in Integrity) (*Codec, error) {
	if len(key) != 16 {
		return nil, errors.New("flash: packet key must be 16 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	c := &Codec{block: block, seq: in.Sequence}
	if in.HMACLength != 0 {
		if in.HMACLength < MinHMACLength || in.HMACLength > MaxHMACLength {
			return nil, errors.New("flash: HMAC length must be 4 to 32 bytes")
		}
		c.hmacLen = in.HMACLength
		c.mac = hmac.New(sha256.New, in.HMACKey)
	}
	return c, nil
}

// maxSeqLen is the sequence number length Overhead reserves: 4 bytes covers
// the first 2^28 packets of a session; beyond that Overhead grows with the
// counter.
const maxSeqLen = 4

// Overhead returns the most bytes Seal adds to a body now: the sequence
// number and checksum, up to 15 bytes of padding and the HMAC.
func (c *Codec) Overhead() int {
	prefix := 0
	if c.hmacLen == 0 {
		prefix = 2
	}
	if c.seq {
		prefix += max(maxSeqLen, vlu.Len(c.nextSeq))
	}
	// An empty body still makes one block.
	return max(aes.BlockSize, prefix+15) + c.hmacLen
}

// Prefix is the number of bytes the next Seal puts in front of the body
// (sequence number, checksum): a body built at dst[len(dst)+Prefix():] is
// sealed in place, without being copied.
func (c *Codec) Prefix() int {
	prefix := 0
	if c.seq {
		prefix = vlu.Len(c.nextSeq)
	}
	if c.hmacLen == 0 {
		prefix += 2
	}
	return prefix
}

// Seal appends the protected form of body to dst. body may alias the bytes
// that follow len(dst) (a caller can build the body in place, leaving
// Prefix bytes in front of it); it must not alias dst[:len(dst)].
func (c *Codec) Seal(dst, body []byte) []byte {
	prefix := c.Prefix()
	plainLen := max(aes.BlockSize, (prefix+len(body)+15)&^15)
	total := plainLen + c.hmacLen
	off := len(dst)
	dst = slices.Grow(dst, total)[:off+total]
	p := dst[off : off+plainLen]

	if len(body) > 0 && &p[prefix] != &body[0] {
		copy(p[prefix:], body)
	}
	for i := prefix + len(body); i < plainLen; i++ {
		p[i] = 0xff
	}
	i := 0
	if c.seq {
		i = len(vlu.Append(p[:0], c.nextSeq))
		c.nextSeq++
	}
	if c.hmacLen == 0 {
		binary.BigEndian.PutUint16(p[i:], checksum(p[i+2:]))
	}
	cbcEncrypt(c.block, p)
	if c.mac != nil {
		c.mac.Reset()
		c.mac.Write(p)
		sum := c.mac.Sum(c.macSum[:0])
		copy(dst[off+plainLen:], sum[:c.hmacLen])
	}
	return dst
}

// Open checks and decrypts pkt in place and returns the body that follows
// the sequence number and checksum, padding included. A packet that fails
// is reported with profile.ErrIntegrity (bad length, HMAC or checksum) or
// profile.ErrReplay, and pkt is then left as it was, so the caller may try
// another codec on it.
func (c *Codec) Open(pkt []byte) ([]byte, error) {
	n := len(pkt) - c.hmacLen
	if n <= 0 || n%16 != 0 {
		return nil, profile.ErrIntegrity
	}
	if c.mac != nil {
		c.mac.Reset()
		c.mac.Write(pkt[:n])
		sum := c.mac.Sum(c.macSum[:0])
		if subtle.ConstantTimeCompare(sum[:c.hmacLen], pkt[n:]) != 1 {
			return nil, profile.ErrIntegrity
		}
	}
	p := pkt[:n]
	cbcDecrypt(c.block, p)
	i := 0
	var seq uint64
	if c.seq {
		v, k, err := vlu.Parse(p)
		if err != nil {
			cbcEncrypt(c.block, p)
			return nil, profile.ErrIntegrity
		}
		seq, i = v, k
	}
	if c.hmacLen == 0 {
		if len(p)-i < 2 || binary.BigEndian.Uint16(p[i:]) != checksum(p[i+2:]) {
			cbcEncrypt(c.block, p)
			return nil, profile.ErrIntegrity
		}
		i += 2
	}
	if c.seq {
		if !c.window.fresh(seq) {
			cbcEncrypt(c.block, p)
			return nil, profile.ErrReplay
		}
		c.window.add(seq)
	}
	return p[i:], nil
}

// cbcEncrypt encrypts p (a multiple of 16 bytes) in place in CBC mode with a
// zero IV. Working in place needs no scratch block, so nothing is allocated
// and the block (safe for concurrent use) is the only shared state.
func cbcEncrypt(b cipher.Block, p []byte) {
	for i := 0; i < len(p); i += aes.BlockSize {
		blk := p[i : i+aes.BlockSize]
		if i > 0 {
			subtle.XORBytes(blk, blk, p[i-aes.BlockSize:i])
		}
		b.Encrypt(blk, blk)
	}
}

// cbcDecrypt decrypts p in place, last block first, so that the previous
// ciphertext block is still intact when each block is unchained.
func cbcDecrypt(b cipher.Block, p []byte) {
	for i := len(p) - aes.BlockSize; i >= 0; i -= aes.BlockSize {
		blk := p[i : i+aes.BlockSize]
		b.Decrypt(blk, blk)
		if i > 0 {
			subtle.XORBytes(blk, blk, p[i-aes.BlockSize:i])
		}
	}
}
