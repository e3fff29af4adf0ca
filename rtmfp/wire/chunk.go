package wire

// Chunk type codes (RFC 7016 §2.3). Types 0x00 and 0xFF are padding.
const (
	TypeIHello        byte = 0x30 // Initiator Hello, §2.3.2
	TypeFIHello       byte = 0x0F // Forwarded Initiator Hello, §2.3.3
	TypeRHello        byte = 0x70 // Responder Hello, §2.3.4
	TypeRedirect      byte = 0x71 // Responder Redirect, §2.3.5
	TypeCookieChange  byte = 0x79 // RHello Cookie Change, §2.3.6
	TypeIIKeying      byte = 0x38 // Initiator Initial Keying, §2.3.7
	TypeRIKeying      byte = 0x78 // Responder Initial Keying, §2.3.8
	TypePing          byte = 0x01 // Ping, §2.3.9
	TypePingReply     byte = 0x41 // Ping Reply, §2.3.10
	TypeUserData      byte = 0x10 // User Data, §2.3.11
	TypeNextUserData  byte = 0x11 // Next User Data, §2.3.12
	TypeAckBitmap     byte = 0x50 // Data Acknowledgement Bitmap, §2.3.13
	TypeAckRanges     byte = 0x51 // Data Acknowledgement Ranges, §2.3.14
	TypeBufferProbe   byte = 0x18 // Buffer Probe, §2.3.15
	TypeFlowException byte = 0x5E // Flow Exception Report, §2.3.16
	TypeCloseRequest  byte = 0x0C // Session Close Request, §2.3.17
	TypeCloseAck      byte = 0x4C // Session Close Acknowledgement, §2.3.18

	TypePadding  byte = 0xFF // padding byte appended before encryption
	TypePadding0 byte = 0x00 // the other reserved padding type
)

// ChunkHeaderLen is the size of a chunk's type and length fields.
const ChunkHeaderLen = 3

// MaxChunkValueLen is the largest value a chunk can carry (its length field
// is 16 bits). Encoders do not check it: a caller building a chunk from
// unbounded input must check Len() <= ChunkHeaderLen+MaxChunkValueLen.
const MaxChunkValueLen = 0xFFFF

// appendChunkHeader appends a chunk type and a value length.
func appendChunkHeader(b []byte, typ byte, valueLen int) []byte {
	return append(b, typ, byte(valueLen>>8), byte(valueLen))
}

// AppendChunk appends a chunk of any type with the given value, for chunk
// types this package has no struct for.
func AppendChunk(b []byte, typ byte, value []byte) []byte {
	b = appendChunkHeader(b, typ, len(value))
	return append(b, value...)
}

// ChunkReader walks the chunks of a packet without allocating. Each chunk is
// (RFC 7016 §2.3)
//
//	type u8 | length u16 big-endian | value[length]
//
// Usage:
//
//	r := wire.NewChunkReader(body[hdrLen:])
//	for r.Next() {
//		switch r.Type() { ... r.Value() ... }
//	}
//	if err := r.Err(); err != nil { drop the packet, or keep what was read }
//
// Next stops, with Err() == nil, when
//   - fewer than 3 bytes are left (no room for a chunk header),
//   - the next type byte is 0xFF or 0x00: the padding that fills the packet to
//     the cipher block size starts there. Whatever follows it is not read,
//     so a 0xFF run whose announced length (0xFFFF) overruns the packet is
//     padding, not an error.
//
// Next stops with Err() == ErrChunkOverrun when a chunk of any other type
// announces a length that runs past the end of the input. The chunks returned
// before it were complete and may be used.
//
// Chunks of unknown type are returned like any other; the caller skips them.
// Value aliases the input, with its capacity clipped to its length.
type ChunkReader struct {
	b    []byte
	off  int
	typ  byte
	val  []byte
	err  error
	done bool
}

// NewChunkReader returns a reader over the chunks in b, the packet after its
// header.
func NewChunkReader(b []byte) ChunkReader { return ChunkReader{b: b} }

// Next advances to the next chunk and reports whether there is one.
func (r *ChunkReader) Next() bool {
	if r.done {
		return false
	}
	left := r.b[r.off:]
	if len(left) < ChunkHeaderLen || left[0] == TypePadding || left[0] == TypePadding0 {
		r.done, r.typ, r.val = true, 0, nil
		return false
	}
	n := int(left[1])<<8 | int(left[2])
	if n > len(left)-ChunkHeaderLen {
		r.done, r.typ, r.val, r.err = true, 0, nil, ErrChunkOverrun
		return false
	}
	end := ChunkHeaderLen + n
	r.typ, r.val = left[0], left[ChunkHeaderLen:end:end]
	r.off += end
	return true
}

// Type returns the current chunk's type.
func (r *ChunkReader) Type() byte { return r.typ }

// Value returns the current chunk's value, without its 3-byte header.
func (r *ChunkReader) Value() []byte { return r.val }

// Err returns ErrChunkOverrun if the walk ended on a chunk that overruns the
// packet, else nil.
func (r *ChunkReader) Err() error { return r.err }

// Rest returns the bytes after the last chunk returned by Next: the padding,
// or, after an error, the overrunning chunk and what follows it.
func (r *ChunkReader) Rest() []byte { return r.b[r.off:] }
