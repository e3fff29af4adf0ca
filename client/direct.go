package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// DirectStreamBase is the first NetStream ID Flash uses for direct P2P
// streams (rtmfp-facts §5.1: "TC 04 FA 89 01" is 2000001).
const DirectStreamBase = 2000000

// directServers holds, per endpoint, the server that lets peers play this
// end's direct streams.
var directServers sync.Map // *rtmfp.Endpoint → *netstream.Server

// directServer starts (once per endpoint) accepting P2P sessions and
// serving direct NetStream plays on them.
func directServer(ep *rtmfp.Endpoint, c *Conn) *netstream.Server {
	if v, ok := directServers.Load(ep); ok {
		return v.(*netstream.Server)
	}
	ns := netstream.NewServer(netstream.Config{Logger: c.log})
	v, loaded := directServers.LoadOrStore(ep, ns)
	if loaded {
		return v.(*netstream.Server)
	}
	nc := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: c.log, Direct: true})
	go func() {
		defer directServers.Delete(ep)
		nc.Serve(context.Background(), ep)
	}()
	return ns
}

// DirectStream is a stream this client publishes for peers to play
// directly (NetStream.DIRECT_CONNECTIONS): media goes from this endpoint to
// each player over its own P2P session, not through the server.
type DirectStream struct {
	ns     *netstream.Server
	stream *netstream.Stream
	name   string
}

// PublisherName names the publisher in logs.
func (d *DirectStream) PublisherName() string { return "direct/" + d.name }

// PublishDirect publishes name for direct P2P play by peers that reach this
// client's endpoint (introduced by its server, see Conn.ConnectPeer). It is
// registered in the empty application's default instance, where the plays
// of direct sessions look (netstream.Server.NewDirectConn).
func PublishDirect(c *Conn, name string) (*DirectStream, error) {
	ns := directServer(c.ep, c)
	d := &DirectStream{ns: ns, name: name}
	s, err := ns.Registry.Publish("", netstream.DefaultInstance, name, d)
	if err != nil {
		return nil, err
	}
	d.stream = s
	return d, nil
}

// WriteMedia sends one message to every player.
func (d *DirectStream) WriteMedia(m media.Message) { d.stream.Write(d, m) }

// Send calls handler with args on every player (NetStream.send).
func (d *DirectStream) Send(ctx context.Context, handler string, args ...amf.Value) error {
	m, err := netstream.EncodeData(handler, args...)
	if err != nil {
		return err
	}
	d.stream.Write(d, m)
	return nil
}

// Players returns the number of peers playing.
func (d *DirectStream) Players() int { return d.stream.Subscribers() }

// Close stops publishing; players get NetStream.Play.UnpublishNotify.
func (d *DirectStream) Close() { d.ns.Registry.Unpublish(d.stream, d) }

// PlayDirect plays the direct stream name of the peer at the other end of s
// (a session opened with Conn.ConnectPeer): no NetConnection runs on a
// direct session; the play goes on a NetStream flow of its own.
func PlayDirect(ctx context.Context, s *rtmfp.Session, name string) (*Stream, error) {
	c := directConn(s)
	c.mu.Lock()
	id := uint32(DirectStreamBase + 1)
	for c.streams[id] != nil {
		id++
	}
	st := &Stream{c: c, ID: id, status: make(chan Status, 64), media: make(chan media.Message, 256)}
	c.streams[id] = st
	c.mu.Unlock()
	if err := st.Play(ctx, name); err != nil {
		return nil, fmt.Errorf("client: direct play of %q: %w", name, err)
	}
	return st, nil
}

// directConns holds the per-session dispatchers of direct plays.
var directConns sync.Map // *rtmfp.Session → *Conn

// directConn returns the dispatcher reading a direct session's flows.
func directConn(s *rtmfp.Session) *Conn {
	if v, ok := directConns.Load(s); ok {
		return v.(*Conn)
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Conn{ep: s.Endpoint(), s: s, log: s.Endpoint().Logger(), ctx: ctx, stop: stop,
		pending: map[float64]chan callResult{}, streams: map[uint32]*Stream{}, status: make(chan Status, 64), opts: Options{StatusBuffer: 64}}
	if v, loaded := directConns.LoadOrStore(s, c); loaded {
		stop()
		return v.(*Conn)
	}
	go c.acceptFlows()
	go func() {
		<-s.Done()
		stop()
		directConns.Delete(s)
	}()
	return c
}
