package rtmp

import (
	"time"

	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
)

// Defaults of [Config].
const (
	// DefaultHandshakeTimeout bounds the whole handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultReadTimeout is how long a read may wait for the peer's next
	// bytes.
	DefaultReadTimeout = 60 * time.Second
	// DefaultWriteTimeout is how long a write may wait for the peer to
	// take bytes.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultPingInterval is how long a read waits before it sends a Ping
	// Request to keep a quiet peer (a player, which sends almost nothing)
	// answering, as nginx-rtmp's "ping" does.
	DefaultPingInterval = 20 * time.Second
	// DefaultChunkSize is the outgoing chunk size announced after the
	// handshake ([Conn.AcceptConnect], [Dial]); 4096 like nginx-rtmp and
	// ffmpeg.
	DefaultChunkSize = 4096
	// DefaultWindowAckSize is the acknowledgement window announced to
	// peers, and the Set Peer Bandwidth sent with it.
	DefaultWindowAckSize = 2_500_000

	// DefaultMaxMessageSize is the largest message accepted from a peer.
	DefaultMaxMessageSize = chunk.DefaultMaxMessageSize
	// DefaultMaxChunkSize is the largest chunk size a peer may set.
	DefaultMaxChunkSize = chunk.DefaultMaxChunkSize
	// DefaultMaxChunkStreams is the largest number of chunk stream IDs a
	// peer may use.
	DefaultMaxChunkStreams = chunk.DefaultMaxChunkStreams
	// DefaultMaxPartialMessages is the largest number of messages a peer
	// may leave incomplete at once.
	DefaultMaxPartialMessages = chunk.DefaultMaxPartialMessages
	// DefaultMaxReassemblyBytes bounds the memory held by incomplete
	// messages.
	DefaultMaxReassemblyBytes = chunk.DefaultMaxReassemblyBytes
)

// Protocol limits.
const (
	// MaxChunkSize is the largest chunk size the protocol can express.
	MaxChunkSize = chunk.MaxChunkSize
	// MaxMessageLength is the largest message length the protocol can
	// express.
	MaxMessageLength = chunk.MaxMessageLength
	// maxPending is the largest number of messages a Client keeps while it
	// waits for a command's answer.
	maxPending = 4096
)

// Config configures a [Conn]. The zero value (or nil) uses the defaults;
// a negative timeout disables that deadline.
type Config struct {
	HandshakeTimeout time.Duration
	// ReadTimeout bounds how long a read waits for the peer's next bytes.
	ReadTimeout time.Duration
	// WriteTimeout bounds how long a write waits for the peer to take
	// bytes.
	WriteTimeout time.Duration
	// PingInterval: after this long without bytes from the peer, a read
	// sends a Ping Request (and again every interval) while it goes on
	// waiting up to ReadTimeout. Peers answer pings, so a quiet but live
	// peer never times out.
	PingInterval time.Duration

	// ChunkSize is the outgoing chunk size announced by AcceptConnect and
	// by a Client (default DefaultChunkSize).
	ChunkSize int
	// WindowAckSize is the window announced by AcceptConnect and by a
	// Client, and the Set Peer Bandwidth sent by AcceptConnect.
	WindowAckSize uint32

	// Digest makes a client send the digest form of C1. Servers answer
	// whichever form the client used.
	Digest bool

	// Limits on what the peer may send; zero means the default.
	MaxMessageSize     int
	MaxChunkSize       int
	MaxChunkStreams    int
	MaxPartialMessages int
	MaxReassemblyBytes int
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	timeout := func(v *time.Duration, d time.Duration) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	timeout(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	timeout(&o.ReadTimeout, DefaultReadTimeout)
	timeout(&o.WriteTimeout, DefaultWriteTimeout)
	timeout(&o.PingInterval, DefaultPingInterval)
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	o.ChunkSize = min(o.ChunkSize, MaxChunkSize)
	if o.WindowAckSize == 0 {
		o.WindowAckSize = DefaultWindowAckSize
	}
	return o
}

func (c *Config) limits() chunk.Limits {
	return chunk.Limits{
		MaxMessageSize:     c.MaxMessageSize,
		MaxChunkSize:       c.MaxChunkSize,
		MaxChunkStreams:    c.MaxChunkStreams,
		MaxPartialMessages: c.MaxPartialMessages,
		MaxReassemblyBytes: c.MaxReassemblyBytes,
	}
}

// Errors of the chunk layer, returned (wrapped) by Conn.ReadMessage when a
// peer breaks a limit or the protocol. Test them with errors.Is.
var (
	// ErrMessageTooLarge: a message longer than MaxMessageSize.
	ErrMessageTooLarge = chunk.ErrMessageTooLarge
	// ErrChunkSize: a Set Chunk Size of 0, with the reserved bit, or above
	// MaxChunkSize.
	ErrChunkSize = chunk.ErrChunkSize
	// ErrTooManyChunkStreams: more chunk stream IDs than MaxChunkStreams.
	ErrTooManyChunkStreams = chunk.ErrTooManyChunkStreams
	// ErrTooManyPartial: more incomplete messages than MaxPartialMessages.
	ErrTooManyPartial = chunk.ErrTooManyPartial
	// ErrReassemblyLimit: incomplete messages holding more than
	// MaxReassemblyBytes.
	ErrReassemblyLimit = chunk.ErrReassemblyLimit
	// ErrProtocol: a chunk that cannot follow what came before it.
	ErrProtocol = chunk.ErrProtocol
)
