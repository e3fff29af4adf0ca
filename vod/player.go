package vod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// player plays one source to one NetStream on its own goroutine. The
// connection's goroutines only set requests (seek, pause, receive flags,
// buffer time, close) under mu and wake it.
type player struct {
	src  media.Source
	name string
	pol  Policy
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	out     netstream.PlaybackOutput
	seekTo  float64 // pending seek (ms), or -1
	paused  bool
	audio   bool
	video   bool
	buffer  time.Duration
	closed  bool
	started bool
}

func newPlayer(src media.Source, name string, pol Policy, log *slog.Logger) *player {
	ctx, cancel := context.WithCancel(context.Background())
	return &player{src: src, name: name, pol: pol, log: log, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}), seekTo: -1, audio: true, video: true}
}

func (p *player) Duration() float64 { return float64(p.src.Duration()) / 1000 }

func (p *player) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *player) Start(out netstream.PlaybackOutput, start, length float64) {
	p.mu.Lock()
	if p.started || p.closed {
		p.mu.Unlock()
		return
	}
	p.started, p.out = true, out
	p.mu.Unlock()
	go p.run(start, length)
}

func (p *player) Seek(ms float64) {
	if math.IsNaN(ms) || ms < 0 {
		ms = 0
	}
	p.mu.Lock()
	p.seekTo = min(ms, math.MaxUint32)
	p.mu.Unlock()
	p.poke()
}

func (p *player) Pause(pause bool) {
	p.mu.Lock()
	p.paused = pause
	p.mu.Unlock()
	p.poke()
}

func (p *player) SetReceive(audio, video bool) {
	p.mu.Lock()
	p.audio, p.video = audio, video
	p.mu.Unlock()
	p.poke()
}

func (p *player) SetBufferTime(ms uint32) {
	p.mu.Lock()
	p.buffer = time.Duration(ms) * time.Millisecond
	p.mu.Unlock()
	p.poke()
}

// Close stops the player: nothing new is sent once it returns (a write
// under way is cancelled).
func (p *player) Close() {
	p.mu.Lock()
	started := p.started
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	if !started {
		p.src.Close()
	}
}

// state is the player's goroutine's view of the requests.
type state struct {
	seekTo       float64
	paused       bool
	audio, video bool
	lead         time.Duration
	closed       bool
}

func (p *player) requests() state {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := state{seekTo: p.seekTo, paused: p.paused, audio: p.audio, video: p.video, closed: p.closed,
		lead: min(max(p.buffer, p.pol.MinLead), p.pol.MaxLead)}
	p.seekTo = -1
	return st
}

// status sends onStatus unless the player was closed.
func (p *player) status(code, desc string) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		p.out.Status(code, desc, amf.Property{Key: "details", Value: p.name})
	}
}

func (p *player) event(ev uint16) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		p.out.Event(ev)
	}
}

