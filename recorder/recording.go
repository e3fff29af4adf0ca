package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// minRoom is what a recording needs left under its application's quota
// to start (or half the quota, when that is less).
const minRoom = 64 << 10

// appendGap is the time an append leaves between the last frame of the
// file and the first of the new recording: about a frame.
const appendGap = 40

// Options say what a recording writes.
type Options struct {
	// Name is the file's stream name ("cam" records cam.flv,
	// "mp4:cam.mp4" an MP4 file); default the stream's name.
	Name string
	// Mode is record (default: create or overwrite), append (create or
	// append, the new frames right after the old ones) or appendWithGap
	// (append, keeping the time that passed as a gap in the timeline).
	Mode string
	// Notify receives the recording's status events
	// (NetStream.Record.Start, .Stop, .Failed, .NoAccess,
	// .DiskQuotaExceeded); nil: they go to the stream's publisher when it
	// is a client NetStream.
	Notify func(code, description string)
	// Account, when set, is charged with what the recording's queue holds
	// (frames received and not yet on disk): the publisher's memory
	// account, so that a disk slower than a client sends counts against
	// that client's budget and the server-wide one, as a player's queue
	// does.
	Account *budget.Account
}

// Recording is one stream being recorded into one file.
type Recording struct {
	r      *Recorder
	s      *netstream.Stream
	opts   Options
	name   mediafile.Name
	rel    string
	quota  int64
	u      *usage
	log    *slog.Logger
	start  time.Time
	notify func(code, desc string)

	mu       sync.Mutex // the writer and the timeline
	w        fileWriter
	tl       timeline
	timer    *time.Timer
	finished bool

	sub        *netstream.Subscription
	unlisten   func()
	removeLive func()
	endOnce    sync.Once
	finishOnce sync.Once
	done       chan struct{}
	doneInfo   Done
}

// Record starts recording stream s, which must be published. Its status
// events go to opts.Notify (or to the publisher); an error is returned, and
// told with its status, when the recording cannot start: ErrNoAccess,
// ErrQuota, ErrBusy, mediafile.ErrBadName, or the file system's error.
func (r *Recorder) Record(s *netstream.Stream, opts Options) (*Recording, error) {
	if opts.Name == "" {
		opts.Name = s.Name
	}
	if opts.Mode == "" {
		opts.Mode = ModeRecord
	}
	notify := opts.Notify
	if notify == nil {
		p := s.Publisher()
		notify = func(code, desc string) {
			netstream.Notify(p, code, desc, amf.Property{Key: "details", Value: opts.Name})
		}
	}
	rec, err := r.record(s, opts, notify)
	if err != nil {
		code := netstream.RecordFailed
		switch {
		case errors.Is(err, ErrNoAccess):
			code = netstream.RecordNoAccess
		case errors.Is(err, ErrQuota):
			code = netstream.RecordQuota
		}
		r.log.Info("recording refused", "stream", s.Key(), "name", opts.Name, "mode", opts.Mode, "err", err)
		notify(code, fmt.Sprintf("%s cannot be recorded: %v; it is published live", opts.Name, err))
		return nil, err
	}
	notify(netstream.RecordStart, "Recording "+opts.Name+".")
	return rec, nil
}

func (r *Recorder) record(s *netstream.Stream, opts Options, notify func(string, string)) (*Recording, error) {
	switch opts.Mode {
	case ModeRecord, ModeAppend, ModeAppendWithGap:
	default:
		return nil, fmt.Errorf("recorder: mode %q is not record, append or appendWithGap", opts.Mode)
	}
	if s.Publisher() == nil {
		return nil, ErrNotPublished
	}
	n, err := mediafile.ParseName(opts.Name)
	if err != nil {
		return nil, err
	}
	rel, err := mediafile.FilePath(s.App, s.Inst, n)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if _, busy := r.active[rel]; busy {
		r.mu.Unlock()
		return nil, ErrBusy
	}
	r.active[rel] = nil // reserved while the file opens
	r.mu.Unlock()
	rec := &Recording{r: r, s: s, opts: opts, name: n, rel: rel, quota: r.policy(s.App).QuotaBytes, notify: notify,
		start: time.Now(), done: make(chan struct{}),
		log: r.log.With("stream", s.Key(), "file", rel, "mode", opts.Mode)}
	if err := rec.open(); err != nil {
		r.mu.Lock()
		delete(r.active, rel)
		r.mu.Unlock()
		return nil, err
	}
	r.mu.Lock()
	r.active[rel] = rec
	r.mu.Unlock()
	rec.removeLive = r.lib.SetLive(rel, rec)
	rec.sub = s.SubscribeWith(rec, netstream.SubscribeOptions{Limit: r.cfg.QueueBytes, Account: opts.Account})
	rec.unlisten = s.Listen(rec)
	go func() {
		// However the subscription ends, the file is completed.
		<-rec.sub.Done()
		rec.finish(rec.sub.Err())
	}()
	rec.log.Info("recording started", "format", n.Format)
	return rec, nil
}

