package rtmp

import (
	"fmt"
	"net"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Listener accepts RTMP connections.
type Listener struct {
	l   net.Listener
	cfg *Config
}

// Listen listens on a TCP address ("127.0.0.1:1935").
func Listen(network, addr string, cfg *Config) (*Listener, error) {
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return NewListener(l, cfg), nil
}

// NewListener accepts RTMP connections from l.
func NewListener(l net.Listener, cfg *Config) *Listener { return &Listener{l: l, cfg: cfg} }

// Accept waits for a connection and returns its server end. The handshake
// runs on the Conn's first read or write, or when its Handshake method is
// called (as crypto/tls does), so that a slow or silent client holds up its
// own goroutine only, never the accept loop; it fails after the configured
// handshake timeout.
func (l *Listener) Accept() (*Conn, error) {
	nc, err := l.l.Accept()
	if err != nil {
		return nil, err
	}
	return NewServerConn(nc, l.cfg), nil
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.l.Addr() }

// Close stops listening.
func (l *Listener) Close() error { return l.l.Close() }

// ConnectParams are the properties of a connect command's object (§7.2.1.1)
// that servers use.
type ConnectParams struct {
	App            string
	TcURL          string
	FlashVer       string
	SwfURL         string
	PageURL        string
	Type           string // "nonprivate" from FMLE and ffmpeg when publishing
	ObjectEncoding float64
	// Object is the whole command object; Args are the optional user
	// arguments after it.
	Object *amf.Object
	Args   []amf.Value
}

// ParseConnect reads the parameters of a connect command.
func ParseConnect(cmd *Command) (ConnectParams, error) {
	if cmd.Name != "connect" {
		return ConnectParams{}, fmt.Errorf("rtmp: %q is not a connect command", cmd.Name)
	}
	o, ok := amf.AsObject(cmd.Object)
	if !ok {
		return ConnectParams{}, fmt.Errorf("%w: connect command object is %T", ErrMalformed, cmd.Object)
	}
	p := ConnectParams{Object: o, Args: cmd.Args}
	p.App, _ = o.GetString("app")
	p.TcURL, _ = o.GetString("tcUrl")
	p.FlashVer, _ = o.GetString("flashVer")
	p.SwfURL, _ = o.GetString("swfUrl")
	p.PageURL, _ = o.GetString("pageUrl")
	p.Type, _ = o.GetString("type")
	p.ObjectEncoding, _ = o.GetNumber("objectEncoding")
	return p, nil
}

// Status codes of the NetConnection and NetStream events a server sends.
const (
	CodeConnectSuccess      = "NetConnection.Connect.Success"
	CodeConnectRejected     = "NetConnection.Connect.Rejected"
	CodePublishStart        = "NetStream.Publish.Start"
	CodePublishBadName      = "NetStream.Publish.BadName"
	CodeUnpublishSuccess    = "NetStream.Unpublish.Success"
	CodePlayReset           = "NetStream.Play.Reset"
	CodePlayStart           = "NetStream.Play.Start"
	CodePlayStop            = "NetStream.Play.Stop"
	CodePlayStreamNotFound  = "NetStream.Play.StreamNotFound"
	CodePlayPublishNotify   = "NetStream.Play.PublishNotify"
	CodePlayUnpublishNotify = "NetStream.Play.UnpublishNotify"
)

// AcceptConnect answers a connect command as nginx-rtmp and Flash Media
// Server do: Window Acknowledgement Size, Set Peer Bandwidth (dynamic) and
// Set Chunk Size from the Config, then _result with the server's
// properties and NetConnection.Connect.Success carrying the client's
// objectEncoding.
func (c *Conn) AcceptConnect(cmd *Command) error {
	p, err := ParseConnect(cmd)
	if err != nil {
		return err
	}
	win := uint32Message(media.TypeWindowAckSize, c.cfg.WindowAckSize)
	bw := uint32Message(media.TypeSetPeerBW, c.cfg.WindowAckSize)
	bw.Payload = append(bw.Payload, LimitDynamic)
	cs := uint32Message(media.TypeSetChunkSize, uint32(c.cfg.ChunkSize))
	props := amf.NewObject(
		amf.Property{Key: "fmsVer", Value: "FMS/3,0,1,123"},
		amf.Property{Key: "capabilities", Value: 31.0},
		amf.Property{Key: "mode", Value: 1.0},
	)
	info := StatusObject(LevelStatus, CodeConnectSuccess, "Connection succeeded.",
		amf.Property{Key: "objectEncoding", Value: p.ObjectEncoding})
	res, err := (&Command{Name: "_result", TxnID: cmd.TxnID, Object: props, Args: []amf.Value{info}}).Message()
	if err != nil {
		return err
	}
	return c.WriteMessages(0, win, bw, cs, res)
}

// RejectConnect answers a connect command with _error and
// NetConnection.Connect.Rejected.
func (c *Conn) RejectConnect(cmd *Command, description string) error {
	return c.WriteError(0, cmd.TxnID, nil, StatusObject(LevelError, CodeConnectRejected, description))
}
