package netstream

import (
	"errors"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Publisher is the source of a stream: a client NetStream, an RTMP
// encoder, a relay, a file. The registry tells it when it is displaced.
type Publisher interface {
	// PublisherName describes the publisher in logs and status.
	PublisherName() string
}

// ErrNameInUse is returned by Publish for a name someone else publishes.
var ErrNameInUse = errors.New("netstream: stream name already published")

// Stream is one named live stream of an application instance: at most one
// publisher and any number of subscriptions. The metadata and the codec
// headers of the current publisher are kept and sent first to late joiners.
type Stream struct {
	reg  *Registry
	key  string
	Name string
	App  string
	Inst string

	mu        sync.Mutex
	publisher Publisher
	subs      map[*Subscription]struct{}
	metadata  *media.Message // onMetaData, as a data message
	videoHdr  *media.Message
	audioHdr  *media.Message
	listeners []StreamListener
	stats     StreamStats
	gop       gopCache        // the last group of pictures (see gopcache.go)
	since     time.Time       // when the current publisher started
	held      []*Subscription // to flush: their FlushSinks hold messages
	spare     []*Subscription // the other buffer of held
}

// PublishedSince returns when the current publisher started (zero when the
// stream has none).
func (s *Stream) PublishedSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publisher == nil {
		return time.Time{}
	}
	return s.since
}

// StreamListener is told when a stream's publisher starts and stops (a
// player waiting for a live stream, a relay).
type StreamListener interface {
	PublishStarted(s *Stream)
	PublishStopped(s *Stream)
}

// StreamStats counts a stream's traffic.
type StreamStats struct {
	Messages, Bytes uint64
	// Oversized counts metadata and codec headers too large to keep for
	// late joiners (passed on as ordinary messages).
	Oversized uint64
}

// Key is the registry key: app/instance/name.
func (s *Stream) Key() string { return s.key }

// Publisher returns the current publisher, or nil.
func (s *Stream) Publisher() Publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publisher
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Subscribers returns the number of subscriptions.
func (s *Stream) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Write fans one message of the publisher out to every subscription. Only
// the current publisher may write; others are ignored. Metadata and codec
// headers up to the registry's MaxSticky bytes are kept for late joiners
// (the latest of each); larger ones are passed on as ordinary messages.
// Write only queues m: each subscription's goroutine delivers it.
func (s *Stream) Write(p Publisher, m media.Message) { s.write(p, m, false) }

// WriteHeld is Write for a publisher that calls Flush before it waits for
// more input (an RTMP connection's reader, see Conn.HoldPublished). Players
// whose transport takes batches without blocking (FlushSink) get m at the
// next Flush, on the caller's goroutine, with the other messages held for
// them: what the publisher sent together goes to each player in one write,
// without a hand-off to the subscription's goroutine. The rest is queued as
// by Write.
func (s *Stream) WriteHeld(p Publisher, m media.Message) { s.write(p, m, true) }

