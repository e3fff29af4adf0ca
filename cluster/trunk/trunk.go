// Package trunk carries streams between the nodes of an rtmfpd cluster
// over QUIC (github.com/quic-go/quic-go): one connection per pair of
// nodes, mutually authenticated with TLS 1.3 (see Identity), and one QUIC
// stream per relayed NetStream. QUIC's per-stream flow control is the
// back-pressure: a stream whose puller reads slowly fills only its own
// window, and the origin's bounded queue for it drops whole GOPs (package
// netstream's Subscription), while the other streams of the connection go
// on.
//
// A node pulls a stream from its origin on demand (Pull) and closes the
// QUIC stream when it no longer needs it; the origin answers with the
// stream's media until its publisher stops.
package trunk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtmfpd/rtmfpd/media"
)

// Config configures a Trunk.
type Config struct {
	// Node is this node's name.
	Node string
	// Listen is the UDP address of the trunk ("127.0.0.1:0" picks a port).
	Listen string
	// Identity proves this node and recognises the others (required).
	Identity *Identity
	// Nodes lists the other nodes; Fingerprint returns the certificate
	// fingerprint a node announced (generated identities); Known reports
	// whether a name is a node of the cluster (an operator's authority).
	Nodes       func() []string
	Fingerprint func(node string) string
	Known       func(node string) bool
	// Serve answers another node's pull of the stream key: it writes the
	// stream's media to w until the stream ends (then returns nil) or w
	// fails (the puller left). Nil: every pull is answered "not found".
	Serve func(from, key string, w *Writer) error
	// Logger: one line per connection up or down and per refusal.
	Logger *slog.Logger
}

// Trunk is a node's QUIC endpoint towards the other nodes.
type Trunk struct {
	cfg  Config
	id   *Identity
	log  *slog.Logger
	tr   *quic.Transport
	ln   *quic.Listener
	qcfg *quic.Config

	mu      sync.Mutex
	conns   map[string]*peerConn
	dialing map[string]*sync.Mutex
	closed  bool

	wg    sync.WaitGroup
	stats counters
}

type counters struct {
	refused, served, pulls, bytesIn, bytesOut atomic.Uint64
}

// peerConn is the connection with one other node.
type peerConn struct {
	node    string
	conn    *quic.Conn
	dialed  bool // this node dialed it
	streams atomic.Int64
	since   time.Time
}

// Error codes of closed connections and streams.
const (
	codeClose     quic.ApplicationErrorCode = 0
	codeDuplicate quic.ApplicationErrorCode = 1
	codeStop      quic.StreamErrorCode      = 1
)

// Listen opens the trunk's UDP socket and serves the other nodes.
func Listen(cfg Config) (*Trunk, error) {
	if cfg.Identity == nil {
		return nil, errors.New("trunk: no identity")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fingerprint == nil {
		cfg.Fingerprint = func(string) string { return "" }
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("trunk listen %q: %w", cfg.Listen, err)
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("trunk listen %q: %w", cfg.Listen, err)
	}
	t := &Trunk{cfg: cfg, id: cfg.Identity, log: cfg.Logger, conns: map[string]*peerConn{}, dialing: map[string]*sync.Mutex{},
		tr: &quic.Transport{Conn: pc},
		qcfg: &quic.Config{MaxIdleTimeout: 30 * time.Second, KeepAlivePeriod: 5 * time.Second, MaxIncomingStreams: 10000,
			HandshakeIdleTimeout: 5 * time.Second, InitialStreamReceiveWindow: 256 << 10, MaxStreamReceiveWindow: 4 << 20,
			MaxConnectionReceiveWindow: 64 << 20}}
	ln, err := t.tr.Listen(t.serverConfig(), t.qcfg)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("trunk listen %q: %w", cfg.Listen, err)
	}
	t.ln = ln
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// Addr is the trunk's UDP address.
func (t *Trunk) Addr() net.Addr { return t.ln.Addr() }

// Identity returns the trunk's identity.
func (t *Trunk) Identity() *Identity { return t.id }

// Close closes every connection and the socket.
func (t *Trunk) Close() error {
	t.mu.Lock()
	t.closed = true
	conns := make([]*peerConn, 0, len(t.conns))
	for _, c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.conn.CloseWithError(codeClose, "node stopping")
	}
	t.ln.Close()
	err := t.tr.Close()
	t.wg.Wait()
	return err
}

// Drop closes the connection with node (it left the cluster).
func (t *Trunk) Drop(node string) {
	t.mu.Lock()
	c := t.conns[node]
	delete(t.conns, node)
	t.mu.Unlock()
	if c != nil {
		c.conn.CloseWithError(codeClose, "node left the cluster")
	}
}

