package rtmfp

import (
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Config configures an Endpoint. The zero value of every field but Profile
// means "use the default" given in its comment.
type Config struct {
	// Profile is the cryptography profile and identity (required).
	Profile profile.Profile

	// Logger receives the endpoint's logs. Nothing is logged per packet.
	// Default: slog.Default().
	Logger *slog.Logger

	// AcceptEPD decides whether an IHello whose endpoint discriminator
	// does not name a peer (a connection to a server URL) is answered.
	// Default: every such IHello is answered.
	AcceptEPD func(epd profile.EPD, from netip.AddrPort) bool

	// NoPeerResponder turns off answering IHellos (direct or forwarded)
	// that name this endpoint's own peer ID.
	NoPeerResponder bool

	// OnIntroduction is called for each IHello whose endpoint
	// discriminator names another peer: an introducer answers it with
	// Endpoint.Redirect and Session.ForwardIHello. It runs on the
	// endpoint's receive goroutine and must not block. Default: ignored.
	OnIntroduction func(Introduction)

	// Redirect, when set, is asked about each IHello that opens a session
	// to this endpoint as a server (its endpoint discriminator names no
	// peer): when it returns addresses, the initiator is sent a Redirect to
	// them instead of the RHello (RFC 7016 §3.5.1.1.1, §3.5.1.4), as a
	// cluster node over its load or draining does. It runs on the
	// endpoint's receive goroutine and must not block. Default: none.
	Redirect func(from netip.AddrPort) []wire.Address

	// InOrder chooses, for each session as it opens, whether its flows are
	// read together in arrival order with Session.ReadInOrder (true) or
	// one by one with AcceptFlow and RecvFlow.ReadMessage (false, the
	// default). Flash NetConnections need arrival order across flows.
	InOrder func(*Session) bool

	// MaxSessions caps established and opening sessions. Default 100000.
	MaxSessions int
	// AcceptQueue is how many responder sessions may wait for Accept.
	// Default 1024; beyond it new sessions are refused.
	AcceptQueue int
	// HandshakeWorkers is the number of goroutines doing responder key
	// agreement. Default GOMAXPROCS.
	HandshakeWorkers int
	// Workers is the number of goroutines running the sessions that have
	// work (see the package documentation). Default GOMAXPROCS.
	Workers int
	// NoGSO turns off UDP generic segmentation offload (Linux 4.18+):
	// datagrams to one address are then handed to the kernel one by one
	// instead of as one segmented send. Default: GSO where the kernel
	// has it.
	NoGSO bool
	// ReceivePace is how long the receive goroutine waits after a batch of
	// datagrams before it reads again, while datagrams keep arriving
	// (see receivePacer): one wake-up then serves every datagram that
	// came in the window. A datagram waits at most this long before it is
	// read. Default 2 ms; negative turns pacing off.
	ReceivePace time.Duration
	// HandshakeQueue caps IIKeyings waiting for a worker; more are dropped
	// (the initiator retransmits). Default 256.
	HandshakeQueue int
	// StartupRate and StartupBurst limit the startup replies (RHello,
	// Redirect, Cookie Change) sent to one IP address that has not proven
	// itself, per second: an IIKeying that echoes its cookie from the
	// address the cookie was minted for gives its RHello's token back, and
	// the RIKeying takes none (see admission.go). Default 20 per second,
	// bursts of 256: a spoofed victim gets at most that, while a crowd
	// behind one address completes as many handshakes as the server can key
	// with up to 256 in flight. With the amplification budget, this keeps
	// the endpoint from being used as a reflector.
	StartupRate  float64
	StartupBurst int

	// KeepalivePeriod is how long a session may go without receiving
	// before it sends a keepalive ping. Default 15 s.
	KeepalivePeriod time.Duration
	// IdleTimeout closes a session that received nothing for this long.
	// Default 120 s.
	IdleTimeout time.Duration
	// RetransmitLimit closes a session whose data made no acknowledged
	// progress for this long while some waited to be sent or acknowledged
	// (unanswered retransmissions, or a far end that keeps its windows
	// closed while it answers pings). Default 30 s.
	RetransmitLimit time.Duration
	// HandshakeTimeout bounds Connect when its context has no deadline.
	// Default 30 s.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds the close exchange of a session. Default 5 s.
	CloseTimeout time.Duration

	// MaxRecvFlows caps the flows the far end may open in one session.
	// Default 256.
	MaxRecvFlows int
	// MaxSendFlows caps the flows this end may open in one session.
	// Default 1024.
	MaxSendFlows int
	// RecvWindow is the receive buffer of each flow in bytes: reassembly,
	// out-of-order data and messages not yet read. Default 1 MiB.
	RecvWindow int
	// SendBuffer caps the bytes held by each send flow (unsent and
	// unacknowledged). Default 4 MiB.
	SendBuffer int
	// MaxMessageSize caps one message. Default 16 MiB.
	MaxMessageSize int
	// InboxSize caps the packets queued for one session's goroutine.
	// Default 512.
	InboxSize int

	// SessionRecvBudget caps the memory one session's receive flows hold
	// together: out-of-order data, messages being reassembled and
	// messages not yet read. The window each flow advertises is at most
	// what is left of it; a session whose budget is full of data it cannot
	// deliver (nothing waits to be read) is closed with ErrRecvBudget.
	// Default 4 MiB; at least RecvWindow.
	SessionRecvBudget int
	// Memory is the server-wide memory budget: each session opens an
	// account in it (see Session.Account), charged with its receive and
	// send buffers and with what upper layers hold for it. nil: none.
	Memory *budget.Pool
	// PeerMemory caps a session's account; past it the session is closed.
	// 0: no cap beyond the buffers' own.
	PeerMemory int64

	// noAcks makes the endpoint's sessions send no acknowledgements (tests:
	// a far end that stops acknowledging and still answers pings).
	noAcks bool
}

// Default values.
const (
	DefaultMaxSessions      = 100000
	DefaultAcceptQueue      = 1024
	DefaultHandshakeQueue   = 256
	DefaultStartupRate      = 20
	DefaultStartupBurst     = 256
	DefaultKeepalivePeriod  = 15 * time.Second
	DefaultIdleTimeout      = 120 * time.Second
	DefaultRetransmitLimit  = 30 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultMaxRecvFlows     = 256
	DefaultMaxSendFlows     = 1024
	DefaultRecvWindow       = 1 << 20
	DefaultSendBuffer       = 4 << 20
	DefaultMaxMessageSize   = 16 << 20
	DefaultInboxSize        = 512
	DefaultSessionRecv      = 4 << 20
	DefaultReceivePace      = 2 * time.Millisecond
)

// MaxPacketSize is the largest session packet sent: the plaintext after the
// 4-byte session ID field, as MonaServer2, librtmfp and rtmfp-cpp all send
// (rtmfp-facts §15), which keeps the UDP payload at 1204 bytes.
const MaxPacketSize = 1200

// Introduction is an IHello for another peer, handed to
// Config.OnIntroduction.
type Introduction struct {
	// From is the address the IHello came from.
	From netip.AddrPort
	// Target is the peer ID the IHello asks for.
	Target profile.PeerID
	// EPD is the endpoint discriminator as received; Tag the initiator's
	// tag. Both are copies the handler may keep.
	EPD, Tag []byte
	// size is the datagram's size, which pays for the Redirect in the
	// amplification budget (admission.go).
	size int
}

func (c *Config) populate() error {
	if c.Profile == nil {
		return errors.New("rtmfp: Config.Profile is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxSessions, DefaultMaxSessions)
	def(&c.AcceptQueue, DefaultAcceptQueue)
	def(&c.HandshakeWorkers, runtime.GOMAXPROCS(0))
	def(&c.Workers, runtime.GOMAXPROCS(0))
	def(&c.HandshakeQueue, DefaultHandshakeQueue)
	def(&c.StartupBurst, DefaultStartupBurst)
	if c.StartupRate <= 0 {
		c.StartupRate = DefaultStartupRate
	}
	defd(&c.KeepalivePeriod, DefaultKeepalivePeriod)
	defd(&c.IdleTimeout, DefaultIdleTimeout)
	defd(&c.RetransmitLimit, DefaultRetransmitLimit)
	defd(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	defd(&c.CloseTimeout, DefaultCloseTimeout)
	if c.ReceivePace == 0 {
		c.ReceivePace = DefaultReceivePace
	}
	def(&c.MaxRecvFlows, DefaultMaxRecvFlows)
	def(&c.MaxSendFlows, DefaultMaxSendFlows)
	def(&c.RecvWindow, DefaultRecvWindow)
	def(&c.SendBuffer, DefaultSendBuffer)
	def(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.InboxSize, DefaultInboxSize)
	def(&c.SessionRecvBudget, DefaultSessionRecv)
	c.SessionRecvBudget = max(c.SessionRecvBudget, c.RecvWindow)
	c.KeepalivePeriod = max(c.KeepalivePeriod, time.Second)
	c.IdleTimeout = max(c.IdleTimeout, 2*c.KeepalivePeriod)
	return nil
}