func (s *Stream) write(p Publisher, m media.Message, direct bool) {
	kind := notSticky
	switch {
	case m.IsSequenceHeader():
		kind = stickyOf(m)
	case m.IsData():
		if md, ok := metadataOf(m); ok {
			m, kind = md, stickyMeta
		}
	}
	oversized := kind != notSticky && len(m.Payload) > s.reg.maxSticky()
	if oversized {
		kind = notSticky
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.publisher != p {
		return
	}
	if kind != notSticky {
		c := m
		switch kind {
		case stickyMeta:
			s.metadata = &c
		case stickyVideo:
			s.videoHdr = &c
		case stickyAudio:
			s.audioHdr = &c
		}
	}
	if oversized {
		s.stats.Oversized++
	}
	s.stats.Messages++
	s.stats.Bytes += uint64(len(m.Payload))
	s.gop.add(m, kind != notSticky, s.reg.GOPCache)
	for sub := range s.subs {
		if sub.push(&m, kind, direct) {
			s.held = append(s.held, sub)
		}
	}
}

// Flush delivers what the players' FlushSinks hold (see WriteHeld).
func (s *Stream) Flush() {
	s.mu.Lock()
	held := s.held
	if len(held) == 0 {
		s.mu.Unlock()
		return
	}
	s.held, s.spare = s.spare, nil
	s.mu.Unlock()
	for i, sub := range held {
		sub.flush()
		held[i] = nil
	}
	s.mu.Lock()
	if s.spare == nil {
		s.spare = held[:0]
	}
	s.mu.Unlock()
}

// ClearMetadata forgets the stored metadata (@clearDataFrame).
func (s *Stream) ClearMetadata() {
	s.mu.Lock()
	s.metadata = nil
	s.mu.Unlock()
}

// Subscribe adds a consumer whose queue holds at most limit bytes (see
// SubscribeWith).
func (s *Stream) Subscribe(sink Sink, limit int) *Subscription {
	return s.SubscribeWith(sink, SubscribeOptions{Limit: limit})
}

// SubscribeWith adds a consumer. The stored metadata and codec headers are
// queued first; live media follows from the next key frame.
func (s *Stream) SubscribeWith(sink Sink, o SubscribeOptions) *Subscription {
	sub := newSubscription(s, sink, o)
	s.mu.Lock()
	for _, m := range []*media.Message{s.metadata, s.videoHdr, s.audioHdr} {
		if m != nil {
			c := *m
			sub.push(&c, stickyOf(c), false)
		}
	}
	if o.AtKeyframe {
		for _, m := range s.gop.msgs {
			sub.push(&m, notSticky, false)
		}
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	return sub
}

func (s *Stream) unsubscribe(sub *Subscription) {
	s.mu.Lock()
	delete(s.subs, sub)
	s.mu.Unlock()
	s.reg.release(s)
}

// Listen registers l for publish start and stop events; the returned
// function removes it.
func (s *Stream) Listen(l StreamListener) (remove func()) {
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		for i, x := range s.listeners {
			if x == l {
				s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
		s.reg.release(s)
	}
}

// metadataOf recognises @setDataFrame(onMetaData, obj) and onMetaData(obj)
// and returns the onMetaData data message players expect.
func metadataOf(m media.Message) (media.Message, bool) {
	vs, err := DecodeData(m)
	if err != nil || len(vs) == 0 {
		return m, false
	}
	name, _ := vs[0].(string)
	switch name {
	case "onMetaData":
		return m, true
	case "@setDataFrame":
		if len(vs) >= 3 {
			if h, _ := vs[1].(string); h == "onMetaData" {
				md, err := EncodeData("onMetaData", vs[2])
				if err == nil {
					md.Timestamp = m.Timestamp
					return md, true
				}
			}
		}
	}
	return m, false
}

// Registry holds the live streams of a server by application, instance and
// name. A stream exists while it has a publisher, subscribers or listeners.
type Registry struct {
	mu      sync.Mutex
	streams map[string]*Stream
	// MaxSticky bounds the metadata and codec headers kept for late
	// joiners and through queue drops, in bytes (0: DefaultMaxSticky). Set
	// it before streams are used.
	MaxSticky int
	// GOPCache bounds the group of pictures each stream keeps for players
	// that start at the last key frame (KeyframeTransport), in bytes; 0
	// keeps none. Set it before streams are used.
	GOPCache int
}

// DefaultMaxSticky is the largest metadata or codec header kept by
// default: real ones (AVC, HEVC and AAC configurations, onMetaData) take a
// few hundred bytes to a few kilobytes.
const DefaultMaxSticky = 64 << 10

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{streams: make(map[string]*Stream)} }

func (r *Registry) maxSticky() int {
	if r == nil || r.MaxSticky <= 0 {
		return DefaultMaxSticky
	}
	return r.MaxSticky
}

func streamKey(app, inst, name string) string { return app + "/" + inst + "/" + name }

// Get returns the stream, creating it.
func (r *Registry) Get(app, inst, name string) *Stream {
	k := streamKey(app, inst, name)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.streams[k]
	if s == nil {
		s = &Stream{reg: r, key: k, Name: name, App: app, Inst: inst, subs: make(map[*Subscription]struct{})}
		r.streams[k] = s
	}
	return s
}

// Lookup returns the stream if it exists.
func (r *Registry) Lookup(app, inst, name string) (*Stream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.streams[streamKey(app, inst, name)]
	return s, ok
}

// LookupKey returns the stream whose Key is key (app/instance/name), if it
// exists.
func (r *Registry) LookupKey(key string) (*Stream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.streams[key]
	return s, ok
}

// Streams returns a snapshot of the streams.
func (r *Registry) Streams() []*Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Stream, 0, len(r.streams))
	for _, s := range r.streams {
		out = append(out, s)
	}
	return out
}

// Publish makes p the publisher of the stream app/inst/name. It fails with
// ErrNameInUse when another publisher has it (NetStream.Publish.BadName).
func (r *Registry) Publish(app, inst, name string, p Publisher) (*Stream, error) {
	s := r.Get(app, inst, name)
	s.mu.Lock()
	if s.publisher != nil && s.publisher != p {
		s.mu.Unlock()
		r.release(s)
		return nil, ErrNameInUse
	}
	if s.publisher != p {
		s.since = time.Now()
	}
	s.publisher = p
	s.metadata, s.videoHdr, s.audioHdr = nil, nil, nil
	s.gop.reset()
	s.gop.audio, s.gop.video = false, false
	ls := append([]StreamListener(nil), s.listeners...)
	subs := make([]*Subscription, 0, len(s.subs))
	for sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.mu.Lock()
		sub.waitKey = true
		sub.mu.Unlock()
	}
	for _, l := range ls {
		l.PublishStarted(s)
	}
	return s, nil
}

// Unpublish removes p as the stream's publisher.
func (r *Registry) Unpublish(s *Stream, p Publisher) {
	s.mu.Lock()
	if s.publisher != p {
		s.mu.Unlock()
		return
	}
	s.publisher = nil
	s.gop.reset()
	ls := append([]StreamListener(nil), s.listeners...)
	s.mu.Unlock()
	for _, l := range ls {
		l.PublishStopped(s)
	}
	r.release(s)
}

// release forgets a stream that nobody uses any more.
func (r *Registry) release(s *Stream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.mu.Lock()
	idle := s.publisher == nil && len(s.subs) == 0 && len(s.listeners) == 0
	s.mu.Unlock()
	if idle && r.streams[s.key] == s {
		delete(r.streams, s.key)
	}
}

// Metadata returns the stream's stored onMetaData object, if any.
func (s *Stream) Metadata() (*amf.Object, bool) {
	s.mu.Lock()
	m := s.metadata
	s.mu.Unlock()
	if m == nil {
		return nil, false
	}
	vs, err := DecodeData(*m)
	if err != nil || len(vs) < 2 {
		return nil, false
	}
	return amf.AsObject(vs[1])
}
