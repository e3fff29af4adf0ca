package rtmfpcheck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

const (
	idPublish = "netstream.publish"
	idPlay    = "netstream.play"
)

func netStreamChecks() category {
	published, playing := []string{idPublish}, []string{idPublish, idPlay}
	return category{name: "netstream", checks: []check{
		{id: idPublish, title: "publish of a generated stream gets NetStream.Publish.Start",
			ref: "Flash Player NetStream.publish (rtmfp-facts §5.5)", needs: []string{idConnect}, run: checkPublish},
		{id: idPlay, title: "a second session plays it: NetStream.Play.Start",
			ref: "Flash Player NetStream.play (rtmfp-facts §5.5)", needs: published, run: checkPlay},
		{id: "netstream.headers", title: "a player joining late gets onMetaData and both sequence headers before any frame, and video from a key frame",
			ref: "Flash Media Server behaviour for live streams", needs: playing, run: checkHeaders},
		{id: "netstream.media", title: "the frames published reach the player (counted, with their latency)",
			ref: "RFC 7425 §5.2 (media flows), Flash Player", needs: playing, run: checkMedia},
		{id: "netstream.badname", title: "a second publisher of the same name gets NetStream.Publish.BadName",
			ref: "Flash Media Server behaviour (rtmfp-facts §5.5)", needs: published, run: checkBadName},
		{id: "netstream.unpublish", title: "when the publisher stops, the player gets NetStream.Play.UnpublishNotify",
			ref: "Flash Media Server behaviour", needs: playing, run: checkUnpublish},
	}}
}

// streamRun is the publication the netstream checks share.
type streamRun struct {
	pub    *client.Stream
	gen    *generator
	player *client.Stream
	plog   *messageLog
	// joined is the number of frames published when the play started.
	joined uint32

	mu       sync.Mutex
	arrived  []arrival
	first    chan struct{} // closed at the first audio or video frame
	more     chan struct{} // closed and replaced at every message
	gotFirst bool
	readErr  error
}

// maxArrivals bounds what a player keeps.
const maxArrivals = 4 * maxFrames

// newStream connects and creates a NetStream.
func (e *env) newStream(ctx context.Context, r *rec) (*client.Stream, *messageLog, bool) {
	c, l, ok := e.connect(ctx, r, client.Options{})
	if !ok {
		return nil, l, false
	}
	st, err := c.CreateStream(ctx)
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "createStream", err))
		return nil, l, false
	}
	return st, l, true
}

func checkPublish(ctx context.Context, e *env, r *rec) {
	st, _, ok := e.newStream(ctx, r)
	if !ok {
		return
	}
	if err := st.Publish(ctx, e.opts.Stream, "live"); err != nil {
		r.failf("%s", statusFailure(ctx, e, "publish", err))
		return
	}
	run := &streamRun{pub: st, first: make(chan struct{}), more: make(chan struct{})}
	run.gen = startGenerator(st.WriteMedia)
	e.stream = run
	e.closers = append(e.closers, run.gen.close)
	r.fact("stream", "%s (NetStream %d)", e.opts.Stream, st.ID)
	r.passf("%s", netstream.PublishStart)
}

// statusFailure words a command that failed with a status or nothing.
func statusFailure(ctx context.Context, e *env, what string, err error) string {
	var se *client.StatusError
	if errors.As(err, &se) {
		return what + " refused: " + se.Status.String()
	}
	return e.noAnswer(ctx, what, err)
}

func checkPlay(ctx context.Context, e *env, r *rec) {
	run := e.stream
	// Join late: after the first key frame and a bit.
	if err := run.gen.waitFrames(ctx, gopFrames+3); err != nil {
		r.failf("the publisher could not write its frames: %s", plain(err))
		return
	}
	st, l, ok := e.newStream(ctx, r)
	if !ok {
		return
	}
	if err := st.Play(ctx, e.opts.Stream); err != nil {
		r.failf("%s", statusFailure(ctx, e, "play", err))
		return
	}
	run.player, run.plog = st, l
	run.gen.mu.Lock()
	run.joined = run.gen.n
	run.gen.mu.Unlock()
	go run.read(st)
	var codes []string
	for _, lm := range l.all() {
		if lm.stream == st.ID {
			if s := describeMessage(lm.m); strings.HasPrefix(s, "command \"onStatus\"") {
				codes = append(codes, s[strings.LastIndexByte(s, ' ')+1:])
			}
		}
	}
	r.fact("statuses", "%s", strings.Join(codes, ", "))
	r.passf("%s", netstream.PlayStart)
}

