package rtmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// DefaultPort is the RTMP TCP port.
const DefaultPort = "1935"

// DefaultFlashVer is the flashVer a Client sends, in the form Flash Media
// Encoder and ffmpeg use when publishing.
const DefaultFlashVer = "FMLE/3.0 (compatible; rtmfpd)"

// Publishing modes (§7.2.2.6).
const (
	ModeLive   = "live"
	ModeRecord = "record"
	ModeAppend = "append"
)

// StatusError is an _error answer or an onStatus event of level "error".
type StatusError struct {
	Command     string // the command that failed
	Level       string
	Code        string
	Description string
}

// Error describes the failure with its status code and description.
func (e *StatusError) Error() string {
	return fmt.Sprintf("rtmp: %s: %s (%s)", e.Command, e.Code, e.Description)
}

func statusError(command string, c *Command) *StatusError {
	e := &StatusError{Command: command}
	if o := c.Info(); o != nil {
		e.Level, _ = o.GetString("level")
		e.Code, _ = o.GetString("code")
		e.Description, _ = o.GetString("description")
	}
	if e.Code == "" {
		e.Code = c.Name
	}
	return e
}

// ErrPendingOverflow means too many messages arrived while a Client waited
// for an answer.
var ErrPendingOverflow = errors.New("rtmp: too many messages while waiting for an answer")

// ClientOptions configures Dial.
type ClientOptions struct {
	// Config configures the connection (nil: defaults). Set Config.Digest
	// for the digest handshake.
	Config *Config
	// FlashVer defaults to DefaultFlashVer.
	FlashVer string
	SwfURL   string
	PageURL  string
	// ObjectEncoding is 0 (AMF0, default) or 3 (AMF3).
	ObjectEncoding float64
	// Dialer dials the TCP connection (nil: a zero net.Dialer).
	Dialer *net.Dialer
	// Args are extra arguments of the connect command, after the
	// command object.
	Args []any
}

// Client is an RTMP client connection with at most one NetStream, as ffmpeg
// uses it: Dial connects; Publish or Play creates the stream. Its methods
// must not be called concurrently, except WriteMedia and the write methods
// of Conn, which may run alongside one reading goroutine.
type Client struct {
	conn       *Conn
	app        string
	tcURL      string
	txn        float64
	pending    []Message
	streamID   uint32
	streamName string
	publishing bool
	// ConnectResult is the server's answer to connect.
	ConnectResult *Command
}

// ParseURL splits an rtmp:// URL into the TCP address to dial, the
// application name (the whole path: "app" or "app/instance", with the query
// if any) and the tcUrl to send.
func ParseURL(raw string) (addr, app, tcURL string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("rtmp: bad URL: %w", err)
	}
	if u.Scheme != "rtmp" {
		return "", "", "", fmt.Errorf("rtmp: URL scheme %q is not supported (only rtmp)", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", "", "", fmt.Errorf("rtmp: URL %q has no host", raw)
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	app = strings.Trim(u.Path, "/")
	if app == "" {
		return "", "", "", fmt.Errorf("rtmp: URL %q names no application", raw)
	}
	if u.RawQuery != "" {
		app += "?" + u.RawQuery
	}
	tc := *u
	tc.Fragment = ""
	return net.JoinHostPort(u.Hostname(), port), app, tc.String(), nil
}

// Dial connects to an RTMP application, "rtmp://host[:port]/app[/instance]":
// TCP, handshake, Set Chunk Size, then connect. ctx bounds all of it.
func Dial(ctx context.Context, rawURL string, opts *ClientOptions) (*Client, error) {
	if opts == nil {
		opts = &ClientOptions{}
	}
	addr, app, tcURL, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtmp: %w", err)
	}
	conn := NewClientConn(nc, opts.Config)
	c := &Client{conn: conn, app: app, tcURL: tcURL}
	if err := c.connect(ctx, opts); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) connect(ctx context.Context, opts *ClientOptions) error {
	if err := c.conn.Handshake(ctx); err != nil {
		return err
	}
	if err := c.conn.SetChunkSize(c.conn.cfg.ChunkSize); err != nil {
		return err
	}
	flashVer := opts.FlashVer
	if flashVer == "" {
		flashVer = DefaultFlashVer
	}
	obj := amf.NewObject(
		amf.Property{Key: "app", Value: c.app},
		amf.Property{Key: "type", Value: "nonprivate"},
		amf.Property{Key: "flashVer", Value: flashVer},
		amf.Property{Key: "tcUrl", Value: c.tcURL},
	)
	if opts.SwfURL != "" {
		obj.Set("swfUrl", opts.SwfURL)
	}
	if opts.PageURL != "" {
		obj.Set("pageUrl", opts.PageURL)
	}
	obj.Set("fpad", false)
	obj.Set("capabilities", 15.0)
	obj.Set("audioCodecs", 4071.0)
	obj.Set("videoCodecs", 252.0)
	obj.Set("videoFunction", 1.0)
	obj.Set("objectEncoding", opts.ObjectEncoding)
	res, err := c.Call(ctx, "connect", obj, opts.Args...)
	if err != nil {
		return err
	}
	if _, code := res.Status(); code != "" && code != CodeConnectSuccess {
		return statusError("connect", res)
	}
	c.ConnectResult = res
	return nil
}

// Conn returns the underlying connection.
func (c *Client) Conn() *Conn { return c.conn }

// StreamID returns the stream created by Publish or Play (0 before).
func (c *Client) StreamID() uint32 { return c.streamID }

