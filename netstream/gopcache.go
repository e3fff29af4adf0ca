package netstream

import "github.com/rtmfpd/rtmfpd/media"

// gopCache keeps a stream's messages since its last video key frame, so
// that a player which asks for it (HTTP-FLV players, see
// KeyframeTransport) starts at once with a picture instead of waiting for
// the next key frame. It is bounded: a group of pictures larger than the
// bound is not kept (such players then start at the next key frame).
type gopCache struct {
	msgs  []media.Message // from a video key frame on; empty when none is kept
	bytes int
	// Tracks the publisher has sent since it started.
	audio, video bool
}

// add notes one message the publisher wrote (under the stream's lock);
// limit is the cache's bound in bytes, 0 for none kept. Sticky messages
// (metadata, codec headers) are kept apart by the stream.
func (g *gopCache) add(m media.Message, sticky bool, limit int) {
	switch m.Type {
	case media.TypeAudio:
		g.audio = true
	case media.TypeVideo:
		g.video = true
	}
	if limit <= 0 || sticky {
		return
	}
	if m.Type == media.TypeVideo && m.IsKeyframe() {
		g.reset()
	} else if len(g.msgs) == 0 {
		return // waiting for a key frame
	}
	if g.bytes+len(m.Payload) > limit {
		g.reset() // too large to keep: players wait for the next key frame
		return
	}
	g.msgs = append(g.msgs, m)
	g.bytes += len(m.Payload)
}

// reset forgets the messages kept (a new key frame, a new publisher).
func (g *gopCache) reset() {
	clear(g.msgs)
	g.msgs = g.msgs[:0]
	g.bytes = 0
}

// KeyframeTransport is implemented by transports whose players start with
// the stream's last group of pictures (from its last key frame, after the
// metadata and codec headers) rather than at the next key frame: HTTP-FLV
// players, which have no NetStream buffer to wait in and are expected to
// show a picture at once. The stream keeps that group of pictures when the
// server's Config.GOPCache allows it.
type KeyframeTransport interface {
	PlayFromKeyframe() bool
}

// Tracks reports whether the current publisher has sent audio and video
// (codec headers and metadata included), as far as it has published.
func (s *Stream) Tracks() (audio, video bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gop.audio || s.audioHdr != nil, s.gop.video || s.videoHdr != nil
}

// subscribe subscribes a player of c to s, from the last key frame when
// c's transport asks for it.
func (c *Conn) subscribe(s *Stream, sink Sink, o SubscribeOptions) *Subscription {
	if kt, ok := c.t.(KeyframeTransport); ok && kt.PlayFromKeyframe() {
		o.AtKeyframe = true
	}
	return s.SubscribeWith(sink, o)
}
