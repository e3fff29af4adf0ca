package netstream

import (
	"context"
	"errors"
	"net/url"
	"sync"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// netStream is one NetStream of a connection (an ID from createStream): it
// publishes or plays.
type netStream struct {
	c  *Conn
	id uint32

	mu         sync.Mutex
	publishing *Stream
	pubName    string
	playing    *Stream
	playName   string
	sub        *Subscription
	unlisten   func()
	playback   Playback // a recorded stream played (VOD)
	noAudio    bool     // receiveAudio(false) on the playback
	noVideo    bool     // receiveVideo(false) on the playback
	bufferTime uint32   // the client's buffer time (ms), Set Buffer Length
	recStop    func()   // ends the recording of what is published
}

// PublisherName names the publisher in logs and status (read by the status
// pages while publish sets it).
func (ns *netStream) PublisherName() string {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.c.ID + "/" + ns.pubName
}

// Conn returns the connection of a publisher that is a client NetStream.
func ConnOf(p Publisher) (*Conn, bool) {
	ns, ok := p.(*netStream)
	if !ok {
		return nil, false
	}
	return ns.c, true
}

func appFromURL(tcURL string) (app, inst string, q url.Values) {
	u, err := url.Parse(tcURL)
	if err != nil {
		return "", "", nil
	}
	app, inst, _ = SplitAppPath(u.Path)
	return app, inst, u.Query()
}

func appQuery(tcURL string) url.Values {
	if tcURL == "" {
		return nil
	}
	u, err := url.Parse(tcURL)
	if err != nil || u.RawQuery == "" {
		return nil
	}
	return u.Query()
}

// publish answers NetStream.publish(name, type).
func (c *Conn) publish(streamID uint32, cmd Command) {
	ns := c.stream(streamID)
	if ns == nil {
		c.status(streamID, PublishFailed, "publish on a stream that was not created")
		return
	}
	if c.srv.cfg.NoMedia {
		c.status(streamID, PublishFailed, "this server does not relay media (introduction only)")
		return
	}
	raw, _ := cmd.ArgString(0)
	if len(raw) > MaxNameBytes {
		c.status(streamID, PublishBadName, tooLong("stream name", len(raw), MaxNameBytes))
		return
	}
	name, query := SplitStreamName(raw)
	mode, _ := cmd.ArgString(1)
	if name == "" {
		// publish(null) or publish(false) stops publishing.
		ns.stopPublishing(true)
		return
	}
	switch mode {
	case "":
		mode = "live"
	case "live", "record", "append", "appendWithGap":
	default:
		c.status(streamID, PublishFailed, "unknown publish type "+Clip(mode))
		return
	}
	ns.mu.Lock()
	busy := ns.publishing != nil || ns.playing != nil || ns.playback != nil
	ns.mu.Unlock()
	if busy {
		c.status(streamID, PublishBadName, "this NetStream is already in use")
		return
	}
	name, ok := c.checkStream(streamID, c.srv.cfg.Hooks.CheckPublish, StreamRequest{Name: name, Query: query, Mode: mode}, PublishFailed)
	if !ok {
		return
	}
	info := c.Info()
	s, err := c.srv.Registry.Publish(info.App, info.Instance, name, ns)
	if err != nil {
		c.status(streamID, PublishBadName, Clip(name)+" is already being published", amf.Property{Key: "details", Value: name})
		return
	}
	if h := c.srv.cfg.Hooks.OnPublish; h != nil {
		if err := h(c, s); err != nil {
			c.srv.Registry.Unpublish(s, ns)
			code, why, _ := refusal(err, PublishFailed)
			c.status(streamID, code, why, amf.Property{Key: "details", Value: name})
			return
		}
	}
	ns.mu.Lock()
	ns.publishing, ns.pubName = s, name
	ns.mu.Unlock()
	c.srv.stats.publishes.Add(1)
	c.logger().Info("publish", "app", Clip(info.App), "stream", Clip(name))
	c.send(streamID, UserControl(EventStreamBegin, streamID))
	c.status(streamID, PublishStart, Clip(name)+" is now published.", amf.Property{Key: "details", Value: name})
	switch r := c.srv.cfg.Recorder; {
	case r != nil:
		if stop := r.Publish(c, s, name, mode); stop != nil {
			ns.mu.Lock()
			ns.recStop = stop
			ns.mu.Unlock()
		}
	case mode != "live":
		// Published live all the same, as Flash Media Server does for a
		// stream it may not record.
		c.status(streamID, RecordNoAccess, "recording is not enabled on this server; "+Clip(name)+" is published live")
	}
}

// play answers NetStream.play(name, start, len, reset) with Flash's
// meanings of start: -2 (the default) plays the live stream if it is
// published, else the recorded one, else waits for the live one; -1 plays
// only the live stream (waiting for it); 0 or more plays the recorded stream
// from start seconds (a stream being recorded is played from its start: a
// DVR), or the live stream when there is no recording, or answers
// NetStream.Play.StreamNotFound. len -1 (the default) plays to the end, 0 a
// single frame, more that many seconds.
func (c *Conn) play(streamID uint32, cmd Command) {
	ns := c.stream(streamID)
	if ns == nil {
		c.status(streamID, PlayFailed, "play on a stream that was not created")
		return
	}
	if c.srv.cfg.NoMedia {
		c.status(streamID, PlayFailed, "this server does not relay media (introduction only)")
		return
	}
	raw, _ := cmd.ArgString(0)
	if len(raw) > MaxNameBytes {
		c.status(streamID, PlayFailed, tooLong("stream name", len(raw), MaxNameBytes))
		return
	}
	name, query := SplitStreamName(raw)
	start := -2.0
	if v, ok := amf.Number(cmd.Arg(1)); ok {
		start = v
	}
	switch {
	case start == -1000:
		start = -1 // ffmpeg's -rtmp_live live (it sends start × 1000)
	case start < 0 && start != -1:
		start = -2 // ffmpeg's -2000 and any other negative value
	}
	length := -1.0
	if v, ok := amf.Number(cmd.Arg(2)); ok {
		length = v
	}
	reset := true
	if v, ok := cmd.Arg(3).(bool); ok {
		reset = v
	}
	ns.stopPlaying(false)
	if name == "" {
		// play(false) stops playing.
		c.status(streamID, PlayStop, "stopped")
		return
	}
	name, ok := c.checkStream(streamID, c.srv.cfg.Hooks.CheckPlay, StreamRequest{Name: name, Query: query}, PlayFailed)
	if !ok {
		return
	}
	info := c.Info()
	s, exists := c.srv.Registry.Lookup(info.App, info.Instance, name)
	live := exists && s.Publisher() != nil
	if files := c.srv.cfg.Files; files != nil && start != -1 && (start >= 0 || !live) {
		pb, err := files.Open(c, name)
		switch {
		case err == nil:
			c.playRecorded(ns, pb, name, start, length, reset)
			return
		case !errors.Is(err, ErrNotFound):
			c.logger().Info("play failed", "stream", Clip(name), "err", err)
			c.status(streamID, PlayFailed, "failed to play "+Clip(name)+": "+err.Error(), amf.Property{Key: "details", Value: name})
			return
		}
	}
	if !live && start >= 0 {
		// A recorded stream was asked for; there is none.
		c.status(streamID, PlayStreamNotFound, "failed to play "+Clip(name)+"; stream not found.", amf.Property{Key: "details", Value: name})
		return
	}
	s = c.srv.Registry.Get(info.App, info.Instance, name)
	sink := newPlayerSink(ns, c.t.MediaSink(streamID))
	ns.mu.Lock()
	ns.playing, ns.playName = s, name
	ns.mu.Unlock()
	c.playStarting(streamID, name, reset)
	opts := SubscribeOptions{Limit: c.srv.cfg.PlayerQueue, SlowTimeout: c.srv.cfg.SlowConsumer,
		OnSlow: func(err error) {
			c.srv.stats.slowPlayers.Add(1)
			c.logger().Warn("closing a slow player", "stream", Clip(name), "reason", err.Error())
			c.t.Close(err)
		}}
	if a, ok := c.t.(Accounted); ok {
		opts.Account = a.Account()
	}
	sub := c.subscribe(s, sink, opts)
	unlisten := s.Listen(ns)
	ns.mu.Lock()
	ns.sub, ns.unlisten = sub, unlisten
	ns.mu.Unlock()
	c.srv.stats.plays.Add(1)
	c.logger().Info("play", "app", Clip(info.App), "stream", Clip(name), "live", live)
}

// playStarting sends what precedes a played stream's media: Stream Begin,
// NetStream.Play.Reset (when the play resets), NetStream.Play.Start and
// |RtmpSampleAccess.
func (c *Conn) playStarting(id uint32, name string, reset bool) {
	c.send(id, UserControl(EventStreamBegin, id))
	if reset {
		c.status(id, PlayReset, "Playing and resetting "+Clip(name)+".", amf.Property{Key: "details", Value: name})
	}
	c.status(id, PlayStart, "Started playing "+Clip(name)+".", amf.Property{Key: "details", Value: name})
	if m, err := EncodeData("|RtmpSampleAccess", true, true); err == nil {
		c.send(id, m)
	}
}

// PublishStarted tells a waiting player its stream started (after what is
// still queued for it, such as the end of the previous publisher).
func (ns *netStream) PublishStarted(s *Stream) {
	ns.afterQueued(func() {
		ns.c.status(ns.id, PlayPublishNotify, Clip(s.Name)+" is now published.", amf.Property{Key: "details", Value: s.Name})
	})
}

// afterQueued runs fn once the media queued for the player has gone out,
// or at once when the stream plays nothing.
func (ns *netStream) afterQueued(fn func()) {
	ns.mu.Lock()
	sub := ns.sub
	ns.mu.Unlock()
	if sub == nil {
		fn()
		return
	}
	sub.After(fn)
}

// PublishStopped tells a player its stream's publisher left, after the
// media already queued for it (a player must not hear of the end before the
// last frames).
func (ns *netStream) PublishStopped(s *Stream) {
	ns.afterQueued(func() {
		ns.c.status(ns.id, PlayUnpublishNotify, Clip(s.Name)+" is now unpublished.", amf.Property{Key: "details", Value: s.Name})
	})
}

func (ns *netStream) setReceive(audio, on bool) {
	ns.mu.Lock()
	sub, pb := ns.sub, ns.playback
	if pb != nil {
		if audio {
			ns.noAudio = !on
		} else {
			ns.noVideo = !on
		}
		a, v := !ns.noAudio, !ns.noVideo
		ns.mu.Unlock()
		pb.SetReceive(a, v)
		return
	}
	ns.mu.Unlock()
	if sub == nil {
		return
	}
	sub.mu.Lock()
	a, v := !sub.noAudio, !sub.noVideo
	sub.mu.Unlock()
	if audio {
		a = on
	} else {
		v = on
	}
	sub.SetReceive(a, v)
}

// close ends what the stream does; notify sends the final status.
func (ns *netStream) close(notify bool) {
	ns.stopPublishing(notify)
	ns.stopPlaying(notify)
}

func (ns *netStream) stopPublishing(notify bool) {
	ns.mu.Lock()
	s, name, recStop := ns.publishing, ns.pubName, ns.recStop
	ns.publishing, ns.recStop = nil, nil
	ns.mu.Unlock()
	if s == nil {
		return
	}
	if recStop != nil {
		// Every frame published is queued for the recording: end it
		// (NetStream.Record.Stop) before the stream's end is announced.
		recStop()
	}
	ns.c.srv.Registry.Unpublish(s, ns)
	if h := ns.c.srv.cfg.Hooks.OnUnpublish; h != nil {
		h(ns.c, s)
	}
	ns.c.logger().Info("unpublish", "app", Clip(s.App), "stream", Clip(name))
	if notify {
		ns.c.status(ns.id, UnpublishSuccess, Clip(name)+" is now unpublished.", amf.Property{Key: "details", Value: name})
	}
}

func (ns *netStream) stopPlaying(notify bool) {
	ns.mu.Lock()
	sub, unlisten, name, pb := ns.sub, ns.unlisten, ns.playName, ns.playback
	ns.sub, ns.unlisten, ns.playing, ns.playback = nil, nil, nil, nil
	ns.noAudio, ns.noVideo = false, false
	ns.mu.Unlock()
	if pb != nil {
		pb.Close()
		if h := ns.c.srv.cfg.Hooks.OnPlayStop; h != nil {
			h(ns.c, name)
		}
		if notify {
			ns.c.status(ns.id, PlayStop, "Stopped playing "+Clip(name)+".", amf.Property{Key: "details", Value: name})
		}
		return
	}
	if sub == nil {
		return
	}
	sub.Close()
	unlisten()
	ns.c.logger().Info("play stopped", "app", Clip(ns.c.Info().App), "stream", Clip(name))
	if h := ns.c.srv.cfg.Hooks.OnPlayStop; h != nil {
		h(ns.c, name)
	}
	if notify {
		ns.c.status(ns.id, PlayStop, "Stopped playing "+Clip(name)+".", amf.Property{Key: "details", Value: name})
	}
}

// playerSink passes media to the transport's sink for one player.
type playerSink struct {
	ns   *netStream
	sink Sink
}

// directPlayerSink is a playerSink whose transport takes messages without
// blocking (a DirectSink).
type directPlayerSink struct {
	playerSink
	direct DirectSink
}

// newPlayerSink returns the sink of a player: a DirectSink when the
// transport's is one.
func newPlayerSink(ns *netStream, sink Sink) Sink {
	if f, ok := sink.(FlushSink); ok {
		return &flushPlayerSink{playerSink: playerSink{ns: ns, sink: sink}, flusher: f}
	}
	if d, ok := sink.(DirectSink); ok {
		return &directPlayerSink{playerSink: playerSink{ns: ns, sink: sink}, direct: d}
	}
	return &playerSink{ns: ns, sink: sink}
}

func (p *directPlayerSink) TryWriteMedia(m media.Message) (bool, error) {
	return p.direct.TryWriteMedia(m)
}

func (p *playerSink) WriteMedia(ctx context.Context, m media.Message) error {
	if p.sink == nil {
		return errors.New("netstream: transport has no media sink")
	}
	return p.sink.WriteMedia(ctx, m)
}

// flushPlayerSink is a playerSink whose transport takes batches without
// blocking (a FlushSink).
type flushPlayerSink struct {
	playerSink
	flusher FlushSink
}

func (p *flushPlayerSink) TryWriteMediaBatch(msgs []media.Message) (bool, error) {
	return p.flusher.TryWriteMediaBatch(msgs)
}

func (p *flushPlayerSink) Prepare(m *media.Message) int { return p.flusher.Prepare(m) }

// PrepareAbove passes on the transport's threshold (see PrepareThreshold),
// or 0 when it has none: every message is prepared.
func (p *flushPlayerSink) PrepareAbove() int {
	if pt, ok := p.flusher.(PrepareThreshold); ok {
		return pt.PrepareAbove()
	}
	return 0
}

// WriteMediaBatch passes a batch to a transport sink that takes batches,
// and writes the messages one by one to one that does not.
func (p *playerSink) WriteMediaBatch(ctx context.Context, msgs []media.Message) error {
	if bs, ok := p.sink.(BatchSink); ok {
		return bs.WriteMediaBatch(ctx, msgs)
	}
	for _, m := range msgs {
		if err := p.WriteMedia(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// checkStream asks check (Hooks.CheckPublish or CheckPlay; nil allows)
// about req and returns the stream name to use, which the hook may have
// changed; a refusal, or a hook that left no name, is answered with the
// failed status code (or the code the hook's error carries) and reported
// as false.
func (c *Conn) checkStream(streamID uint32, check func(*Conn, *StreamRequest) error, req StreamRequest, failed string) (string, bool) {
	if check == nil {
		return req.Name, true
	}
	asked := req.Name
	if err := check(c, &req); err != nil {
		code, why, _ := refusal(err, failed)
		c.status(streamID, code, why, amf.Property{Key: "details", Value: asked})
		return "", false
	}
	if req.Name == "" {
		c.status(streamID, failed, "no stream name", amf.Property{Key: "details", Value: asked})
		return "", false
	}
	return req.Name, true
}
