package netstream

import (
	"context"
	"errors"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// Recorder records published streams: Flash's publish types "record",
// "append" and "appendWithGap", and whatever the application records on
// its own. Package recorder implements it.
type Recorder interface {
	// Publish is told of each client publication right after
	// NetStream.Publish.Start, with its type ("live" included: the
	// application may record it anyway, or delete an older recording of
	// that name). It reports to the publisher with Notify (the
	// NetStream.Record.* events). The function it returns, if not nil, is
	// called when the publisher stops, before NetStream.Unpublish.Success:
	// it ends the recording and returns once the file is closed.
	Publish(c *Conn, s *Stream, name, mode string) (stop func())
}

// Files plays recorded streams (video on demand). Package vod implements
// it.
type Files interface {
	// Open returns a playback of the recorded stream name of the
	// connection's application instance; ErrNotFound (wrapped or not) when
	// there is none (NetStream.Play.StreamNotFound), another error when it
	// cannot be read (NetStream.Play.Failed).
	Open(c *Conn, name string) (Playback, error)
}

// ErrNotFound is returned by Files.Open for a stream that has no file.
var ErrNotFound = errors.New("netstream: no such recorded stream")

// Playback is one player's reading of a recorded stream. Its methods are
// called from the connection's goroutines and must not block: the playback
// has its own goroutine, which delivers to a PlaybackOutput.
type Playback interface {
	// Duration is the stream's length in seconds (0 when unknown).
	Duration() float64
	// Start begins delivery start seconds in (negative: 0) for length
	// seconds (negative: to the end; 0: the single frame at start), as
	// NetStream.play(name, start, len) asks.
	Start(out PlaybackOutput, start, length float64)
	// Seek moves to ms (NetStream.seek, in milliseconds on the wire).
	Seek(ms float64)
	// Pause stops or resumes delivery.
	Pause(pause bool)
	// SetReceive turns audio or video on and off (receiveAudio,
	// receiveVideo).
	SetReceive(audio, video bool)
	// SetBufferTime tells the client's buffer time in milliseconds (User
	// Control Set Buffer Length): how far ahead of real time the playback
	// may send.
	SetBufferTime(ms uint32)
	// Close stops the playback; nothing is delivered after it returns.
	Close()
}

// PlaybackOutput is where a Playback delivers: the player's NetStream.
type PlaybackOutput interface {
	// Sink takes media and data messages (onMetaData, onPlayStatus) in
	// order; WriteMedia waits for the transport.
	Sink
	// Status sends onStatus on the player's stream.
	Status(code, description string, extra ...amf.Property)
	// Event sends a User Control event about the player's stream
	// (EventStreamBegin, EventStreamEOF, EventStreamRecorded).
	Event(event uint16)
}

// StatusNotifier is a publisher that can be told a status: a client
// NetStream hears it as onStatus on its stream.
type StatusNotifier interface {
	Notify(code, description string, extra ...amf.Property)
}

// Notify sends a status event to a stream's publisher when it can hear one
// (a client NetStream: the NetStream.Record.* events of a recording);
// other publishers ignore it.
func Notify(p Publisher, code, description string, extra ...amf.Property) {
	if n, ok := p.(StatusNotifier); ok {
		n.Notify(code, description, extra...)
	}
}

// Notify sends onStatus on the publisher's NetStream.
func (ns *netStream) Notify(code, description string, extra ...amf.Property) {
	ns.c.status(ns.id, code, description, extra...)
}

// playbackOutput delivers a playback to its NetStream.
type playbackOutput struct {
	ns   *netStream
	sink playerSink
}

func (o *playbackOutput) WriteMedia(ctx context.Context, m media.Message) error {
	return o.sink.WriteMedia(ctx, m)
}

func (o *playbackOutput) Status(code, description string, extra ...amf.Property) {
	o.ns.c.status(o.ns.id, code, description, extra...)
}

func (o *playbackOutput) Event(event uint16) {
	o.ns.c.send(o.ns.id, UserControl(event, o.ns.id))
}

// playRecorded starts a playback of a recorded stream: the events Flash
// Media Server sends before a recorded stream (Stream Is Recorded, Stream
// Begin, NetStream.Play.Reset, NetStream.Play.Start, |RtmpSampleAccess),
// then the playback's own messages.
func (c *Conn) playRecorded(ns *netStream, pb Playback, name string, start, length float64, reset bool) {
	id := ns.id
	ns.mu.Lock()
	ns.playback, ns.playName = pb, name
	buffer := ns.bufferTime
	ns.mu.Unlock()
	c.send(id, UserControl(EventStreamRecorded, id))
	c.playStarting(id, name, reset)
	if buffer > 0 {
		pb.SetBufferTime(buffer)
	}
	pb.Start(&playbackOutput{ns: ns, sink: playerSink{ns: ns, sink: c.t.MediaSink(id)}}, start, length)
	c.srv.stats.plays.Add(1)
	c.logger().Info("play", "stream", Clip(name), "recorded", true, "start", start, "len", length)
}

// setBufferLength handles User Control Set Buffer Length (event 3: stream
// ID, milliseconds).
func (c *Conn) setBufferLength(p []byte) {
	if len(p) < 10 {
		return
	}
	id := uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5])
	ms := uint32(p[6])<<24 | uint32(p[7])<<16 | uint32(p[8])<<8 | uint32(p[9])
	c.mu.Lock()
	ns := c.streams[id]
	c.mu.Unlock()
	if ns == nil {
		return
	}
	ns.mu.Lock()
	ns.bufferTime = ms
	pb := ns.playback
	ns.mu.Unlock()
	if pb != nil {
		pb.SetBufferTime(ms)
	}
}

// pause answers NetStream.pause(true | false): a live stream resumes at its
// next key frame, a recorded one where it stopped.
func (ns *netStream) pause(p bool) {
	ns.mu.Lock()
	sub, pb, name := ns.sub, ns.playback, ns.playName
	ns.mu.Unlock()
	switch {
	case pb != nil:
		pb.Pause(p)
	case sub != nil:
		sub.SetPaused(p)
	default:
		return
	}
	if p {
		ns.c.status(ns.id, PauseNotify, "Pausing "+Clip(name)+".", amf.Property{Key: "details", Value: name})
	} else {
		ns.c.status(ns.id, UnpauseNotify, "Unpausing "+Clip(name)+".", amf.Property{Key: "details", Value: name})
	}
}

// seek passes NetStream.seek to a recorded stream's playback (which
// answers NetStream.Seek.Notify); false for a live one.
func (ns *netStream) seek(ms float64) bool {
	ns.mu.Lock()
	pb := ns.playback
	ns.mu.Unlock()
	if pb == nil {
		return false
	}
	pb.Seek(ms)
	return true
}

// streamLength answers getStreamLength: a recorded stream's length in
// seconds, 0 for a live one or none.
func (c *Conn) streamLength(name string) float64 {
	files := c.srv.cfg.Files
	if files == nil || name == "" {
		return 0
	}
	name, _ = SplitStreamName(name)
	pb, err := files.Open(c, name)
	if err != nil {
		return 0
	}
	defer pb.Close()
	return pb.Duration()
}
