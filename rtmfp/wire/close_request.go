package wire

// CloseRequest is the Session Close Request chunk, type 0x0C
// (RFC 7016 §2.3.17). Its value is empty; the peer answers with a CloseAck.
type CloseRequest struct{}

// ParseCloseRequest parses a Session Close Request chunk value. Any bytes in
// it are ignored (as rtmfp-cpp and librtmfp do); it never fails.
func ParseCloseRequest(v []byte) (CloseRequest, error) { return CloseRequest{}, nil }

// Len returns the encoded size of the chunk: 3.
func (CloseRequest) Len() int { return ChunkHeaderLen }

// Append appends the whole chunk to b.
func (CloseRequest) Append(b []byte) []byte { return appendChunkHeader(b, TypeCloseRequest, 0) }