// read collects what the player receives until it ends.
func (run *streamRun) read(st *client.Stream) {
	ctx := context.Background()
	for {
		m, err := st.ReadMedia(ctx)
		run.mu.Lock()
		if err != nil {
			run.readErr = err
			close(run.more)
			run.more = make(chan struct{})
			run.mu.Unlock()
			return
		}
		if len(run.arrived) < maxArrivals {
			run.arrived = append(run.arrived, arrival{m: m, at: time.Now()})
		}
		if (m.IsAudio() || m.IsVideo()) && !m.IsSequenceHeader() && !run.gotFirst {
			run.gotFirst = true
			close(run.first)
		}
		close(run.more)
		run.more = make(chan struct{})
		run.mu.Unlock()
	}
}

func (run *streamRun) snapshot() []arrival {
	run.mu.Lock()
	defer run.mu.Unlock()
	return append([]arrival(nil), run.arrived...)
}

func checkHeaders(ctx context.Context, e *env, r *rec) {
	run := e.stream
	select {
	case <-run.first:
	case <-ctx.Done():
		r.failf("no audio or video frame within %v", e.opts.Timeout)
		return
	}
	var before []string
	meta, avc, aac := -1, -1, -1
	var firstVideo *media.Message
	var firstAudio bool
	for i, a := range run.snapshot() {
		m := a.m
		switch {
		case m.IsData():
			if vs, err := netstream.DecodeData(m); err == nil && len(vs) > 0 && vs[0] == "onMetaData" && meta < 0 {
				meta = i
			}
		case m.IsVideo() && m.IsSequenceHeader():
			avc = i
		case m.IsAudio() && m.IsSequenceHeader():
			aac = i
		case m.IsVideo() && firstVideo == nil:
			firstVideo = &m
			if avc < 0 {
				r.failf("a video frame came before the AVC sequence header")
			}
		case m.IsAudio() && !firstAudio:
			firstAudio = true
			if aac < 0 {
				r.failf("an audio frame came before the AAC sequence header")
			}
		}
		if firstVideo == nil && len(before) < 8 {
			before = append(before, describeMessage(m))
		}
		if firstVideo != nil && firstAudio {
			break
		}
	}
	r.fact("first messages", "%s", strings.Join(before, "; "))
	switch {
	case meta < 0:
		r.failf("no onMetaData before the first frames")
	case firstVideo != nil && !firstVideo.IsKeyframe():
		r.failf("the first video frame is not a key frame: the player shows nothing until the next one")
	case avc > meta && aac > meta:
		r.passf("onMetaData, then the sequence headers, then frames")
	default:
		r.passf("onMetaData and the sequence headers before the frames (onMetaData not first)")
	}
}

// mediaWindow is how many video frames the media check waits for.
const mediaWindow = 50

