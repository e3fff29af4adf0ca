package groupstream

import (
	"context"
	"errors"
	"sync"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// IngestConfig says where a group stream goes on the server.
type IngestConfig struct {
	// Registry receives the stream (required).
	Registry *netstream.Registry
	// App, Instance and Name name the server stream (Instance default
	// netstream.DefaultInstance).
	App, Instance, Name string
	// Multicast holds the player's local overrides (zero: the parameters
	// the group stream's publisher announces). The ingest applies them
	// again after each NetStream.MulticastStream.Reset.
	Multicast multicast.Config
	// OnPublish and OnUnpublish, if set, are told when the server stream
	// starts (the group stream's first message, or its first after a new
	// publication) and stops (the group stream ended): what a relay or a
	// recording needs. They run on the ingest's goroutine.
	OnPublish, OnUnpublish func(*netstream.Stream)
}

// Ingest plays a group stream into a server stream, as Adobe Media Server's
// MulticastStreamIngest did: clients that cannot take part in P2P (their
// NAT defeats it, or they speak RTMP) play it from the server over unicast
// RTMFP or RTMP, and the relay can republish it. The server stream is
// published while the group stream is (from its first message to its
// end); a new publication in the group (NetStream.MulticastStream.Reset)
// publishes it again.
type Ingest struct {
	pb     *Playback
	cfg    IngestConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	stream  *netstream.Stream // while published
	refused bool              // the registry refused this publication (ingest goroutine)
	msgs    uint64
	pubs    uint64
}

// ErrIngestConfig reports an IngestConfig without registry or name.
var ErrIngestConfig = errors.New("groupstream: an ingest needs a registry and a stream name")

// PlayStream plays the group stream name into the server stream described
// by cfg (MulticastStreamIngest). It fails when this member already has a
// stream of that name, or when another publisher holds the server stream
// at the time the group stream starts (logged, and retried at the next
// publication).
func (g *Group) PlayStream(name string, cfg IngestConfig) (*Ingest, error) {
	if cfg.Registry == nil || cfg.Name == "" {
		return nil, ErrIngestConfig
	}
	if cfg.Instance == "" {
		cfg.Instance = netstream.DefaultInstance
	}
	pb, err := g.Play(name, cfg.Multicast)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &Ingest{pb: pb, cfg: cfg, cancel: cancel, done: make(chan struct{})}
	go in.run(ctx)
	return in, nil
}

// PublisherName implements netstream.Publisher.
func (in *Ingest) PublisherName() string { return "group stream " + in.pb.s.name }

// Playback returns the group player (statistics, IP multicast).
func (in *Ingest) Playback() *Playback { return in.pb }

// IngestStats counts what an ingest did.
type IngestStats struct {
	Messages     uint64 // written into the server stream
	Publications uint64 // times the server stream was published
	Published    bool   // the server stream is published now
}

// Stats returns the ingest's counters.
func (in *Ingest) Stats() IngestStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return IngestStats{Messages: in.msgs, Publications: in.pubs, Published: in.stream != nil}
}

// Close stops playing and unpublishes the server stream.
func (in *Ingest) Close() {
	in.cancel()
	<-in.done
	in.pb.Close()
}

func (in *Ingest) run(ctx context.Context) {
	defer close(in.done)
	defer in.unpublish()
	for {
		select {
		case m := <-in.pb.s.out:
			in.write(m)
		case code := <-in.pb.s.status:
			switch code {
			case StatusUnpublishNotify:
				// Everything delivered before the end is queued already.
				in.drain()
				in.unpublish()
			case StatusReset:
				in.drain()
				in.unpublish()
				if in.cfg.Multicast != (multicast.Config{}) {
					in.pb.SetMulticastConfig(in.cfg.Multicast) // overrides are lost at a reset: apply them again
				}
			}
		case <-in.pb.s.ended:
			in.drain()
			return
		case <-ctx.Done():
			return
		}
	}
}

// drain writes the messages already queued.
func (in *Ingest) drain() {
	for {
		select {
		case m := <-in.pb.s.out:
			in.write(m)
		default:
			return
		}
	}
}

func (in *Ingest) write(m media.Message) {
	in.mu.Lock()
	s := in.stream
	in.mu.Unlock()
	if s == nil {
		if in.refused {
			return
		}
		var err error
		s, err = in.cfg.Registry.Publish(in.cfg.App, in.cfg.Instance, in.cfg.Name, in)
		if err != nil {
			in.refused = true // until the group stream's next publication
			in.pb.s.g.log.Warn("group stream not ingested", "stream", in.pb.s.name,
				"to", in.cfg.App+"/"+in.cfg.Instance+"/"+in.cfg.Name, "err", err)
			return
		}
		in.mu.Lock()
		in.stream = s
		in.pubs++
		in.mu.Unlock()
		if in.cfg.OnPublish != nil {
			in.cfg.OnPublish(s)
		}
	}
	s.Write(in, m)
	in.mu.Lock()
	in.msgs++
	in.mu.Unlock()
}

func (in *Ingest) unpublish() {
	in.refused = false
	in.mu.Lock()
	s := in.stream
	in.stream = nil
	in.mu.Unlock()
	if s == nil {
		return
	}
	if in.cfg.OnUnpublish != nil {
		in.cfg.OnUnpublish(s)
	}
	in.cfg.Registry.Unpublish(s, in)
}
