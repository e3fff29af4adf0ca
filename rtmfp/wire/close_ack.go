package wire

// CloseAck is the Session Close Acknowledgement chunk, type 0x4C
// (RFC 7016 §2.3.18), the answer to a CloseRequest (librtmfp also sends it
// alone to close abruptly). Its value is empty.
type CloseAck struct{}

// ParseCloseAck parses a Session Close Acknowledgement chunk value. Any bytes
// in it are ignored; it never fails.
func ParseCloseAck(v []byte) (CloseAck, error) { return CloseAck{}, nil }

// Len returns the encoded size of the chunk: 3.
func (CloseAck) Len() int { return ChunkHeaderLen }

// Append appends the whole chunk to b.
func (CloseAck) Append(b []byte) []byte { return appendChunkHeader(b, TypeCloseAck, 0) }