// Call invokes a procedure on the NetConnection (stream 0) and waits for its
// _result, returned, or _error, returned as a *StatusError. Messages that
// arrive meanwhile are kept for ReadMessage.
func (c *Client) Call(ctx context.Context, name string, obj any, args ...any) (*Command, error) {
	c.txn++
	txn := c.txn
	if err := c.conn.WriteCommand(0, &Command{Name: name, TxnID: txn, Object: obj, Args: args}); err != nil {
		return nil, err
	}
	var res *Command
	err := c.waitFor(ctx, func(m Message) (bool, error) {
		if m.Command == nil || m.StreamID != 0 || m.Command.TxnID != txn {
			return false, nil
		}
		switch m.Command.Name {
		case "_result":
			res = m.Command
			return true, nil
		case "_error":
			return true, statusError(name, m.Command)
		}
		return false, nil
	})
	return res, err
}

// send invokes a procedure without waiting for an answer (releaseStream,
// FCPublish, deleteStream and the like, which servers may not answer).
func (c *Client) send(streamID uint32, name string, args ...any) error {
	c.txn++
	return c.conn.WriteCommand(streamID, &Command{Name: name, TxnID: c.txn, Args: args})
}

// waitFor reads messages until match accepts one, keeping the others (and
// answers to earlier calls nobody waits for are dropped).
func (c *Client) waitFor(ctx context.Context, match func(Message) (bool, error)) error {
	unbind := c.conn.dc.bind(ctx, noLimit)
	defer unbind()
	for {
		m, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				continue
			}
			if cerr := contextErr(ctx); cerr != nil {
				return fmt.Errorf("%w (%w)", cerr, err)
			}
			return err
		}
		done, err := match(m)
		if done || err != nil {
			return err
		}
		if m.Command != nil && (m.Command.Name == "_result" || m.Command.Name == "_error") {
			continue
		}
		if len(c.pending) >= maxPending {
			return ErrPendingOverflow
		}
		c.pending = append(c.pending, m)
	}
}

// createStream asks for a NetStream.
func (c *Client) createStream(ctx context.Context) error {
	if c.streamID != 0 {
		return errors.New("rtmp: the client already has a stream")
	}
	res, err := c.Call(ctx, "createStream", nil)
	if err != nil {
		return err
	}
	id, ok := amf.Int(res.Arg(0))
	if !ok || id <= 0 || id > 1<<31 {
		return fmt.Errorf("%w: createStream answered %v", ErrMalformed, res.Arg(0))
	}
	c.streamID = uint32(id)
	return nil
}

// waitStatus waits for onStatus with code want on the client's stream; an
// onStatus of level "error" fails.
func (c *Client) waitStatus(ctx context.Context, command, want string) error {
	return c.waitFor(ctx, func(m Message) (bool, error) {
		if m.Command == nil || m.Command.Name != "onStatus" || m.StreamID != c.streamID {
			return false, nil
		}
		level, code := m.Command.Status()
		switch {
		case code == want:
			return true, nil
		case level == LevelError:
			return true, statusError(command, m.Command)
		}
		return false, nil
	})
}

// Publish publishes stream name with mode (ModeLive, ModeRecord,
// ModeAppend) as ffmpeg does: releaseStream, FCPublish, createStream, then
// publish, and waits for NetStream.Publish.Start.
func (c *Client) Publish(ctx context.Context, name, mode string) error {
	if err := c.send(0, "releaseStream", name); err != nil {
		return err
	}
	if err := c.send(0, "FCPublish", name); err != nil {
		return err
	}
	if err := c.createStream(ctx); err != nil {
		return err
	}
	c.streamName, c.publishing = name, true
	if err := c.conn.WriteCommand(c.streamID, &Command{Name: "publish", Args: []any{name, mode}}); err != nil {
		return err
	}
	return c.waitStatus(ctx, "publish", CodePublishStart)
}

// Play plays stream name from its live point or its start (start = -2
// seconds, sent as -2000 as ffmpeg does), announces a 3 s buffer and waits
// for NetStream.Play.Start.
func (c *Client) Play(ctx context.Context, name string) error {
	if err := c.createStream(ctx); err != nil {
		return err
	}
	c.streamName = name
	if err := c.conn.WriteCommand(c.streamID, &Command{Name: "play", Args: []any{name, -2000.0}}); err != nil {
		return err
	}
	if err := c.conn.WriteUserControl(UserControl{Event: EventSetBufferLength, StreamID: c.streamID, BufferLength: 3000}); err != nil {
		return err
	}
	return c.waitStatus(ctx, "play", CodePlayStart)
}

// WriteMedia writes an audio, video or data message on the published
// stream.
func (c *Client) WriteMedia(m media.Message) error {
	if !c.publishing {
		return errors.New("rtmp: WriteMedia before Publish")
	}
	return c.conn.WriteMessage(c.streamID, m)
}

// ReadMessage returns the next message: media, data, onStatus events,
// user control events. Messages kept while waiting for answers come first.
func (c *Client) ReadMessage() (Message, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	return c.conn.ReadMessage()
}

// Close ends the stream as ffmpeg does (FCUnpublish and deleteStream when
// publishing, deleteStream when playing) and closes the connection.
func (c *Client) Close() error {
	if c.streamID != 0 {
		if c.publishing {
			c.send(0, "FCUnpublish", c.streamName)
		}
		c.send(0, "deleteStream", float64(c.streamID))
	}
	return c.conn.Close()
}