// run plays from start seconds for length seconds.
func (p *player) run(start, length float64) {
	defer close(p.done)
	defer p.src.Close()
	startMS := uint32(0)
	if start > 0 {
		startMS = uint32(min(start*1000, math.MaxUint32))
	}
	end := uint64(math.MaxUint64)
	single := length == 0
	if length > 0 {
		end = uint64(startMS) + uint64(min(length*1000, math.MaxUint32))
	}
	pl := playing{p: p, end: end, single: single}
	if err := pl.position(startMS, false); err != nil {
		pl.failed(err)
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		st := p.requests()
		if st.closed {
			return
		}
		if st.seekTo >= 0 {
			if err := pl.position(uint32(st.seekTo), true); err != nil {
				pl.failed(err)
			}
		}
		if pl.paused != st.paused {
			pl.paused = st.paused
			pl.anchored = false // the clock restarts where it stopped
		}
		if !st.video && pl.receiveVideo {
			pl.receiveVideo = false
		} else if st.video && !pl.receiveVideo {
			pl.receiveVideo, pl.waitKey = true, true
		}
		pl.receiveAudio = st.audio
		var wait <-chan struct{}
		var due <-chan time.Time
		switch {
		case pl.paused || pl.ended:
		default:
			d, changed, err := pl.step(st.lead)
			switch {
			case err != nil:
				pl.failed(err)
				continue
			case changed != nil:
				wait = changed
			case d > 0:
				timer.Reset(d)
				due = timer.C
			default:
				continue
			}
		}
		select {
		case <-p.wake:
		case <-wait:
		case <-due:
		case <-p.ctx.Done():
			return
		}
		if due != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// playing is the state of the player's goroutine.
type playing struct {
	p            *player
	end          uint64 // last timestamp to play (len)
	single       bool   // len 0: one frame
	next         *media.Message
	anchored     bool
	wall         time.Time // when the message at anchorTS was due
	anchorTS     uint32
	prevTS       uint32 // the last frame's timestamp
	paused       bool
	ended        bool
	receiveAudio bool
	receiveVideo bool
	waitKey      bool
	bytes        uint64
	lastTS       uint32
}

// position moves to ms and sends what precedes the frames: onMetaData
// (duration first) and the codec headers; after a seek, the events Flash
// Media Server sends then.
func (pl *playing) position(ms uint32, seek bool) error {
	p := pl.p
	hdrs, err := p.src.Seek(ms)
	if err != nil {
		return err
	}
	pl.next, pl.anchored, pl.ended, pl.receiveAudio, pl.receiveVideo = nil, false, false, true, true
	if seek {
		p.event(netstream.EventStreamEOF)
		p.event(netstream.EventStreamRecorded)
		p.event(netstream.EventStreamBegin)
		p.status(netstream.SeekNotify, fmt.Sprintf("Seeking %d (stream ID: %s).", ms, p.name))
		p.status(netstream.PlayStart, "Started playing "+p.name+".")
	}
	meta := p.src.Metadata()
	md, err := netstream.EncodeData("onMetaData", &amf.ECMAArray{Object: *meta})
	if err == nil {
		md.Timestamp = ms
		if err := pl.write(md); err != nil {
			return err
		}
	}
	for _, h := range hdrs {
		if err := pl.write(h); err != nil {
			return err
		}
	}
	return nil
}

// step sends the next message if it is due, and says how long to wait
// otherwise (or on what: a recording in progress).
func (pl *playing) step(lead time.Duration) (time.Duration, <-chan struct{}, error) {
	p := pl.p
	if pl.next == nil {
		m, err := p.src.Next()
		switch {
		case err == io.EOF:
			return 0, nil, pl.complete()
		case errors.Is(err, media.ErrNotYet):
			return 0, p.src.Changed(), nil
		case err != nil:
			return 0, nil, err
		}
		pl.next = &m
	}
	m := pl.next
	frame := m.Type == media.TypeAudio || m.Type == media.TypeVideo
	if frame && uint64(m.Timestamp) > pl.end {
		pl.next = nil
		return 0, nil, pl.complete()
	}
	now := time.Now()
	if frame {
		if !pl.anchored {
			pl.anchored, pl.wall, pl.anchorTS, pl.prevTS = true, now, m.Timestamp, m.Timestamp
		}
		if gap := int64(m.Timestamp) - int64(pl.prevTS); gap > maxGap.Milliseconds() || gap < -1000 {
			// A jump in the timeline: this frame is due when the one
			// before it was.
			pl.wall = pl.wall.Add(time.Duration(int64(pl.prevTS)-int64(pl.anchorTS)) * time.Millisecond)
			pl.anchorTS = m.Timestamp
		}
		pl.prevTS = m.Timestamp
		due := pl.wall.Add(time.Duration(int64(m.Timestamp)-int64(pl.anchorTS)) * time.Millisecond)
		if d := due.Sub(now) - lead; d > 0 {
			return d, nil, nil
		}
		if now.Sub(due) > maxGap {
			// Far behind (a client that stalled): play on from here
			// rather than burst to catch up.
			pl.wall, pl.anchorTS = now, m.Timestamp
		}
	}
	pl.next = nil
	switch {
	case m.Type == media.TypeAudio && (!pl.receiveAudio || pl.single):
		return 0, nil, nil
	case m.Type == media.TypeVideo && !pl.receiveVideo:
		return 0, nil, nil
	case m.Type == media.TypeVideo && pl.waitKey:
		if !m.IsKeyframe() || m.IsSequenceHeader() {
			return 0, nil, nil
		}
		pl.waitKey = false
	}
	if err := pl.write(*m); err != nil {
		return 0, nil, err
	}
	if pl.single && m.Type == media.TypeVideo && !m.IsSequenceHeader() {
		return 0, nil, pl.complete()
	}
	return 0, nil, nil
}

// write delivers one message, unless the player was closed.
func (pl *playing) write(m media.Message) error {
	p := pl.p
	if err := p.ctx.Err(); err != nil {
		return err
	}
	pl.bytes += uint64(len(m.Payload))
	pl.lastTS = m.Timestamp
	return p.out.WriteMedia(p.ctx, m)
}

// complete ends the stream as Flash Media Server does: Stream EOF,
// onPlayStatus NetStream.Play.Complete, NetStream.Play.Stop. The player
// then waits for a seek or its end.
func (pl *playing) complete() error {
	p := pl.p
	pl.ended = true
	p.event(netstream.EventStreamEOF)
	info := amf.NewObject(
		amf.Property{Key: "level", Value: netstream.LevelStatus},
		amf.Property{Key: "code", Value: netstream.PlayComplete},
		amf.Property{Key: "duration", Value: float64(p.src.Duration()) / 1000},
		amf.Property{Key: "bytes", Value: float64(pl.bytes)},
	)
	if m, err := netstream.EncodeData("onPlayStatus", info); err == nil {
		m.Timestamp = pl.lastTS // as nginx-rtmp: at the end of the timeline
		if err := pl.write(m); err != nil {
			return err
		}
	}
	p.status(netstream.PlayStop, "Stopped playing "+p.name+".")
	p.log.Debug("vod: played to the end", "bytes", pl.bytes)
	return nil
}

// failed ends a playback that cannot go on (a corrupt or vanished file, or
// the player gone).
func (pl *playing) failed(err error) {
	p := pl.p
	pl.ended = true
	if p.ctx.Err() != nil {
		return
	}
	p.log.Info("vod: playback failed", "err", err)
	p.status(netstream.StreamFailed, fmt.Sprintf("%s cannot be played on: %v", p.name, err))
}

var _ netstream.Playback = (*player)(nil)
