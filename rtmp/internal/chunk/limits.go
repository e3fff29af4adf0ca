// Package chunk splits RTMP messages into chunks and reassembles them (RTMP
// specification 1.0 §5.3): a basic header of 1, 2 or 3 bytes carrying the
// header format (fmt 0–3) and the chunk stream ID (§5.3.1.1), a message
// header of 11, 7, 3 or 0 bytes (§5.3.1.2), an optional 4-byte extended
// timestamp (§5.3.1.3) and at most one chunk size of payload.
//
// The protocol control messages that act on the chunk layer itself, Set
// Chunk Size (type 1, §5.4.1) and Abort (type 2, §5.4.2), are applied by the
// [Reader] when it completes them; it still returns them.
//
// Extended timestamps follow what Flash Player, Flash Media Server, ffmpeg
// and nginx-rtmp do where the specification is silent: a type 3 chunk
// carries the 4-byte extended timestamp whenever the last type 0, 1 or 2
// header of its chunk stream did, both inside a message and when the type 3
// chunk starts a new message.
//
// The reader never trusts a length: a declared message length only bounds
// how much it will accept, payload memory grows with the bytes actually
// received, and every count it keeps (chunk streams, incomplete messages,
// bytes held for reassembly) has a limit.
package chunk

import "errors"

// Protocol constants.
const (
	// DefaultChunkSize is the chunk size both directions start with (§5.4.1).
	DefaultChunkSize = 128
	// MaxChunkSize is the largest chunk size the protocol can express
	// (31 bits, §5.4.1).
	MaxChunkSize = 0x7FFFFFFF
	// MaxMessageLength is the largest length the 3-byte message length
	// field can express.
	MaxMessageLength = 1<<24 - 1
	// MinCSID and MaxCSID bound chunk stream IDs (§5.3.1.1): 0 and 1 are
	// escape values of the basic header, 2 is for protocol control.
	MinCSID = 2
	MaxCSID = 65599
	// ControlCSID is the chunk stream of protocol control messages.
	ControlCSID = 2
)

// Default limits applied by a Reader when the corresponding Limits field is
// zero.
const (
	// DefaultMaxMessageSize is the default largest message length accepted.
	DefaultMaxMessageSize = 16 << 20
	// DefaultMaxChunkSize is the default largest chunk size a peer may set.
	// Memory does not depend on it (payload is read in pieces of at most
	// readStep bytes), but absurd values are refused.
	DefaultMaxChunkSize = 16 << 20
	// DefaultMaxChunkStreams is the default number of distinct chunk stream
	// IDs a peer may use on one connection.
	DefaultMaxChunkStreams = 256
	// DefaultMaxPartialMessages is the default number of messages that may
	// be incomplete at once (one per chunk stream).
	DefaultMaxPartialMessages = 16
	// DefaultMaxReassemblyBytes is the default bound on the payload memory
	// held by incomplete messages, all chunk streams together.
	DefaultMaxReassemblyBytes = 32 << 20
)

// readStep is the most payload memory a Reader allocates ahead of the bytes
// it has received for a message.
const readStep = 64 << 10

// Limits bounds what a Reader accepts. Zero fields take the defaults above.
type Limits struct {
	MaxMessageSize     int
	MaxChunkSize       int
	MaxChunkStreams    int
	MaxPartialMessages int
	MaxReassemblyBytes int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMessageSize, DefaultMaxMessageSize)
	def(&l.MaxChunkSize, DefaultMaxChunkSize)
	def(&l.MaxChunkStreams, DefaultMaxChunkStreams)
	def(&l.MaxPartialMessages, DefaultMaxPartialMessages)
	def(&l.MaxReassemblyBytes, DefaultMaxReassemblyBytes)
	l.MaxChunkSize = min(l.MaxChunkSize, MaxChunkSize)
	return l
}

// Errors. They are wrapped with details; test them with errors.Is. A
// truncated stream gives io.ErrUnexpectedEOF, an end between chunks io.EOF.
var (
	// ErrMessageTooLarge means a message header declares a length above
	// the limit.
	ErrMessageTooLarge = errors.New("rtmp chunk: message too large")
	// ErrChunkSize means a Set Chunk Size outside 1..limit.
	ErrChunkSize = errors.New("rtmp chunk: invalid chunk size")
	// ErrTooManyChunkStreams means the peer used more chunk stream IDs than
	// allowed.
	ErrTooManyChunkStreams = errors.New("rtmp chunk: too many chunk streams")
	// ErrTooManyPartial means more messages are incomplete at once than
	// allowed.
	ErrTooManyPartial = errors.New("rtmp chunk: too many incomplete messages")
	// ErrReassemblyLimit means incomplete messages would hold more memory
	// than allowed.
	ErrReassemblyLimit = errors.New("rtmp chunk: reassembly memory limit exceeded")
	// ErrProtocol means a chunk that cannot follow what came before it: a
	// compressed header on a chunk stream with no previous header, a new
	// message header while a message is incomplete, a malformed protocol
	// control message.
	ErrProtocol = errors.New("rtmp chunk: protocol violation")
	// ErrInvalidCSID means a chunk stream ID outside MinCSID..MaxCSID was
	// given to a Writer.
	ErrInvalidCSID = errors.New("rtmp chunk: invalid chunk stream ID")
)

// Message is one complete message with the chunk stream it travelled on.
type Message struct {
	CSID      uint32
	Type      uint8
	Timestamp uint32 // milliseconds
	StreamID  uint32 // message stream ID
	Payload   []byte
}
