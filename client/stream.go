package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// MediaLifetime is how long published audio and video stay worth
// delivering; older frames are abandoned on a lossy path.
const MediaLifetime = 2 * time.Second

// Stream is a NetStream.
type Stream struct {
	c      *Conn
	ID     uint32
	status chan Status
	media  chan media.Message

	mu           sync.Mutex
	cmd          *rtmfp.SendFlow
	audio, video *rtmfp.SendFlow
	closed       bool
	// firstKey is the video flow while the stream's first key frame is
	// written and not yet delivered; keyed once it was.
	firstKey *rtmfp.SendFlow
	keyed    bool
}

// CreateStream creates a NetStream on the server.
func (c *Conn) CreateStream(ctx context.Context) (*Stream, error) {
	res, err := c.callObj(ctx, 0, "createStream", nil)
	if err != nil {
		return nil, err
	}
	var id float64
	ok := false
	for _, v := range res {
		if n, isNum := amf.Number(v); isNum {
			id, ok = n, true
		}
	}
	if !ok || id < 1 || id > 1<<24 {
		return nil, fmt.Errorf("client: createStream answered %v", res)
	}
	st := &Stream{c: c, ID: uint32(id), status: make(chan Status, c.opts.StatusBuffer), media: make(chan media.Message, 256)}
	c.mu.Lock()
	c.streams[st.ID] = st
	c.mu.Unlock()
	return st, nil
}

// Status returns the stream's status events.
func (st *Stream) Status() <-chan Status { return st.status }

// flow returns (opening on first use) the flow carrying this stream's
// messages of one kind. Commands and data share a reliable flow; audio and
// video each get a partially reliable one. On a server connection every
// NetStream flow carries the return flow association with the server's
// NetConnection flow (RFC 7425 §5.3.2), as Flash, librtmfp and rtmfp-cpp's
// clients do (recordings a, d, e): servers such as rtmfp-cpp's tcserver
// take a flow without it for a new NetConnection and reject it. A direct
// P2P session has no NetConnection: its play flow is not associated, as
// librtmfp's is not (recording f).
func (st *Stream) flow(typ uint8) (*rtmfp.SendFlow, time.Duration, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, 0, errors.New("client: stream closed")
	}
	slot, opts, life := &st.cmd, rtmfp.FlowOptions{Priority: 3}, time.Duration(0)
	switch typ {
	case media.TypeAudio:
		slot, opts, life = &st.audio, rtmfp.FlowOptions{Priority: 2, TimeCritical: true}, MediaLifetime
	case media.TypeVideo:
		slot, opts, life = &st.video, rtmfp.FlowOptions{Priority: 1, TimeCritical: true}, MediaLifetime
	}
	if *slot == nil {
		opts.ReturnFor = st.c.netConnFlow()
		f, err := st.c.s.OpenFlow(tcflow.Metadata(st.ID), opts)
		if err != nil {
			return nil, 0, err
		}
		*slot = f
	}
	return *slot, life, nil
}

// command sends a NetStream command (transaction 0).
func (st *Stream) command(ctx context.Context, name string, args ...amf.Value) error {
	m, err := netstream.EncodeCommand(name, 0, nil, args...)
	if err != nil {
		return err
	}
	f, _, err := st.flow(media.TypeCommandAMF0)
	if err != nil {
		return err
	}
	return tcflow.Write(ctx, f, m, 0)
}

// await waits for one of the given status codes (success) or an error
// status. A far end that rejects the stream's command flow (a Flow
// Exception Report, RFC 7016 §2.3.16) will never answer on it: that fails
// the wait at once with the *rtmfp.FlowException.
func (st *Stream) await(ctx context.Context, ok ...string) (Status, error) {
	st.mu.Lock()
	var rejected <-chan struct{}
	if st.cmd != nil {
		rejected = st.cmd.Done()
	}
	cmd := st.cmd
	st.mu.Unlock()
	for {
		select {
		case <-rejected:
			if err := cmd.Err(); err != nil {
				return Status{}, fmt.Errorf("client: stream %d: %w", st.ID, err)
			}
			rejected = nil // closed normally: answers may still come
		case s := <-st.status:
			for _, c := range ok {
				if s.Code == c {
					return s, nil
				}
			}
			if s.Level == netstream.LevelError {
				return s, &StatusError{s}
			}
		case <-ctx.Done():
			return Status{}, ctx.Err()
		case <-st.c.s.Done():
			return Status{}, st.c.closedErr()
		}
	}
}

// Publish publishes the stream under name ("live", or another type) and
// waits for NetStream.Publish.Start. A name in use fails with a
// *StatusError carrying NetStream.Publish.BadName.
func (st *Stream) Publish(ctx context.Context, name, mode string) error {
	if mode == "" {
		mode = "live"
	}
	if err := st.command(ctx, "publish", name, mode); err != nil {
		return err
	}
	_, err := st.await(ctx, netstream.PublishStart)
	return err
}

