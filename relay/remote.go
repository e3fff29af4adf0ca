package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// remote is a stream published on a target server.
type remote interface {
	// WriteMedia sends one message of the stream.
	WriteMedia(ctx context.Context, m media.Message) error
	// Done is closed when the connection to the target failed or ended.
	Done() <-chan struct{}
	// Err says why Done was closed.
	Err() error
	// Unpublish ends the remote stream as a client does (FCUnpublish,
	// deleteStream, or closeStream over RTMFP) and closes the connection.
	Unpublish(ctx context.Context)
	// Close closes the connection at once.
	Close()
}

// relayFlashVer is the flashVer the relay's RTMP connections announce.
const relayFlashVer = "FMLE/3.0 (rtmfpd relay)"

// dialRemote connects to a target and publishes the stream there.
func dialRemote(ctx context.Context, t resolved, cfg *Config) (remote, error) {
	switch t.scheme {
	case "rtmp":
		return dialRTMP(ctx, t, cfg)
	case "rtmfp":
		return dialRTMFP(ctx, t, cfg)
	}
	return nil, fmt.Errorf("relay: scheme %q", t.scheme)
}

// failure records why a remote ended, once.
type failure struct {
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newFailure() *failure { return &failure{done: make(chan struct{})} }

func (f *failure) fail(err error) {
	f.once.Do(func() {
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
		close(f.done)
	})
}

func (f *failure) Done() <-chan struct{} { return f.done }

func (f *failure) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// rtmpRemote publishes over RTMP.
type rtmpRemote struct {
	*failure
	c *rtmp.Client
}

func dialRTMP(ctx context.Context, t resolved, cfg *Config) (remote, error) {
	c, err := rtmp.Dial(ctx, t.connURL, &rtmp.ClientOptions{
		Config:   &rtmp.Config{WriteTimeout: cfg.WriteTimeout},
		FlashVer: relayFlashVer,
		Args:     []any{t.hops.arg()},
	})
	if err != nil {
		return nil, err
	}
	if err := c.Publish(ctx, t.name, t.mode); err != nil {
		c.Conn().Close()
		return nil, err
	}
	r := &rtmpRemote{failure: newFailure(), c: c}
	go r.read()
	return r, nil
}

// read reads what the target sends (acknowledgements and pings are handled
// by the Conn) and fails on an error status or the end of the connection.
func (r *rtmpRemote) read() {
	for {
		m, err := r.c.ReadMessage()
		if err != nil {
			if errors.Is(err, rtmp.ErrMalformed) {
				continue
			}
			r.fail(err)
			return
		}
		if cmd := m.Command; cmd != nil && cmd.Name == "onStatus" {
			if level, code := cmd.Status(); level == rtmp.LevelError {
				r.fail(fmt.Errorf("rtmp: %s", code))
				r.c.Conn().Close()
				return
			}
		}
	}
}

func (r *rtmpRemote) WriteMedia(_ context.Context, m media.Message) error {
	return r.c.WriteMedia(m)
}

func (r *rtmpRemote) Unpublish(context.Context) {
	r.c.Close()
	r.fail(errUnpublished)
}

func (r *rtmpRemote) Close() {
	r.c.Conn().Close()
	r.fail(errUnpublished)
}

// errUnpublished ends a remote the relay closed itself.
var errUnpublished = errors.New("relay: unpublished")

// rtmfpRemote publishes over RTMFP.
type rtmfpRemote struct {
	*failure
	c  *client.Conn
	st *client.Stream
}

func dialRTMFP(ctx context.Context, t resolved, cfg *Config) (remote, error) {
	c, err := client.Dial(ctx, t.connURL, client.Options{Logger: cfg.Logger.With("relay", t.display), Args: []any{t.hops.arg()}})
	if err != nil {
		return nil, err
	}
	st, err := c.CreateStream(ctx)
	if err == nil {
		err = st.Publish(ctx, t.name, t.mode)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	r := &rtmfpRemote{failure: newFailure(), c: c, st: st}
	go func() {
		<-c.Done()
		err := c.Session().Err()
		if err == nil {
			err = errors.New("rtmfp: the target closed the session")
		}
		r.fail(err)
	}()
	return r, nil
}

func (r *rtmfpRemote) WriteMedia(ctx context.Context, m media.Message) error {
	return r.st.WriteMedia(ctx, m)
}

func (r *rtmfpRemote) Unpublish(ctx context.Context) {
	r.fail(errUnpublished)
	r.st.Close(ctx)
	r.c.Close()
}

func (r *rtmfpRemote) Close() {
	r.fail(errUnpublished)
	r.c.Close()
}

// onMetaData is the start of an AMF0 data message named onMetaData.
var onMetaData = []byte{0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}

// setDataFrame turns an onMetaData data message (as the local stream
// delivers it) back into @setDataFrame("onMetaData", ...), the form
// publishers send so that the server keeps it for its players.
func setDataFrame(m media.Message) media.Message {
	if m.Type != media.TypeDataAMF0 || !bytes.HasPrefix(m.Payload, onMetaData) {
		return m
	}
	p, _ := amf.AppendAMF0(nil, "@setDataFrame")
	m.Payload = append(p, m.Payload...)
	return m
}
