package rtmp

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/handshake"
)

// Chunk stream IDs used for outgoing messages, by kind (as nginx-rtmp
// does; any choice works, this one keeps headers compressed).
const (
	csidControl       = chunk.ControlCSID // protocol control, user control
	csidCommand       = 3                 // commands on stream 0
	csidStreamCommand = 5                 // commands and data on other streams
	csidAudio         = 6
	csidVideo         = 7
	csidAggregate     = 8
)

// maxControlQueue bounds the protocol answers (acknowledgements, ping
// responses) waiting for the writer; beyond it they are dropped.
const maxControlQueue = 64

// Message is a complete message read from a [Conn].
type Message struct {
	media.Message
	// StreamID is the message stream ID: 0 for the NetConnection, the ID
	// returned by createStream for a NetStream.
	StreamID uint32
	// Command is the decoded command for message types 20 and 17, nil
	// otherwise.
	Command *Command
}

// Conn is one end of an RTMP connection over a net.Conn.
//
// ReadMessage must be called from one goroutine at a time; the write
// methods may be called from any number of goroutines (they share one
// writer lock, and each writes whole messages). The handshake runs on the
// first read or write, or explicitly with Handshake.
type Conn struct {
	nc     net.Conn
	dc     *deadlineConn
	cfg    Config
	client bool

	hsMu   sync.Mutex
	hsDone bool
	hsErr  error
	hs     handshake.Result

	// Read side, owned by the reading goroutine.
	r         *chunk.Reader
	queue     []media.Message // sub-messages of an aggregate
	queueSID  uint32
	ackWindow uint32 // peer's window: acknowledge every ackWindow bytes
	lastAck   uint64
	peerAck   atomic.Uint32

	// Write side (see write.go): messages are framed into batch, whose
	// pieces are written with one vectored write.
	wmu        sync.Mutex
	fr         *chunk.Framer
	batch      chunk.Batch
	raw        *rawWriter    // nil: write through dc
	rawSent    atomic.Uint64 // bytes raw wrote (dc counts the others)
	werr       error
	wacct      *budget.Account
	outChunk   atomic.Int32  // fr's chunk size, for Prepare
	sentWindow atomic.Uint32 // last Window Acknowledgement Size sent
	hsOK       atomic.Bool   // the handshake succeeded

	errMu    sync.Mutex
	firstErr error // the first write error, as the network gave it

	ctlMu      sync.Mutex
	ctl        []media.Message
	ctlRunning bool

	start time.Time // for ping timestamps

	closeOnce sync.Once
	closeErr  error
}

// NewClientConn returns the client end of an RTMP connection over nc. It
// does no I/O.
func NewClientConn(nc net.Conn, cfg *Config) *Conn { return newConn(nc, cfg, true) }

// NewServerConn returns the server end of an RTMP connection over nc. It
// does no I/O.
func NewServerConn(nc net.Conn, cfg *Config) *Conn { return newConn(nc, cfg, false) }

func newConn(nc net.Conn, cfg *Config, client bool) *Conn {
	c := &Conn{nc: nc, cfg: cfg.withDefaults(), client: client}
	c.dc = &deadlineConn{nc: nc, readTimeout: c.cfg.ReadTimeout, writeTimeout: c.cfg.WriteTimeout, onRead: c.maybeAck}
	c.start = time.Now()
	c.r = chunk.NewReader(c.dc, c.cfg.limits())
	c.fr = chunk.NewFramer()
	c.outChunk.Store(int32(c.fr.ChunkSize()))
	c.raw = newRawWriter(nc)
	c.dc.src = nc
	if r := newRawReader(nc); r != nil {
		c.dc.src = r
	}
	return c
}

