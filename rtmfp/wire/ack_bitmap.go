package wire

// Data Acknowledgement Bitmap chunk, type 0x50 (RFC 7016 §2.3.13):
//
//	+--------+-----------------------+---------------+----------------------------+
//	| flowID | bufferBlocksAvailable | cumulativeAck | acknowledgement bitmap     |
//	| VLU    | VLU                   | VLU           | bytes, to the end of chunk |
//	+--------+-----------------------+---------------+----------------------------+
//
// Bit i of the bitmap, counting from the least significant bit of the first
// byte, then of the second byte and so on, is set when sequence number
// cumulativeAck+2+i was received. cumulativeAck+1 has no bit: it is missing
// by definition (else the cumulative ack would include it). So the first
// byte covers C+2 (bit 0) … C+9 (bit 7), the second C+10 … C+17.
//
// How this was settled (facts §2.2 / §13.9): none of the recorded traces
// holds a bitmap ack (librtmfp, MonaServer2 and rtmfp-cpp all send only
// Range Acks, and rtmfp-cpp's receiver leaves bitmaps unhandled, "nobody
// actually sends these yet"). librtmfp's reader counts the lost sequence
// numbers as 1 (for C+1) plus the zero bits before the first set bit, LSB
// first, which is the C+2 numbering; the RFC's figure labels the first
// bitmap byte C+9 … C+2 from its most significant bit down, which agrees.

// MaxAckBitmapBits bounds the bitmap AppendBitmap writes: a chunk value holds
// at most MaxChunkValueLen bytes, of which the three VLUs take up to 30.
const MaxAckBitmapBits = (MaxChunkValueLen - 30) * 8

// ParseAckBitmap parses a Bitmap Ack chunk value (see ParseAckInto).
func ParseAckBitmap(v []byte) (Ack, error) { return ParseAck(TypeAckBitmap, v) }

// parseAckBitmap reads a Bitmap Ack into a as ranges. Zero bits after the
// last set bit describe no range and are dropped, and so are bits past
// MaxAckBitmapBits (only possible in a chunk of nearly 64 KiB), so that what
// AppendBitmap writes always reads back the same. A bitmap reaching past
// sequence number 2^64-1 is ErrAckOverflow.
func parseAckBitmap(v []byte, a *Ack) error {
	off, err := parseAckHead(v, a)
	if err != nil {
		return err
	}
	bits := v[off:]
	if len(bits) > MaxAckBitmapBits/8 {
		bits = bits[:MaxAckBitmapBits/8]
	}
	if len(bits) == 0 {
		return nil
	}
	// The highest sequence number the bitmap can name is C+1+8*len(bits).
	if uint64(len(bits))*8+1 > ^uint64(0)-a.CumulativeAck {
		return ErrAckOverflow
	}
	holes, recv := uint64(1), uint64(0) // C+1 is missing
	for _, by := range bits {
		for i := 0; i < 8; i++ {
			if by&(1<<i) != 0 {
				recv++
				continue
			}
			if recv > 0 {
				a.Ranges = append(a.Ranges, AckRange{Holes: holes, Received: recv})
				if len(a.Ranges) == MaxAckRanges {
					return nil
				}
				holes, recv = 0, 0
			}
			holes++
		}
	}
	if recv > 0 {
		a.Ranges = append(a.Ranges, AckRange{Holes: holes, Received: recv})
	}
	return nil
}

// maxBitmapRel is the highest sequence number, counted from CumulativeAck, a
// bitmap can name: bit MaxAckBitmapBits-1 is CumulativeAck+MaxAckBitmapBits+1.
const maxBitmapRel = MaxAckBitmapBits + 1

// bitmapBits returns the number of bitmap bits needed to describe a's
// ranges: up to the last received sequence number that fits.
func (a Ack) bitmapBits() int {
	// rel counts sequence numbers after CumulativeAck; bit i is rel i+2.
	// rel is below maxBitmapRel before each addition, so it cannot wrap.
	var rel, last uint64
	for _, r := range a.Ranges {
		rel += min(atLeast1(r.Holes), maxBitmapRel)
		if rel >= maxBitmapRel {
			break
		}
		rel += min(atLeast1(r.Received), maxBitmapRel)
		last = min(rel, maxBitmapRel)
		if rel >= maxBitmapRel {
			break
		}
	}
	if last < 2 {
		return 0
	}
	return int(last - 1)
}

func (a Ack) bitmapValueLen() int { return a.headLen() + (a.bitmapBits()+7)/8 }

// BitmapLen returns the encoded size of the Bitmap Ack chunk, header
// included.
func (a Ack) BitmapLen() int { return ChunkHeaderLen + a.bitmapValueLen() }

// AppendBitmap appends a as a Bitmap Ack chunk, header included. Received
// sequence numbers more than MaxAckBitmapBits+1 after CumulativeAck are left
// out (the ack then says less, which is safe); choose AppendRanges when
// RangesLen is smaller, which it is unless the ranges are many and short.
func (a Ack) AppendBitmap(b []byte) []byte {
	nbits := a.bitmapBits()
	b = appendChunkHeader(b, TypeAckBitmap, a.bitmapValueLen())
	b = a.appendHead(b)
	start := len(b)
	b = append(b, make([]byte, (nbits+7)/8)...)
	bm := b[start:]
	var rel uint64 // as in bitmapBits
	for _, r := range a.Ranges {
		rel += min(atLeast1(r.Holes), maxBitmapRel)
		if rel >= maxBitmapRel {
			break
		}
		// The first received is rel+1, whose bit is rel-1.
		n := min(atLeast1(r.Received), maxBitmapRel)
		for i := rel - 1; i < uint64(nbits) && i < rel-1+n; i++ {
			bm[i/8] |= 1 << (i % 8)
		}
		rel += n
		if rel >= maxBitmapRel {
			break
		}
	}
	return b
}

// AckBitmap is an Ack to be written as a Bitmap Ack chunk, for code that
// handles every chunk through Append and Len: AckBitmap(a).Append(b) is
// a.AppendBitmap(b).
type AckBitmap Ack

// Len returns the encoded size of the chunk, header included.
func (c AckBitmap) Len() int { return Ack(c).BitmapLen() }

// Append appends the whole chunk, header included, to b.
func (c AckBitmap) Append(b []byte) []byte { return Ack(c).AppendBitmap(b) }
