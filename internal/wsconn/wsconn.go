// Package wsconn carries a byte stream over a WebSocket (RFC 6455) as a
// net.Conn, the way browser Flash emulators reach socket servers: Ruffle's
// socket proxy opens one WebSocket per socket and sends what the SWF writes
// as binary messages, and takes the server's bytes from binary messages
// however they are cut. It also provides the net.Listener that hands such
// connections to a server written for TCP (rtmpnc.Server.Serve).
//
// Unlike websocket.NetConn, a read deadline interrupts only the read: the
// RTMP layer uses short read deadlines to ping a quiet peer and then goes
// on reading, which must not close the connection. A write deadline that
// passes during a write closes the connection (a write cannot be resumed
// halfway through a message), as the RTMP layer does anyway.
package wsconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// readBuffer is how much of a message the reader holds at once: memory per
// connection does not depend on the size of the messages the peer sends.
const readBuffer = 32 << 10

// Conn is a WebSocket connection seen as a net.Conn.
type Conn struct {
	ws     *websocket.Conn
	local  net.Addr
	remote net.Addr
	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc

	data chan []byte   // from the reader goroutine: a part of a message
	ack  chan struct{} // to it: the part has been consumed
	rerr error         // why reading ended; set before data is closed
	// refused is the status the reader closes with (0: none), set before
	// data is closed: a Close that follows the reader's end (the RTMP
	// side closing at the error) says the same, whichever gets to the
	// WebSocket first.
	refused atomic.Int32

	rmu     sync.Mutex // one Read at a time
	pending []byte

	dmu       sync.Mutex
	rdeadline time.Time
	rchanged  chan struct{} // signalled when the read deadline changes
	wdeadline time.Time

	wmu       sync.Mutex // one Write at a time
	closeOnce sync.Once
	closed    chan struct{} // closed by Close
}

// New wraps ws, accepted for a client at remote. Messages larger than
// maxMessage bytes close the connection with status 1009 (message too big);
// text messages close it with 1003 (unsupported data).
func New(ws *websocket.Conn, local, remote net.Addr, maxMessage int64) *Conn {
	ws.SetReadLimit(maxMessage)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{ws: ws, local: local, remote: remote, ctx: ctx, cancel: cancel, closed: make(chan struct{}),
		data: make(chan []byte), ack: make(chan struct{}), rchanged: make(chan struct{}, 1)}
	go c.readLoop()
	return c
}

// readLoop reads messages into a fixed buffer and hands each part to Read.
func (c *Conn) readLoop() {
	refuse := websocket.StatusCode(-1) // the status to close with, if any
	defer func() {
		if refuse >= 0 {
			c.refused.Store(int32(refuse))
		}
		close(c.data)
		if refuse >= 0 {
			c.ws.Close(refuse, "")
		}
	}()
	buf := make([]byte, readBuffer)
	for {
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			refuse, c.rerr = readError(err)
			return
		}
		if typ != websocket.MessageBinary {
			c.rerr = errors.New("websocket: a text message where binary ones carry the stream")
			refuse = websocket.StatusUnsupportedData
			return
		}
		for {
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case c.data <- buf[:n]:
				case <-c.ctx.Done():
					c.rerr = net.ErrClosed
					return
				}
				select {
				case <-c.ack:
				case <-c.ctx.Done():
					c.rerr = net.ErrClosed
					return
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				refuse, c.rerr = readError(err)
				return
			}
		}
	}
}

// readError maps the end of the WebSocket to what a net.Conn reader
// expects (io.EOF for a close by the peer) and tells the status to close
// with: a protocol error for frames the library refused without closing
// (an unmasked frame from a client), -1 when the connection is closed
// already.
func readError(err error) (websocket.StatusCode, error) {
	switch websocket.CloseStatus(err) {
	case -1:
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
		return -1, io.EOF
	default:
		return -1, err // the peer closed
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return -1, err
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return -1, fmt.Errorf("websocket: %w", err) // closed with 1009
	}
	return websocket.StatusProtocolError, err
}

// timeoutError is returned by a Read whose deadline passed.
type timeoutError struct{}

func (timeoutError) Error() string   { return "websocket read: " + os.ErrDeadlineExceeded.Error() }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// Read reads bytes of the peer's binary messages.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.pending) == 0 {
		b, err := c.next()
		if err != nil {
			return 0, err
		}
		c.pending = b
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		select { // the reader waits for it: its buffer is free again
		case c.ack <- struct{}{}:
		case <-c.ctx.Done():
		case <-c.closed:
		}
	}
	return n, nil
}

// next waits for the next part of a message, within the read deadline.
func (c *Conn) next() ([]byte, error) {
	for {
		c.dmu.Lock()
		dl, changed := c.rdeadline, c.rchanged
		c.dmu.Unlock()
		var expired <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return nil, timeoutError{}
			}
			t = time.NewTimer(d)
			expired = t.C
		}
		b, ok, timedOut := c.wait(expired, changed)
		if t != nil {
			t.Stop()
		}
		switch {
		case timedOut:
			return nil, timeoutError{}
		case b != nil:
			return b, nil
		case !ok:
			select {
			case <-c.closed:
				return nil, net.ErrClosed
			default:
			}
			return nil, c.rerr
		}
	}
}

// wait waits for a part of a message (b; ok false when reading has ended),
// the deadline (timedOut) or a change of deadline (nothing).
func (c *Conn) wait(expired <-chan time.Time, changed <-chan struct{}) (b []byte, ok, timedOut bool) {
	select {
	case b, ok = <-c.data:
		return b, ok, false
	case <-expired:
		return nil, true, true
	case <-changed:
		return nil, true, false
	case <-c.closed:
		return nil, false, false
	}
}

// Write sends p as one binary message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	ctx := c.ctx
	c.dmu.Lock()
	dl := c.wdeadline
	c.dmu.Unlock()
	if !dl.IsZero() {
		if !time.Now().Before(dl) {
			return 0, timeoutError{}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	if err := c.ws.Write(ctx, websocket.MessageBinary, p); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, fmt.Errorf("websocket write: %w", os.ErrDeadlineExceeded)
		}
		return 0, err
	}
	return len(p), nil
}

// Close closes the WebSocket with status 1000. It does not wait for the
// peer's answer to the close (the library waits for it up to 5 s on a
// goroutine of its own); reads and writes fail at once.
func (c *Conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		err = nil
		close(c.closed)
		status := websocket.StatusNormalClosure
		if r := c.refused.Load(); r != 0 {
			status = websocket.StatusCode(r)
		}
		go func() {
			c.ws.Close(status, "")
			c.cancel()
		}()
	})
	return err
}

// Done is closed when Close is called.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// LocalAddr is the listener's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds the current and later Reads; a Read that passes it
// fails with a timeout and the connection stays usable.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	c.rdeadline = t
	c.dmu.Unlock()
	select {
	case c.rchanged <- struct{}{}:
	default:
	}
	return nil
}

// SetWriteDeadline bounds later Writes.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.dmu.Lock()
	c.wdeadline = t
	c.dmu.Unlock()
	return nil
}

// Listener hands connections accepted by an HTTP handler to a server's
// Accept loop.
type Listener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewListener returns a listener reporting addr as its address.
func NewListener(addr net.Addr) *Listener {
	return &Listener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Offer hands c to Accept; false when the listener is closed or ctx ends
// first (the caller then closes c).
func (l *Listener) Offer(ctx context.Context, c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
	case <-ctx.Done():
	}
	return false
}

// Accept returns the next connection offered.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address given to NewListener.
func (l *Listener) Addr() net.Addr { return l.addr }
