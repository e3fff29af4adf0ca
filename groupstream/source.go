package groupstream

import (
	"sync"

	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// StreamPublication is a server stream republished into the group.
type StreamPublication struct {
	*Publication
	sub      *netstream.Subscription
	unlisten func()
	once     sync.Once
}

// PublishStream republishes the server stream src into the group under
// name, as FMS's server-side NetStream(nc, groupspec) attached to a stream
// does: every message of src's publisher goes into the P2P multicast
// stream. When src's publisher stops, the group stream ends (players see the
// end; a later publication gets a new stream key, which players report as
// NetStream.MulticastStream.Reset). queue bounds the messages waiting
// between src and the group (bytes; 0: 4 MiB); opts are Publish's.
func (g *Group) PublishStream(src *netstream.Stream, name string, cfg multicast.Config, queue int, opts ...PublishOption) (*StreamPublication, error) {
	pub, err := g.Publish(name, cfg, opts...)
	if err != nil {
		return nil, err
	}
	if queue <= 0 {
		queue = 4 << 20
	}
	sp := &StreamPublication{Publication: pub}
	sp.sub = src.Subscribe(pub, queue)
	sp.unlisten = src.Listen(stopper{sp})
	return sp, nil
}

// Closed is closed once the republication has ended.
func (sp *StreamPublication) Closed() <-chan struct{} { return sp.Publication.s.ended }

// Close ends the republication.
func (sp *StreamPublication) Close() {
	sp.once.Do(func() {
		sp.unlisten()
		sp.sub.Close()
		sp.Publication.Close()
	})
}

// stopper ends a republication when its source stops.
type stopper struct{ sp *StreamPublication }

func (s stopper) PublishStarted(*netstream.Stream) {}

// PublishStopped ends the republication once the group has every message
// its subscription still holds (an encoder's last frames arrive in a burst
// just before its unpublish), or at once if the subscription has ended.
func (s stopper) PublishStopped(*netstream.Stream) {
	queued := make(chan struct{})
	s.sp.sub.After(func() { close(queued) })
	go func() {
		select {
		case <-queued:
		case <-s.sp.sub.Done():
		}
		s.sp.Close()
	}()
}