func (t *Trunk) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept(context.Background())
		if err != nil {
			return
		}
		node, ok := t.peerNode(conn.ConnectionState().TLS.PeerCertificates)
		if !ok {
			t.stats.refused.Add(1)
			t.log.Warn("cluster: trunk connection refused", "remote", conn.RemoteAddr().String(), "reason", "certificate of no known node")
			conn.CloseWithError(codeClose, "unknown node")
			continue
		}
		t.adopt(&peerConn{node: node, conn: conn, since: time.Now()})
	}
}

// canonical reports whether a connection with node dialed by dialer is the
// one a pair keeps when both dialed at once: the one the smaller name
// dialed.
func (t *Trunk) canonical(node string, dialed bool) bool {
	if dialed {
		return t.cfg.Node < node
	}
	return node < t.cfg.Node
}

// adopt registers a connection and serves the pulls it carries.
func (t *Trunk) adopt(c *peerConn) *peerConn {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.conn.CloseWithError(codeClose, "node stopping")
		return nil
	}
	old := t.conns[c.node]
	var loser *peerConn
	switch {
	case old == nil || old.conn.Context().Err() != nil:
		t.conns[c.node] = c
	case t.canonical(c.node, c.dialed):
		t.conns[c.node], loser = c, old
	default:
		loser = c
	}
	t.mu.Unlock()
	t.wg.Add(1)
	go t.serveConn(c)
	if loser != nil {
		// Both nodes dialed at once: one connection per pair. Pulls on
		// the other are retried by their nodes.
		loser.conn.CloseWithError(codeDuplicate, "duplicate connection")
	}
	if loser == c {
		return nil
	}
	t.log.Info("cluster: trunk up", "node", c.node, "remote", c.conn.RemoteAddr().String(), "dialed", c.dialed)
	return c
}

func (t *Trunk) serveConn(c *peerConn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		if t.conns[c.node] == c {
			delete(t.conns, c.node)
			t.log.Info("cluster: trunk down", "node", c.node, "err", context.Cause(c.conn.Context()))
		}
		t.mu.Unlock()
	}()
	for {
		s, err := c.conn.AcceptStream(context.Background())
		if err != nil {
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.serveStream(c, s)
		}()
	}
}

// serveStream answers one pull.
func (t *Trunk) serveStream(c *peerConn, s *quic.Stream) {
	c.streams.Add(1)
	defer c.streams.Add(-1)
	defer s.Close()
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	key, err := readRequest(s)
	if err != nil {
		s.CancelRead(codeStop)
		s.CancelWrite(codeStop)
		return
	}
	s.SetReadDeadline(time.Time{})
	// The puller closes its side to stop: cancel the writes then.
	go func() {
		var b [1]byte
		s.Read(b[:])
		s.CancelWrite(codeStop)
	}()
	w := &Writer{s: s, t: t}
	if t.cfg.Serve == nil {
		w.control(ctlNotFound)
		return
	}
	t.stats.served.Add(1)
	switch err := t.cfg.Serve(c.node, key, w); {
	case err == nil:
		w.control(ctlEnd)
	case errors.Is(err, ErrNotFound):
		w.control(ctlNotFound)
	}
}

// conn returns the connection with node, dialing addr if there is none.
func (t *Trunk) conn(ctx context.Context, node, addr string) (*peerConn, error) {
	t.mu.Lock()
	if c := t.conns[node]; c != nil && c.conn.Context().Err() == nil {
		t.mu.Unlock()
		return c, nil
	}
	if t.closed {
		t.mu.Unlock()
		return nil, errors.New("trunk: closed")
	}
	dm := t.dialing[node]
	if dm == nil {
		dm = &sync.Mutex{}
		t.dialing[node] = dm
	}
	t.mu.Unlock()
	dm.Lock() // one dial per node at a time
	defer dm.Unlock()
	t.mu.Lock()
	if c := t.conns[node]; c != nil && c.conn.Context().Err() == nil {
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("trunk to %s: %w", node, err)
	}
	qc, err := t.tr.Dial(ctx, ua, t.clientConfig(node), t.qcfg)
	if err != nil {
		return nil, fmt.Errorf("trunk to %s at %s: %w", node, addr, err)
	}
	c := t.adopt(&peerConn{node: node, conn: qc, dialed: true, since: time.Now()})
	if c == nil {
		t.mu.Lock()
		c = t.conns[node]
		t.mu.Unlock()
		if c == nil {
			return nil, fmt.Errorf("trunk to %s: connection lost", node)
		}
	}
	return c, nil
}

