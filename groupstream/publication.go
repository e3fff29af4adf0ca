package groupstream

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Publication is a stream this member publishes into the group. The codec
// headers and metadata it was given are sent again before every video key
// frame: members join a multicast stream at its live edge, and need them to
// decode from the next key frame.
type Publication struct {
	s                      *stream
	mu                     sync.Mutex
	meta, video, audioHdrs *media.Message
	ipmc                   atomic.Pointer[ipmcSender]
	onIPMCErr              atomic.Pointer[func(error)]
}

// PublishOption sets up a publication before it starts, as the NetStream
// methods Flash accepts only before publish() do.
type PublishOption func(*Publication) error

// Publish starts publishing name into the group with the multicast
// parameters cfg (zero: Flash's defaults) and the options. Its status
// events start with NetStream.Connect.Success and NetStream.Publish.Start.
// It fails with a *StatusError: NetStream.Publish.BadName (ErrNameInUse)
// when this member already has a stream of that name,
// NetStream.Connect.Failed (ErrClosed) when the Group was closed; an
// option's error is returned as is.
func (g *Group) Publish(name string, cfg multicast.Config, opts ...PublishOption) (*Publication, error) {
	s := &stream{g: g, name: name, cfg: cfg, publisher: true, status: make(chan string, 16), ended: make(chan struct{})}
	p := &Publication{s: s}
	s.pub, s.onEnd = p, p.closeIPMC
	for _, o := range opts {
		if err := o(p); err != nil {
			p.closeIPMC()
			return nil, err
		}
	}
	if err := g.addStream(s); err != nil {
		p.closeIPMC()
		return nil, statusError(err, true)
	}
	s.notify(StatusConnectSuccess)
	s.notify(StatusPublishStart)
	return p, nil
}

// WriteMedia publishes one message (netstream.Sink). It blocks while the
// group's event queue is full.
func (p *Publication) WriteMedia(ctx context.Context, m media.Message) error {
	for _, hdr := range p.headersFor(m) {
		if err := p.write(ctx, hdr); err != nil {
			return err
		}
	}
	return p.write(ctx, m)
}

// headersFor records m if it is a header, and returns the headers to send
// before m if m is a video key frame.
func (p *Publication) headersFor(m media.Message) []media.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := m
	switch {
	case m.IsSequenceHeader() && m.IsVideo():
		p.video = &c
	case m.IsSequenceHeader() && m.IsAudio():
		p.audioHdrs = &c
	case m.IsData():
		if vs, err := netstream.DecodeData(m); err == nil && len(vs) > 0 && vs[0] == "onMetaData" {
			p.meta = &c
		}
	case m.IsVideo() && m.IsKeyframe():
		var out []media.Message
		for _, h := range []*media.Message{p.meta, p.video, p.audioHdrs} {
			if h != nil {
				r := *h
				r.Timestamp = m.Timestamp
				out = append(out, r)
			}
		}
		return out
	}
	return nil
}

func (p *Publication) write(ctx context.Context, m media.Message) error {
	select {
	case p.s.g.events <- event{kind: evPublish, s: p.s, m: m}:
		return nil
	case <-p.s.ended:
		return ErrClosed
	case <-p.s.g.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status returns the publication's status events.
func (p *Publication) Status() <-chan string { return p.s.status }

// Stats returns the engine's statistics (NetStreamMulticastInfo-style).
func (p *Publication) Stats() multicast.Stats { return p.s.g.stats(p.s) }

// Close ends the stream: neighbours are told the last fragment. The stream
// still answers their pulls until its fragments leave the window (Window +
// RelayMargin), unless the name is published again first.
func (p *Publication) Close() {
	p.s.g.remove(p.s)
	p.s.notify(StatusUnpublishSuccess)
}

// Playback is a group stream this member plays (and relays).
type Playback struct {
	s                 *stream
	mu                sync.Mutex
	receivers         []*ipmulticast.Receiver
	ingested, foreign atomic.Uint64
}

// Play starts playing name from the group. A zero cfg plays with the
// parameters the stream's publisher announces (window, fetch and update
// periods, send-to-all; Flash's defaults for the rest); any other cfg is
// this player's local override, until SetMulticastConfig changes it or a
// new publication of the name replaces the stream
// (NetStream.MulticastStream.Reset), which drops it, as Flash does. Its
// status events start with NetStream.Connect.Success and
// NetStream.Play.Start. It fails with a *StatusError:
// NetStream.Play.Failed (ErrNameInUse) when this member already has a
// stream of that name, NetStream.Connect.Failed (ErrClosed) when the Group
// was closed.
func (g *Group) Play(name string, cfg multicast.Config) (*Playback, error) {
	s := &stream{g: g, name: name, cfg: cfg, out: make(chan media.Message, playerQueue),
		status: make(chan string, 16), ended: make(chan struct{}), overrides: cfg != multicast.Config{}}
	pb := &Playback{s: s}
	s.onEnd = pb.closeReceivers
	if err := g.addStream(s); err != nil {
		return nil, statusError(err, false)
	}
	s.notify(StatusConnectSuccess)
	s.notify(StatusPlayStart)
	return pb, nil
}

// ReadMedia returns the next reassembled message, in the publisher's order.
// Video starts at a key frame: the inter frames before the first one this
// player receives (of each stream key) are not delivered.
func (p *Playback) ReadMedia(ctx context.Context) (media.Message, error) {
	select {
	case m := <-p.s.out:
		return m, nil
	case <-p.s.ended:
		return media.Message{}, ErrClosed
	case <-ctx.Done():
		return media.Message{}, ctx.Err()
	}
}

// Status returns status events: Play.Start, MulticastStream.Reset,
// Play.UnpublishNotify.
func (p *Playback) Status() <-chan string { return p.s.status }

// Stats returns the engine's statistics.
func (p *Playback) Stats() multicast.Stats { return p.s.g.stats(p.s) }

// SetMulticastConfig sets the player's local overrides of the multicast
// parameters (Flash's NetStream properties set on a playing stream). They
// last until a new publication resets the stream (StatusReset); apply them
// again then. A zero cfg returns to the publisher's parameters.
func (p *Playback) SetMulticastConfig(cfg multicast.Config) {
	reply := make(chan any, 1)
	p.s.g.call(event{kind: evConfig, s: p.s, cfg: cfg, reply: reply})
}

// MulticastConfig returns the parameters the player uses now.
func (p *Playback) MulticastConfig() multicast.Config {
	reply := make(chan any, 1)
	c, _ := p.s.g.call(event{kind: evConfig, s: p.s, reply: reply, query: true}).(multicast.Config)
	return c
}

// Dropped counts messages dropped because ReadMedia was not called.
func (p *Playback) Dropped() uint64 { return p.s.dropped.Load() }

// Close stops playing.
func (p *Playback) Close() { p.s.g.remove(p.s) }
