// Package recorder records live streams to files, as Flash Media Server
// did for NetStream.publish(name, "record" | "append" | "appendWithGap"):
// whatever publishes a stream (an RTMP encoder, an RTMFP client, a relay, a
// Go program), a recording subscribes to it like a player, with its own
// bounded queue and goroutine, and writes FLV (a plain name) or MP4/F4V
// ("mp4:name.mp4") files in FMS's layout below a root
// (<root>/<app>/streams/<instance>/<name>.flv).
//
// The publisher hears NetStream.Record.Start and .Stop, .NoAccess (a
// read-only file, or recording not allowed: the stream is published live
// all the same), .Failed (a write error) and .DiskQuotaExceeded (the
// application's quota: recording stops, publishing goes on). A recording
// ends with its publisher, however that one leaves, and its file is always
// closed valid: headers rewritten, duration in the metadata. While it is
// written, players can read it from its start (mediafile.Library.SetLive).
package recorder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Recording modes (NetStream.publish's type).
const (
	ModeRecord        = "record"
	ModeAppend        = "append"
	ModeAppendWithGap = "appendWithGap"
)

// Defaults of Config.
const (
	// DefaultQueueBytes bounds each recording's queue: a disk slower than
	// the stream loses whole groups of pictures from the recording, never
	// stalls the publisher.
	DefaultQueueBytes = 16 << 20
	// DefaultFlushInterval is how long written frames may wait in memory
	// (and how far behind the file players of a recording in progress
	// are).
	DefaultFlushInterval = time.Second
	// stopWait bounds how long Stop waits for the queue to reach the disk.
	stopWait = 10 * time.Second
)

// Errors of Record, each told to the publisher with its status.
var (
	// ErrNoAccess: the file is read-only, or the application does not
	// allow recording (NetStream.Record.NoAccess).
	ErrNoAccess = errors.New("recorder: no access")
	// ErrQuota: the application's disk quota is used up
	// (NetStream.Record.DiskQuotaExceeded).
	ErrQuota = errors.New("recorder: disk quota exceeded")
	// ErrBusy: the file is being recorded already (NetStream.Record.Failed).
	ErrBusy = errors.New("recorder: the file is being recorded already")
	// ErrNotPublished: the stream has no publisher.
	ErrNotPublished = errors.New("recorder: the stream is not published")
)

// Policy is an application's recording settings.
type Policy struct {
	// Record lets clients record with publish(name, "record" | "append" |
	// "appendWithGap"). Recordings started by Auto rules or from Go need
	// not it.
	Record bool
	// QuotaBytes bounds the size of the application's folder
	// (<root>/<app>); 0: no bound.
	QuotaBytes int64
	// DeleteOnLive makes publish(name, "live") delete a recording of that
	// name, as Flash Media Server did (a read-only one is kept). Default:
	// keep it.
	DeleteOnLive bool
	// Auto records streams published live.
	Auto []AutoRule
}

// AutoRule records the live streams it matches.
type AutoRule struct {
	// Instance and Stream are patterns (*, ?, [...]) on the instance and
	// the stream name; empty matches any.
	Instance string `json:"instance"`
	Stream   string `json:"stream"`
	// Name is the file's stream name: "{name}" (default) records
	// <name>.flv, "mp4:{name}.mp4" an MP4 file; {app} and {instance} are
	// replaced too.
	Name string `json:"name"`
	// Mode is record (default), append or appendWithGap.
	Mode string `json:"mode"`
}

// Validate checks the rule's patterns and mode.
func (a AutoRule) Validate() error {
	for _, p := range []string{a.Instance, a.Stream} {
		if err := netstream.CheckPattern(p); err != nil {
			return err
		}
	}
	switch a.Mode {
	case "", ModeRecord, ModeAppend, ModeAppendWithGap:
	default:
		return fmt.Errorf("recorder: mode %q is not record, append or appendWithGap", a.Mode)
	}
	if _, err := mediafile.ParseName(netstream.ExpandName(a.name(), "app", "inst", "name")); err != nil {
		return fmt.Errorf("recorder: name %q: %w", a.Name, err)
	}
	return nil
}

func (a AutoRule) name() string {
	if a.Name == "" {
		return "{name}"
	}
	return a.Name
}

// File is a file being recorded (*os.File is one; tests put failing ones
// in its place).
type File interface {
	io.WriterAt
	io.ReaderAt
	Truncate(size int64) error
	Sync() error
	Stat() (os.FileInfo, error)
	Close() error
}

// Done describes a recording that ended, for Config.OnRecordDone (the
// onRecordDone hook).
type Done struct {
	// App, Instance and Stream name the recorded stream.
	App, Instance, Stream string
	// Name is the file's stream name ("cam", "mp4:cam.mp4"); Path the
	// file's absolute path; Format "flv" or "mp4".
	Name, Path, Format string
	// Mode is record, append or appendWithGap.
	Mode string
	// Start and End bound the recording; Bytes is the file's size at the
	// end and Duration its timeline's length.
	Start, End time.Time
	Bytes      int64
	Duration   time.Duration
	// Err says why the recording ended early (ErrQuota, a write error),
	// nil when its publisher stopped or Stop was called.
	Err error
}

// Config configures a Recorder.
type Config struct {
	// Library is where files go (required).
	Library *mediafile.Library
	Logger  *slog.Logger
	// Policy returns an application's settings; nil lets every
	// application record, without quota.
	Policy func(app string) Policy
	// QueueBytes bounds each recording's queue (default
	// DefaultQueueBytes).
	QueueBytes int
	// FlushInterval bounds how long frames stay in memory (default
	// DefaultFlushInterval).
	FlushInterval time.Duration
	// OnRecordDone is told of every recording that ended, once its file is
	// closed. It runs on its own goroutine.
	OnRecordDone func(Done)
	// OpenFile opens files below the root; default root.OpenFile.
	OpenFile func(root *os.Root, name string, flag int, perm os.FileMode) (File, error)
}

// Recorder records streams into a Library. It implements
// netstream.Recorder.
type Recorder struct {
	cfg Config
	lib *mediafile.Library
	log *slog.Logger

	mu     sync.Mutex
	active map[string]*Recording // by file
	usage  map[string]*usage     // by application
}

// New returns a recorder.
func New(cfg Config) (*Recorder, error) {
	if cfg.Library == nil {
		return nil, errors.New("recorder: no library")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.OpenFile == nil {
		cfg.OpenFile = func(root *os.Root, name string, flag int, perm os.FileMode) (File, error) {
			return root.OpenFile(name, flag, perm)
		}
	}
	return &Recorder{cfg: cfg, lib: cfg.Library, log: cfg.Logger,
		active: map[string]*Recording{}, usage: map[string]*usage{}}, nil
}

func (r *Recorder) policy(app string) Policy {
	if r.cfg.Policy == nil {
		return Policy{Record: true}
	}
	return r.cfg.Policy(app)
}

// Active returns the recordings in progress.
func (r *Recorder) Active() []*Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Recording, 0, len(r.active))
	for _, rec := range r.active {
		if rec != nil {
			out = append(out, rec)
		}
	}
	return out
}