// Handshake runs the handshake if it has not run yet, bounded by ctx and by
// the configured handshake timeout. On failure the connection is closed.
func (c *Conn) Handshake(ctx context.Context) error {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone {
		return c.hsErr
	}
	c.hsDone = true
	var limit time.Time
	if c.cfg.HandshakeTimeout > 0 {
		limit = time.Now().Add(c.cfg.HandshakeTimeout)
	}
	unbind := c.dc.bind(ctx, limit)
	var err error
	if c.client {
		c.hs, err = handshake.Client(c.dc, handshake.ClientOptions{Digest: c.cfg.Digest, Scheme: handshake.Scheme1})
	} else {
		c.hs, err = handshake.Server(c.dc, handshake.ServerOptions{})
	}
	unbind()
	if err == nil {
		// Keepalive pings once the handshake is done.
		c.dc.mu.Lock()
		c.dc.pingInterval, c.dc.onIdle = c.cfg.PingInterval, c.ping
		c.dc.mu.Unlock()
		c.hsOK.Store(true)
	}
	if err != nil {
		if cerr := contextErr(ctx); cerr != nil {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		c.hsErr = fmt.Errorf("rtmp: handshake with %s: %w", c.nc.RemoteAddr(), err)
		c.Close()
	}
	return c.hsErr
}

// SetReadHook makes ReadMessage call f, on the reading goroutine, before
// each read from the network: at that point every message received so far
// has been returned, so a server passing on what a peer publishes can hold
// its writes until then and send the messages that arrived together with
// one write per player, without delaying any. Call it before ReadMessage.
func (c *Conn) SetReadHook(f func()) { c.dc.beforeRead = f }

// Digest reports whether the handshake used the digest form.
func (c *Conn) Digest() bool {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	return c.hs.Digest
}

// ReadMessage returns the next message. Protocol control messages (types
// 1, 2, 3, 5, 6) and pings are handled here and not returned: the peer's
// chunk size and window are applied, acknowledgements are sent as the
// window requires, Set Peer Bandwidth is answered with Window
// Acknowledgement Size, pings are answered. Other User Control events are
// returned (see ParseUserControl), aggregates are returned as their
// sub-messages, and commands are decoded. A malformed command, user
// control or aggregate message gives an error wrapping ErrMalformed that
// leaves the connection usable; any other error ends it.
func (c *Conn) ReadMessage() (Message, error) {
	if err := c.ready(); err != nil {
		return Message{}, err
	}
	for {
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue = c.queue[1:]
			return Message{Message: m, StreamID: c.queueSID}, nil
		}
		cm, err := c.r.ReadMessage()
		if err != nil {
			return Message{}, fmt.Errorf("rtmp: reading from %s: %w", c.nc.RemoteAddr(), err)
		}
		m := Message{Message: media.Message{Type: cm.Type, Timestamp: cm.Timestamp, Payload: cm.Payload}, StreamID: cm.StreamID}
		handled, err := c.control(m)
		if err != nil || handled {
			if err != nil {
				return Message{}, err
			}
			continue
		}
		switch m.Type {
		case media.TypeCommandAMF0, media.TypeCommandAMF3:
			m.Command, err = DecodeCommand(m.Message)
			if err != nil {
				return Message{}, err
			}
		case media.TypeAggregate:
			parts, err := SplitAggregate(m.Message)
			if err != nil {
				return Message{}, err
			}
			c.queue, c.queueSID = parts, m.StreamID
			continue
		}
		return m, nil
	}
}

// control handles protocol control messages and pings.
func (c *Conn) control(m Message) (handled bool, err error) {
	switch m.Type {
	case media.TypeSetChunkSize, media.TypeAbort:
		return true, nil // applied by the chunk reader
	case media.TypeAck:
		v, err := controlValue(m.Message, "Acknowledgement")
		if err == nil {
			c.peerAck.Store(v)
		}
		return true, err
	case media.TypeWindowAckSize:
		v, err := controlValue(m.Message, "Window Acknowledgement Size")
		if err != nil {
			return true, err
		}
		c.ackWindow = v
		return true, nil
	case media.TypeSetPeerBW:
		if len(m.Payload) < 5 {
			return true, fmt.Errorf("%w: Set Peer Bandwidth of %d bytes", ErrMalformed, len(m.Payload))
		}
		if v := binary.BigEndian.Uint32(m.Payload); v != c.sentWindow.Load() {
			c.queueControl(uint32Message(media.TypeWindowAckSize, v))
		}
		return true, nil
	case media.TypeUserControl:
		u, err := ParseUserControl(m.Payload)
		if err != nil {
			return true, err
		}
		switch u.Event {
		case EventPingRequest:
			c.queueControl(UserControl{Event: EventPingResponse, Timestamp: u.Timestamp}.Message())
			return true, nil
		case EventPingResponse:
			return true, nil
		}
	}
	return false, nil
}

// ping queues a Ping Request carrying the milliseconds since the Conn was
// made.
func (c *Conn) ping() {
	c.queueControl(UserControl{Event: EventPingRequest, Timestamp: uint32(time.Since(c.start).Milliseconds())}.Message())
}

// maybeAck runs on the reading goroutine after bytes arrive.
func (c *Conn) maybeAck() {
	if c.ackWindow == 0 {
		return
	}
	n := c.dc.read.Load()
	if n-c.lastAck < uint64(c.ackWindow) {
		return
	}
	c.lastAck = n
	c.queueControl(uint32Message(media.TypeAck, uint32(n)))
}

