package wire

// PingReply is the Ping Reply chunk, type 0x41 (RFC 7016 §2.3.10), the answer
// to a Ping:
//
//	+------------------------------------------+
//	| messageEcho (the Ping's bytes, rest)     |
//	+------------------------------------------+
//
// Data aliases the parsed input.
type PingReply struct {
	Data []byte
}

// ParsePingReply parses a Ping Reply chunk value. It never fails.
func ParsePingReply(v []byte) (PingReply, error) { return PingReply{Data: rest(v, 0)}, nil }

// Len returns the encoded size of the chunk, header included.
func (c PingReply) Len() int { return ChunkHeaderLen + len(c.Data) }

// Append appends the whole chunk, header included, to b.
func (c PingReply) Append(b []byte) []byte { return AppendChunk(b, TypePingReply, c.Data) }
