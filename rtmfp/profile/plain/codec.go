package plain

import (
	"encoding/binary"
	"hash/crc32"
	"slices"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// minPacket is the least Seal produces: the session ID scrambling of RFC
// 7016 §2.2.1 reads 8 bytes after the session ID field, and an endpoint
// drops datagrams shorter than 20 bytes (the session ID field and one AES
// block, the least a Flash-profile packet holds), so a plain packet is at
// least as long.
const minPacket = 16

// StartupKey is the key of the startup codec.
const StartupKey uint32 = 0x5354_4152 // "STAR"

// Codec frames packets with a keyed CRC-32C. It keeps no state and is safe
// for concurrent use.
type Codec struct {
	key uint32
}

var _ profile.PacketCodec = Codec{}

// NewCodec returns the codec for a 32-bit key.
func NewCodec(key uint32) Codec { return Codec{key: key} }

// Overhead is the check plus the padding of an empty body.
func (c Codec) Overhead() int { return minPacket }

// Seal appends check ‖ body ‖ padding to dst.
func (c Codec) Seal(dst, body []byte) []byte {
	n := max(4+len(body), minPacket)
	off := len(dst)
	dst = slices.Grow(dst, n)[:off+n]
	p := dst[off:]
	copy(p[4:], body)
	for i := 4 + len(body); i < n; i++ {
		p[i] = 0xff
	}
	binary.BigEndian.PutUint32(p, crc32.Update(c.key, castagnoli, p[4:]))
	return dst
}

// Open checks pkt and returns the body and padding that follow the check.
// pkt is not modified.
func (c Codec) Open(pkt []byte) ([]byte, error) {
	if len(pkt) < minPacket || binary.BigEndian.Uint32(pkt) != crc32.Update(c.key, castagnoli, pkt[4:]) {
		return nil, profile.ErrIntegrity
	}
	return pkt[4:], nil
}