// queueControl sends a protocol answer (acknowledgement, ping response,
// window size) from a goroutine of its own, so that the reader never waits
// for the writer lock or for the peer to read.
func (c *Conn) queueControl(m media.Message) {
	c.ctlMu.Lock()
	if len(c.ctl) >= maxControlQueue {
		c.ctlMu.Unlock()
		return
	}
	c.ctl = append(c.ctl, m)
	start := !c.ctlRunning
	c.ctlRunning = true
	c.ctlMu.Unlock()
	if start {
		go func() {
			c.wmu.Lock()
			c.drainControlLocked()
			c.wmu.Unlock()
		}()
	}
}

func (c *Conn) drainControlLocked() {
	for {
		c.ctlMu.Lock()
		q := c.ctl
		c.ctl = nil
		if len(q) == 0 {
			c.ctlRunning = false
			c.ctlMu.Unlock()
			return
		}
		c.ctlMu.Unlock()
		for _, m := range q {
			c.writeLocked(0, m)
		}
		c.flushLocked()
	}
}

// WriteCommand writes cmd as an AMF0 command on message stream streamID.
func (c *Conn) WriteCommand(streamID uint32, cmd *Command) error {
	m, err := cmd.Message()
	if err != nil {
		return err
	}
	return c.WriteMessage(streamID, m)
}

// WriteResult answers transaction txn with "_result", a properties value
// (the command object; nil for null) and an information value.
func (c *Conn) WriteResult(streamID uint32, txn float64, props, info any) error {
	return c.WriteCommand(streamID, &Command{Name: "_result", TxnID: txn, Object: props, Args: []any{info}})
}

// WriteError answers transaction txn with "_error".
func (c *Conn) WriteError(streamID uint32, txn float64, props, info any) error {
	return c.WriteCommand(streamID, &Command{Name: "_error", TxnID: txn, Object: props, Args: []any{info}})
}

// WriteStatus writes an onStatus command (transaction 0, null command
// object) with an information object built by StatusObject.
func (c *Conn) WriteStatus(streamID uint32, level, code, description string, extra ...amf.Property) error {
	return c.WriteCommand(streamID, &Command{Name: "onStatus", Args: []any{StatusObject(level, code, description, extra...)}})
}

// WriteUserControl writes a User Control message.
func (c *Conn) WriteUserControl(u UserControl) error { return c.WriteMessage(0, u.Message()) }

// SetChunkSize sends Set Chunk Size and uses n for the following messages.
func (c *Conn) SetChunkSize(n int) error {
	if n < 1 || n > MaxChunkSize {
		return fmt.Errorf("%w: %d", chunk.ErrChunkSize, n)
	}
	return c.WriteMessage(0, uint32Message(media.TypeSetChunkSize, uint32(n)))
}

// SetWindowAckSize sends Window Acknowledgement Size: the peer should
// acknowledge every n bytes it receives.
func (c *Conn) SetWindowAckSize(n uint32) error {
	return c.WriteMessage(0, uint32Message(media.TypeWindowAckSize, n))
}

// SetPeerBandwidth sends Set Peer Bandwidth with a limit type (LimitHard,
// LimitSoft, LimitDynamic).
func (c *Conn) SetPeerBandwidth(n uint32, limit uint8) error {
	m := uint32Message(media.TypeSetPeerBW, n)
	m.Payload = append(m.Payload, limit)
	return c.WriteMessage(0, m)
}

// PeerAcked returns the sequence number of the peer's last
// Acknowledgement: the bytes it had received then (modulo 2^32), if it
// acknowledges at all (peers do once sent SetWindowAckSize).
func (c *Conn) PeerAcked() uint32 { return c.peerAck.Load() }

// BytesRead and BytesWritten count the bytes that crossed the connection,
// handshake included.
func (c *Conn) BytesRead() uint64 { return c.dc.read.Load() }

// BytesWritten counts the bytes written to the connection.
func (c *Conn) BytesWritten() uint64 { return c.dc.written.Load() + c.rawSent.Load() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// SetAccount charges the memory the peer makes the connection hold to a, a
// share of a server-wide memory budget: its incomplete messages
// (ReadMessage fails with an error wrapping ErrReassemblyLimit once a is
// over its limit) and the messages written while they wait for it to read.
// Call it before the first read and write.
func (c *Conn) SetAccount(a *budget.Account) {
	c.r.SetAccount(a)
	c.wmu.Lock()
	c.wacct = a
	c.wmu.Unlock()
}

// Close closes the connection. A reader or writer blocked on it returns.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.nc.Close() })
	return c.closeErr
}