// Play plays the live stream name and waits for NetStream.Play.Start.
func (st *Stream) Play(ctx context.Context, name string) error {
	if err := st.command(ctx, "play", name, -2.0, -1.0, true); err != nil {
		return err
	}
	_, err := st.await(ctx, netstream.PlayStart)
	return err
}

// WriteMedia publishes one message: audio and video on their own
// partially reliable flows, data on the command flow. Nothing written after
// the stream's first video key frame reaches the server before it: the
// flows are independent (RFC 7016 §3.6) and audio has precedence, so a
// later audio message would otherwise overtake a key frame of many
// fragments, and servers that start a stream's timeline at the first frame
// they get (MonaServer2) drop a key frame older than it and the whole GOP
// with it. A message of another flow written after that key frame waits
// until the key frame is delivered or abandoned (one round trip, once).
func (st *Stream) WriteMedia(ctx context.Context, m media.Message) error {
	if m.Type != media.TypeVideo {
		if err := st.awaitFirstKeyFrame(ctx); err != nil {
			return err
		}
	}
	f, life, err := st.flow(m.Type)
	if err != nil {
		return err
	}
	if err := tcflow.Write(ctx, f, m, life); err != nil {
		return err
	}
	if m.Type == media.TypeVideo && m.IsKeyframe() && !m.IsSequenceHeader() {
		st.mu.Lock()
		if !st.keyed {
			st.firstKey, st.keyed = f, true
		}
		st.mu.Unlock()
	}
	return nil
}

// awaitFirstKeyFrame waits until the flow carrying the stream's first key
// frame holds nothing undelivered, if that frame was written and not yet
// waited for. A failed video flow does not hold the others up.
func (st *Stream) awaitFirstKeyFrame(ctx context.Context) error {
	st.mu.Lock()
	f := st.firstKey
	st.mu.Unlock()
	if f == nil {
		return nil
	}
	// More than the send buffer fits only in an empty flow.
	if err := f.WaitBuffer(ctx, math.MaxInt32); err != nil && ctx.Err() != nil {
		return err
	}
	st.mu.Lock()
	st.firstKey = nil
	st.mu.Unlock()
	return nil
}

// Send calls handler with args on every player (NetStream.send).
func (st *Stream) Send(ctx context.Context, handler string, args ...amf.Value) error {
	m, err := netstream.EncodeData(handler, args...)
	if err != nil {
		return err
	}
	return st.WriteMedia(ctx, m)
}

// ReadMedia returns the next message of a played stream: audio, video or
// data (metadata first for a late joiner).
func (st *Stream) ReadMedia(ctx context.Context) (media.Message, error) {
	select {
	case m := <-st.media:
		return m, nil
	case <-ctx.Done():
		return media.Message{}, ctx.Err()
	case <-st.c.s.Done():
		return media.Message{}, st.c.closedErr()
	}
}

func (st *Stream) deliverMedia(m media.Message) {
	m.Payload = append([]byte(nil), m.Payload...)
	select {
	case st.media <- m:
	case <-st.c.ctx.Done():
	}
}

// Close stops publishing or playing and deletes the stream. Published
// media still in flight is delivered (or abandoned at its lifetime) first,
// so that the server has every frame before it unpublishes.
func (st *Stream) Close(ctx context.Context) error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	media := []*rtmfp.SendFlow{st.audio, st.video}
	st.mu.Unlock()
	for _, f := range media {
		if f != nil {
			f.Close()
		}
	}
	wait, cancel := context.WithTimeout(ctx, MediaLifetime+time.Second)
	for _, f := range media {
		if f != nil {
			select {
			case <-f.Done():
			case <-wait.Done():
			}
		}
	}
	cancel()
	err := st.command(ctx, "closeStream")
	st.mu.Lock()
	st.closed = true
	cmd := st.cmd
	st.mu.Unlock()
	if cmd != nil {
		// closeStream is delivered before deleteStream is sent, and before
		// Conn.Close ends the session.
		cmd.Close()
		wait, cancel := context.WithTimeout(ctx, closeDrain)
		select {
		case <-cmd.Done():
		case <-wait.Done():
		}
		cancel()
	}
	m, e := netstream.EncodeCommand("deleteStream", 0, nil, float64(st.ID))
	if e == nil {
		if e := tcflow.Write(ctx, st.c.nc, m, 0); err == nil {
			err = e
		}
	}
	st.c.mu.Lock()
	delete(st.c.streams, st.ID)
	st.c.mu.Unlock()
	return err
}