// open opens (and for record, replaces) the file and prepares its writer
// and timeline.
func (rec *Recording) open() error {
	r := rec.r
	root := r.lib.Root()
	rec.u = r.usageOf(rec.s.App)
	if rec.u.full(rec.quota) {
		return ErrQuota
	}
	if err := root.MkdirAll(path.Dir(rec.rel), 0o755); err != nil {
		if noAccess(err) {
			return fmt.Errorf("%w: %v", ErrNoAccess, err)
		}
		return err
	}
	fi, err := root.Stat(rec.rel)
	exists := err == nil
	if exists && (!fi.Mode().IsRegular() || fi.Mode().Perm()&0o222 == 0) {
		return fmt.Errorf("%w: %s is read-only", ErrNoAccess, rec.opts.Name)
	}
	flag := os.O_RDWR | os.O_CREATE
	if exists && rec.opts.Mode == ModeRecord {
		// Replaced, not overwritten in place: players of the old file
		// keep reading it.
		if err := root.Remove(rec.rel); err != nil {
			if noAccess(err) {
				return fmt.Errorf("%w: %v", ErrNoAccess, err)
			}
			return err
		}
		rec.u.add(-fi.Size())
		exists = false
	}
	if !exists {
		flag |= os.O_EXCL
	}
	f, err := r.cfg.OpenFile(root, rec.rel, flag, 0o644)
	if err != nil {
		if noAccess(err) {
			return fmt.Errorf("%w: %v", ErrNoAccess, err)
		}
		return err
	}
	reserve := func(n int64) (int64, error) {
		room, ok := rec.u.reserve(n, rec.quota)
		if !ok {
			return room, ErrQuota
		}
		return n, nil
	}
	openRead := func() (File, error) { return root.Open(rec.rel) }
	appendTo := rec.opts.Mode != ModeRecord
	var w fileWriter
	switch rec.name.Format {
	case mediafile.FLV:
		w, err = newFLVWriter(f, appendTo, reserve, openRead)
	case mediafile.MP4:
		w, err = newMP4Writer(f, appendTo, strings.EqualFold(path.Ext(rec.rel), ".f4v"), reserve, openRead)
	default:
		err = fmt.Errorf("recording %s files is not supported", rec.name.Format)
	}
	if err != nil {
		f.Close()
		return err
	}
	rec.w = w
	rec.u.writing(1)
	rec.tl = newTimeline(rec.opts.Mode, w, fi, exists)
	return nil
}

// NewSource reads the recording from its start as it is written (the
// DVR); it implements mediafile.Live.
func (rec *Recording) NewSource() (media.Source, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.finished {
		return nil, os.ErrNotExist
	}
	return rec.w.source()
}

// Stream is the recorded stream.
func (rec *Recording) Stream() *netstream.Stream { return rec.s }

// File is the file's path relative to the library's root.
func (rec *Recording) File() string { return rec.rel }

// Done is closed once the recording ended and its file is closed.
func (rec *Recording) Done() <-chan struct{} { return rec.done }

// Result describes the ended recording (valid once Done is closed).
func (rec *Recording) Result() Done {
	<-rec.done
	return rec.doneInfo
}

// WriteMedia writes one message of the stream (the recording is the
// subscription's sink). A failure ends the recording, not the stream.
func (rec *Recording) WriteMedia(_ context.Context, m media.Message) error {
	rec.mu.Lock()
	if rec.finished {
		rec.mu.Unlock()
		return errEnded
	}
	m.Timestamp = rec.tl.place(m)
	err := rec.w.Write(m)
	if err == nil && rec.timer == nil {
		rec.timer = time.AfterFunc(rec.r.cfg.FlushInterval, rec.flushNow)
	}
	rec.mu.Unlock()
	if err != nil {
		rec.fail(err)
		return err
	}
	return nil
}

// flushNow writes what a quiet stream left gathered.
func (rec *Recording) flushNow() {
	rec.mu.Lock()
	rec.timer = nil
	if rec.finished {
		rec.mu.Unlock()
		return
	}
	err := rec.w.Flush()
	rec.mu.Unlock()
	if err != nil {
		rec.fail(err)
	}
}

// fail ends the recording after a write error or the quota.
func (rec *Recording) fail(err error) {
	code, what := netstream.RecordFailed, "recording failed"
	if errors.Is(err, ErrQuota) {
		code, what = netstream.RecordQuota, "the disk quota is used up"
	}
	rec.log.Warn("recording stopped", "err", err)
	rec.notify(code, fmt.Sprintf("%s: %s; %s is still published live", rec.opts.Name, what, rec.s.Name))
	rec.finish(err)
}