// Pull opens a stream to node (at addr, dialed if no connection exists)
// and asks for the stream key. It returns once the origin answered: with
// the stream's reader, or ErrNotFound.
func (t *Trunk) Pull(ctx context.Context, node, addr, key string) (*Reader, error) {
	if len(key) == 0 || len(key) > MaxKey {
		return nil, fmt.Errorf("trunk: stream key of %d bytes", len(key))
	}
	c, err := t.conn(ctx, node, addr)
	if err != nil {
		return nil, err
	}
	s, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("trunk to %s: %w", node, err)
	}
	t.stats.pulls.Add(1)
	c.streams.Add(1)
	r := &Reader{s: s, br: bufio.NewReaderSize(s, 64<<10), c: c, t: t}
	if _, err := s.Write(appendRequest(nil, key)); err != nil {
		r.Close()
		return nil, err
	}
	// The answer: "ok" or "notfound".
	stop := context.AfterFunc(ctx, func() { s.CancelRead(codeStop) })
	typ, _, payload, err := readFrame(r.br)
	stop()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("trunk pull %s from %s: %w", key, node, err)
	}
	if typ != typeControl || string(payload) != ctlOK {
		r.Close()
		return nil, ErrNotFound
	}
	return r, nil
}

// Reader reads the media of a pulled stream.
type Reader struct {
	s    *quic.Stream
	br   *bufio.Reader
	c    *peerConn
	t    *Trunk
	once sync.Once
}

// errEnd is returned by Read once the origin's publisher stopped.
var errEnd = errors.New("trunk: stream unpublished on the origin")

// ErrEnd reports the end of a pulled stream (its publisher stopped).
var ErrEnd = errEnd

// Read returns the next media message; ErrEnd when the publisher stopped.
func (r *Reader) Read() (media.Message, error) {
	for {
		typ, ts, payload, err := readFrame(r.br)
		if err != nil {
			return media.Message{}, err
		}
		r.t.stats.bytesIn.Add(uint64(frameHeader + len(payload)))
		if typ != typeControl {
			return messageOf(typ, ts, payload), nil
		}
		if string(payload) == ctlEnd {
			return media.Message{}, ErrEnd
		}
	}
}

// Close stops the pull: the origin stops sending.
func (r *Reader) Close() {
	r.once.Do(func() {
		r.c.streams.Add(-1)
		r.s.CancelRead(codeStop)
		r.s.Close()
	})
}

// Writer sends a stream's media to a puller.
type Writer struct {
	s  *quic.Stream
	t  *Trunk
	mu sync.Mutex
	b  []byte
}

// Start tells the puller the stream is published: media follow.
func (w *Writer) Start() error { return w.control(ctlOK) }

func (w *Writer) control(s string) error {
	return w.write(typeControl, 0, []byte(s))
}

func (w *Writer) write(typ uint8, ts uint32, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = appendFrame(w.b[:0], typ, ts, payload)
	_, err := w.s.Write(w.b)
	if err == nil {
		w.t.stats.bytesOut.Add(uint64(len(w.b)))
	}
	return err
}

// WriteMedia sends one message; it blocks while the puller's window is
// full (QUIC flow control), which is what the caller's queue absorbs. It
// makes Writer a netstream.Sink.
func (w *Writer) WriteMedia(ctx context.Context, m media.Message) error {
	if len(m.Payload) > MaxFrame {
		return nil
	}
	return w.write(m.Type, m.Timestamp, m.Payload)
}

// Done is closed when the puller stopped the pull.
func (w *Writer) Done() <-chan struct{} { return w.s.Context().Done() }

// ConnStats describes the connection with one node.
type ConnStats struct {
	Node    string    `json:"node"`
	Remote  string    `json:"remote"`
	Dialed  bool      `json:"dialed"`
	Streams int64     `json:"streams"`
	Since   time.Time `json:"since"`
}

// Stats is a snapshot of a trunk's connections and counters.
type Stats struct {
	Conns    []ConnStats `json:"conns"`
	Refused  uint64      `json:"refused"` // connections of unknown certificates
	Served   uint64      `json:"served"`  // pulls answered
	Pulls    uint64      `json:"pulls"`   // pulls made
	BytesIn  uint64      `json:"bytesIn"`
	BytesOut uint64      `json:"bytesOut"`
}

// Stats returns the trunk's connections and counters.
func (t *Trunk) Stats() Stats {
	var st Stats
	t.mu.Lock()
	for _, c := range t.conns {
		st.Conns = append(st.Conns, ConnStats{Node: c.node, Remote: c.conn.RemoteAddr().String(), Dialed: c.dialed,
			Streams: c.streams.Load(), Since: c.since})
	}
	t.mu.Unlock()
	st.Refused, st.Served, st.Pulls = t.stats.refused.Load(), t.stats.served.Load(), t.stats.pulls.Load()
	st.BytesIn, st.BytesOut = t.stats.bytesIn.Load(), t.stats.bytesOut.Load()
	return st
}
