package wire

// Ping is the Ping chunk, type 0x01 (RFC 7016 §2.3.9): keepalive, RTT probe
// and address-change check. The receiver answers with a PingReply carrying
// the same bytes.
//
//	+----------------------------------+
//	| message (rest of chunk, may be 0)|
//	+----------------------------------+
//
// Data aliases the parsed input.
type Ping struct {
	Data []byte
}

// ParsePing parses a Ping chunk value. It never fails.
func ParsePing(v []byte) (Ping, error) { return Ping{Data: rest(v, 0)}, nil }

// Len returns the encoded size of the chunk, header included.
func (c Ping) Len() int { return ChunkHeaderLen + len(c.Data) }

// Append appends the whole chunk, header included, to b.
func (c Ping) Append(b []byte) []byte { return AppendChunk(b, TypePing, c.Data) }

// Reply returns the PingReply that answers c.
func (c Ping) Reply() PingReply { return PingReply(c) }