// checkMedia counts what arrived from the first key frame published after
// the player joined: servers differ in what they give a late joiner before
// it (rtmfpd and MonaServer2 start at that key frame, rtmfp-cpp's tcserver
// first sends the last key frame it has), which is reported, not judged.
func checkMedia(ctx context.Context, e *env, r *rec) {
	run := e.stream
	from := (run.joined + gopFrames - 1) / gopFrames * gopFrames
	count := func() int {
		n := 0
		for _, a := range run.snapshot() {
			if i, ok := frameNumber(a.m); ok && a.m.IsVideo() && i >= from {
				n++
			}
		}
		return n
	}
	for count() < mediaWindow && ctx.Err() == nil {
		run.mu.Lock()
		more, err := run.more, run.readErr
		run.mu.Unlock()
		if err != nil {
			break
		}
		select {
		case <-more:
		case <-ctx.Done():
		}
	}
	type kind struct {
		name       string
		typ        uint8
		got        map[uint32]bool
		hi         uint32
		lat        []time.Duration
		early      []uint32 // frames before from
		duplicates int
		missing    []uint32
	}
	kinds := []*kind{{name: "video", typ: media.TypeVideo, got: map[uint32]bool{}}, {name: "audio", typ: media.TypeAudio, got: map[uint32]bool{}}}
	for _, a := range run.snapshot() {
		n, ok := frameNumber(a.m)
		if !ok {
			continue
		}
		for _, k := range kinds {
			if a.m.Type != k.typ {
				continue
			}
			switch {
			case n < from:
				if len(k.early) < maxFrames {
					k.early = append(k.early, n)
				}
				continue
			case k.got[n]:
				k.duplicates++
				continue
			}
			k.got[n] = true
			k.hi = max(k.hi, n)
			if t, ok := run.gen.sentAt(k.typ, n); ok {
				k.lat = append(k.lat, a.at.Sub(t))
			}
		}
	}
	r.fact("joined", "after frame %d; counted from the key frame %d", run.joined, from)
	var problems []string
	for _, k := range kinds {
		if len(k.early) > 0 {
			r.fact(k.name+" before it", "%d frames (numbers %d to %d)", len(k.early), slices.Min(k.early), slices.Max(k.early))
		}
		if len(k.got) == 0 {
			problems = append(problems, "no "+k.name+" frame arrived")
			continue
		}
		want := int(k.hi-from) + 1
		for i := from; i <= k.hi; i++ {
			if !k.got[i] && len(k.missing) < 8 {
				k.missing = append(k.missing, i)
			}
		}
		p50, p95, mx := latencies(k.lat)
		r.fact(k.name, "%d of %d frames (numbers %d to %d), %d duplicates", len(k.got), want, from, k.hi, k.duplicates)
		if len(k.missing) > 0 {
			r.fact(k.name+" missing", "%v", k.missing)
		}
		r.fact(k.name+" latency", "median %s, 95th percentile %s, max %s", ms(p50), ms(p95), ms(mx))
		if missing := want - len(k.got); missing*10 > want {
			problems = append(problems, fmt.Sprintf("%d of %d %s frames missing", missing, want, k.name))
		}
	}
	if len(problems) > 0 {
		r.failf("%s", joinAnd(problems))
		return
	}
	v := kinds[0]
	p50, _, _ := latencies(v.lat)
	r.passf("%d video and %d audio frames, median latency %s", len(v.got), len(kinds[1].got), ms(p50))
}

func checkBadName(ctx context.Context, e *env, r *rec) {
	st, _, ok := e.newStream(ctx, r)
	if !ok {
		return
	}
	err := st.Publish(ctx, e.opts.Stream, "live")
	var se *client.StatusError
	switch {
	case err == nil:
		st.Close(ctx)
		r.failf("a second publisher of %q was accepted (%s)", e.opts.Stream, netstream.PublishStart)
	case errors.As(err, &se) && se.Status.Code == netstream.PublishBadName:
		r.passf("%s", se.Status)
	case errors.As(err, &se):
		r.failf("refused with %s, not %s", se.Status, netstream.PublishBadName)
	default:
		r.failf("%s", e.noAnswer(ctx, "the second publish", err))
	}
}

func checkUnpublish(ctx context.Context, e *env, r *rec) {
	run := e.stream
	run.gen.close()
	start := time.Now()
	if err := run.pub.Close(ctx); err != nil {
		r.fact("publisher's close", "%s", plain(err))
	}
	for {
		select {
		case st := <-run.player.Status():
			if st.Code == netstream.PlayUnpublishNotify {
				r.passf("%s %s after the publisher's closeStream", st.Code, since(start))
				return
			}
			r.fact("status", "%s", st.Code)
		case <-ctx.Done():
			r.failf("no %s within %v of the publisher's closeStream", netstream.PlayUnpublishNotify, e.opts.Timeout)
			return
		}
	}
}