// Close stops every recording and waits for their files (bounded by the
// stop wait each).
func (r *Recorder) Close() {
	for _, rec := range r.Active() {
		rec.Stop()
	}
}

// Publish implements netstream.Recorder: a publication of type record,
// append or appendWithGap is recorded when the application allows it;
// a live one may be recorded by the application's Auto rules, and deletes
// an older recording of its name when the application says so.
func (r *Recorder) Publish(c *netstream.Conn, s *netstream.Stream, name, mode string) (stop func()) {
	pol := r.policy(s.App)
	p := s.Publisher()
	notify := func(code, desc string) {
		netstream.Notify(p, code, desc, amf.Property{Key: "details", Value: name})
	}
	var account *budget.Account
	if a, ok := c.Transport().(netstream.Accounted); ok {
		account = a.Account()
	}
	if mode == "live" || mode == "" {
		if pol.DeleteOnLive {
			r.deleteRecording(s.App, s.Inst, name)
		}
		var stops []func()
		for _, a := range pol.Auto {
			if !netstream.MatchPattern(a.Instance, s.Inst) || !netstream.MatchPattern(a.Stream, name) {
				continue
			}
			rec, err := r.Record(s, Options{Name: netstream.ExpandName(a.name(), s.App, s.Inst, name), Mode: a.Mode, Notify: notify, Account: account})
			if err == nil {
				stops = append(stops, rec.Stop)
			}
		}
		if len(stops) == 0 {
			return nil
		}
		return func() {
			for _, f := range stops {
				f()
			}
		}
	}
	if !pol.Record {
		notify(netstream.RecordNoAccess, "recording is not allowed in application "+s.App+"; "+name+" is published live")
		return nil
	}
	rec, err := r.Record(s, Options{Name: name, Mode: mode, Notify: notify, Account: account})
	if err != nil {
		return nil
	}
	return rec.Stop
}

// deleteRecording removes the recording of stream name, unless it is
// read-only or being recorded.
func (r *Recorder) deleteRecording(app, inst, name string) {
	n, err := mediafile.ParseName(name)
	if err != nil {
		return
	}
	rel, err := mediafile.FilePath(app, inst, n)
	if err != nil {
		return
	}
	r.mu.Lock()
	_, busy := r.active[rel]
	r.mu.Unlock()
	if busy {
		return
	}
	root := r.lib.Root()
	fi, err := root.Stat(rel)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o222 == 0 {
		return
	}
	if err := root.Remove(rel); err == nil {
		r.usageOf(app).add(-fi.Size())
		r.log.Info("recording deleted by a live publication", "file", rel)
	}
}

// noAccess reports errors that mean the file may not be written.
func noAccess(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EPERM)
}