// errEnded is returned to the subscription once the recording ended.
var errEnded = errors.New("recorder: recording ended")

// Stop ends the recording once what is queued is written, and waits
// (bounded) for the file to be complete. It is safe to call more than once.
func (rec *Recording) Stop() {
	rec.end()
	select {
	case <-rec.done:
	case <-time.After(stopWait):
		rec.log.Warn("recording still writing its queue")
	}
}

// end asks for the recording's end after what is queued.
func (rec *Recording) end() {
	rec.endOnce.Do(func() {
		rec.sub.After(func() { rec.finish(nil) })
	})
}

// PublishStarted implements netstream.StreamListener.
func (rec *Recording) PublishStarted(*netstream.Stream) {}

// PublishStopped ends the recording with its publisher.
func (rec *Recording) PublishStopped(*netstream.Stream) { rec.end() }

// finish completes the file, once.
func (rec *Recording) finish(reason error) {
	rec.finishOnce.Do(func() {
		if errors.Is(reason, context.Canceled) || errors.Is(reason, errEnded) {
			reason = nil
		}
		rec.mu.Lock()
		rec.finished = true
		if rec.timer != nil {
			rec.timer.Stop()
			rec.timer = nil
		}
		err := rec.w.Close(reason != nil)
		size, last := rec.w.Size(), rec.w.LastTimestamp()
		rec.mu.Unlock()
		rec.removeLive()
		rec.unlisten()
		rec.sub.Close()
		rec.u.writing(-1)
		r := rec.r
		r.mu.Lock()
		if r.active[rec.rel] == rec {
			delete(r.active, rec.rel)
		}
		r.mu.Unlock()
		switch {
		case reason != nil:
		case err != nil:
			reason = err
			rec.log.Warn("recording failed to complete its file", "err", err)
			rec.notify(netstream.RecordFailed, fmt.Sprintf("%s: completing the file failed: %v", rec.opts.Name, err))
		default:
			rec.notify(netstream.RecordStop, "Stopped recording "+rec.opts.Name+".")
		}
		rec.doneInfo = Done{App: rec.s.App, Instance: rec.s.Inst, Stream: rec.s.Name, Name: rec.opts.Name,
			Path: r.lib.Abs(rec.rel), Format: rec.name.Format.String(), Mode: rec.opts.Mode,
			Start: rec.start, End: time.Now(), Bytes: size, Duration: time.Duration(last) * time.Millisecond, Err: reason}
		stats := rec.sub.Stats()
		rec.log.Info("recording ended", "bytes", size, "duration", rec.doneInfo.Duration, "dropped", stats.Dropped, "err", reason)
		close(rec.done)
		if h := r.cfg.OnRecordDone; h != nil {
			go h(rec.doneInfo)
		}
	})
}

// timeline places a recording's messages on its file's timeline: a new
// recording starts at 0; an append right after the file's last frame; an
// appendWithGap keeps the publisher's timestamps when they come after the
// file's end (an encoder whose clock ran on) and otherwise leaves the time
// that passed since the file was last written as a gap. Codec headers and
// metadata before the first frame are placed at the start; nothing goes
// before the file's end.
type timeline struct {
	base    uint32 // where the first frame goes
	floor   uint32 // no timestamp below it
	keep    bool   // appendWithGap: keep timestamps after the floor
	started bool
	offset  int64
}

func newTimeline(mode string, w fileWriter, fi os.FileInfo, existed bool) timeline {
	if mode == ModeRecord || !w.HasContent() {
		return timeline{}
	}
	last := w.LastTimestamp()
	t := timeline{base: last + appendGap, floor: last}
	if mode == ModeAppendWithGap {
		t.keep = true
		if existed && fi != nil {
			if gap := time.Since(fi.ModTime()).Milliseconds(); gap > appendGap && gap < 1<<31 {
				t.base = last + uint32(gap)
			}
		}
	}
	return t
}

// place returns m's timestamp in the file.
func (t *timeline) place(m media.Message) uint32 {
	frame := (m.Type == media.TypeAudio || m.Type == media.TypeVideo) && !m.IsSequenceHeader()
	if !t.started {
		if !frame {
			return t.base
		}
		t.started = true
		if t.keep && m.Timestamp > t.floor {
			t.offset = 0
		} else {
			t.offset = int64(t.base) - int64(m.Timestamp)
		}
	}
	ts := int64(m.Timestamp) + t.offset
	if ts < int64(t.floor) {
		ts = int64(t.floor)
	}
	if ts > 1<<32-1 {
		ts = 1<<32 - 1
	}
	return uint32(ts)
}
