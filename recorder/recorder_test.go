package recorder

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/netstream"
)

var quiet = slog.New(slog.DiscardHandler)

type publisher struct{}

func (publisher) PublisherName() string { return "test" }

// statuses collects a recording's status codes.
type statuses struct {
	mu    sync.Mutex
	codes []string
}

func (s *statuses) notify(code, _ string) {
	s.mu.Lock()
	s.codes = append(s.codes, code)
	s.mu.Unlock()
}

func (s *statuses) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.codes...)
}

// env is a recorder on a fresh root and a registry to publish into.
type env struct {
	t    *testing.T
	dir  string
	lib  *mediafile.Library
	r    *Recorder
	reg  *netstream.Registry
	done chan Done
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	dir := t.TempDir()
	lib, err := mediafile.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	e := &env{t: t, dir: dir, lib: lib, reg: netstream.NewRegistry(), done: make(chan Done, 8)}
	cfg.Library, cfg.Logger = lib, quiet
	cfg.OnRecordDone = func(d Done) { e.done <- d }
	e.r, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) publish(name string) (*netstream.Stream, publisher) {
	p := publisher{}
	s, err := e.reg.Publish("live", netstream.DefaultInstance, name, p)
	if err != nil {
		e.t.Fatal(err)
	}
	return s, p
}

func (e *env) path(file string) string {
	return filepath.Join(e.dir, "live", "streams", netstream.DefaultInstance, file)
}

func (e *env) awaitDone() Done {
	e.t.Helper()
	select {
	case d := <-e.done:
		return d
	case <-time.After(20 * time.Second):
		e.t.Fatal("the recording did not end")
	}
	return Done{}
}

// avcC is the AVC decoder configuration of testdata/media/test_6s.flv
// (320x240, Constrained Baseline).
var avcC = []byte{1, 66, 192, 13, 255, 225, 0, 24, 103, 66, 192, 13, 217, 1, 65, 251, 1, 16, 0, 0, 3, 0, 16, 0, 0, 3, 1,
	224, 241, 66, 164, 128, 1, 0, 4, 104, 203, 140, 178}

// stream is a test stream: metadata, AVC and AAC headers, then frames
// every 40 ms (a key frame every 10), each of size bytes.
func stream(from uint32, n, size int) []media.Message {
	md, _ := netstream.EncodeData("@setDataFrame", "onMetaData", amf.NewObject(amf.Property{Key: "width", Value: 320.0}))
	msgs := []media.Message{md,
		{Type: media.TypeVideo, Timestamp: from, Payload: append([]byte{0x17, 0, 0, 0, 0}, avcC...)},
		{Type: media.TypeAudio, Timestamp: from, Payload: []byte{0xaf, 0, 0x13, 0x88, 0x56, 0xe5, 0}}}
	for i := range n {
		ts := from + uint32(40*i)
		p := make([]byte, size)
		p[0], p[1] = 0x27, 1
		if i%10 == 0 {
			p[0] = 0x17
		}
		msgs = append(msgs, media.Message{Type: media.TypeVideo, Timestamp: ts, Payload: p})
		msgs = append(msgs, media.Message{Type: media.TypeAudio, Timestamp: ts, Payload: []byte{0xaf, 1, byte(i)}})
	}
	return msgs
}

func write(s *netstream.Stream, p publisher, msgs []media.Message) {
	for _, m := range msgs {
		s.Write(p, m)
	}
}

// frames counts the audio and video frames of a file and returns the
// last timestamp.
func frames(t *testing.T, path string) (audio, video int, first, last uint32) {
	t.Helper()
	msgs, err := flv.ReadFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	first = 1<<32 - 1
	for _, m := range msgs {
		if (m.IsAudio() || m.IsVideo()) && !m.IsSequenceHeader() {
			if m.IsAudio() {
				audio++
			} else {
				video++
			}
			first, last = min(first, m.Timestamp), max(last, m.Timestamp)
		}
	}
	return
}

// TestRecordFLV: a stream recorded from Go has every frame from 0, the
// publisher's metadata with the duration and the file size rewritten, and
// the events Start then Stop.
func TestRecordFLV(t *testing.T) {
	e := newEnv(t, Config{})
	s, p := e.publish("cam")
	var st statuses
	rec, err := e.r.Record(s, Options{Notify: st.notify})
	if err != nil {
		t.Fatal(err)
	}
	write(s, p, stream(5000, 50, 100))
	e.reg.Unpublish(s, p)
	<-rec.Done()
	d := e.awaitDone()
	if d.Err != nil || d.Path != e.path("cam.flv") || d.Mode != ModeRecord || d.Duration != 1960*time.Millisecond {
		t.Fatalf("done %+v", d)
	}
	if got := st.list(); len(got) != 2 || got[0] != netstream.RecordStart || got[1] != netstream.RecordStop {
		t.Fatalf("statuses %v", got)
	}
	a, v, first, last := frames(t, d.Path)
	if a != 50 || v != 50 || first != 0 || last != 1960 {
		t.Fatalf("%d audio %d video from %d to %d", a, v, first, last)
	}
	f, _ := os.Open(d.Path)
	defer f.Close()
	fi, _ := f.Stat()
	idx, err := flv.ScanIndex(f, fi.Size(), 0)
	if err != nil {
		t.Fatal(err)
	}
	meta := idx.Metadata()
	dur, _ := meta.GetNumber("duration")
	size, _ := meta.GetNumber("filesize")
	w, _ := meta.GetNumber("width")
	if dur != 1.96 || size != float64(fi.Size()) || w != 320 || meta.Props[0].Key != "duration" {
		t.Fatalf("metadata %v (size %d)", meta, fi.Size())
	}
	if idx.Flags() != flv.FlagAudio|flv.FlagVideo {
		t.Fatalf("flags %x", idx.Flags())
	}
}

// TestAppendTwice: record, append and appendWithGap make one file whose
// timeline goes on: right after the end for append, after the publisher's
// own later timestamps for appendWithGap.
func TestAppendTwice(t *testing.T) {
	e := newEnv(t, Config{})
	for i, c := range []struct {
		mode       string
		from       uint32
		wantFirst  uint32 // of this part
		wantFrames int
	}{
		{ModeRecord, 100, 0, 50},
		{ModeAppend, 0, 1960 + appendGap, 100},
		{ModeAppendWithGap, 9000, 9000, 150},
	} {
		s, p := e.publish("cam")
		if _, err := e.r.Record(s, Options{Mode: c.mode}); err != nil {
			t.Fatal(err)
		}
		msgs := stream(c.from, 50, 50)
		write(s, p, msgs)
		e.reg.Unpublish(s, p)
		d := e.awaitDone()
		a, v, first, _ := frames(t, d.Path)
		if first != 0 || a != c.wantFrames || v != c.wantFrames {
			t.Fatalf("part %d: %d audio %d video from %d", i, a, v, first)
		}
		all, _ := flv.ReadFile(d.Path, 0)
		var seen int
		for _, m := range all {
			if m.IsVideo() && !m.IsSequenceHeader() {
				seen++
				if seen == c.wantFrames-49 && m.Timestamp != c.wantFirst {
					t.Fatalf("part %d starts at %d, want %d", i, m.Timestamp, c.wantFirst)
				}
			}
		}
	}
}

// TestReadOnly: a read-only file is not recorded over (NoAccess, a status)
// and is left as it was.
func TestReadOnly(t *testing.T) {
	e := newEnv(t, Config{})
	path := e.path("cam.flv")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("precious"), 0o444); err != nil {
		t.Fatal(err)
	}
	s, _ := e.publish("cam")
	for _, mode := range []string{ModeRecord, ModeAppend} {
		var st statuses
		_, err := e.r.Record(s, Options{Mode: mode, Notify: st.notify})
		if !errors.Is(err, ErrNoAccess) || len(st.list()) != 1 || st.list()[0] != netstream.RecordNoAccess {
			t.Fatalf("%s: %v %v", mode, err, st.list())
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatalf("file now %q", b)
	}
}

// TestQuota: a recording that would take its application over quota
// stops with DiskQuotaExceeded, its file complete and within the quota;
// the stream stays published and its players go on; a new recording is
// refused at once.
func TestQuota(t *testing.T) {
	const quota = 50 << 10
	e := newEnv(t, Config{Policy: func(string) Policy { return Policy{Record: true, QuotaBytes: quota} }})
	s, p := e.publish("cam")
	var st statuses
	if _, err := e.r.Record(s, Options{Notify: st.notify}); err != nil {
		t.Fatal(err)
	}
	player := newCounter()
	sub := s.Subscribe(player, 1<<30)
	defer sub.Close()
	msgs := stream(0, 500, 1000)
	write(s, p, msgs)
	d := e.awaitDone()
	if !errors.Is(d.Err, ErrQuota) {
		t.Fatalf("done %+v", d)
	}
	if got := st.list(); len(got) != 2 || got[1] != netstream.RecordQuota {
		t.Fatalf("statuses %v", got)
	}
	if fi, err := os.Stat(d.Path); err != nil || fi.Size() > quota {
		t.Fatalf("file %v %v", fi.Size(), err)
	}
	if a, v, _, _ := frames(t, d.Path); a == 0 || v == 0 {
		t.Fatalf("nothing recorded: %d %d", a, v)
	}
	if s.Publisher() == nil {
		t.Fatal("the stream was unpublished")
	}
	player.waitFor(t, len(msgs))
	st = statuses{}
	s2, _ := e.publish("other")
	if _, err := e.r.Record(s2, Options{Notify: st.notify}); !errors.Is(err, ErrQuota) || st.list()[0] != netstream.RecordQuota {
		t.Fatalf("second recording: %v %v", err, st.list())
	}
}

// counter is a player that counts what it gets.
type counter struct {
	mu     sync.Mutex
	n      int
	notify chan struct{}
}

func newCounter() *counter { return &counter{notify: make(chan struct{}, 1)} }

func (c *counter) WriteMedia(_ context.Context, m media.Message) error {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return nil
}

func (c *counter) waitFor(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got := c.n
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.notify:
		case <-timeout:
			t.Fatalf("the player got %d of %d", got, n)
		}
	}
}

// brokenFile fails writes past limit with an I/O error.
type brokenFile struct {
	*os.File
	limit int64
}

func (f *brokenFile) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.WriteAt(p, off)
}

// TestWriteError: a write error ends the recording with Record.Failed and
// a complete file holding what was written before it.
func TestWriteError(t *testing.T) {
	for _, name := range []string{"cam", "mp4:cam.mp4"} {
		e := newEnv(t, Config{OpenFile: func(root *os.Root, n string, flag int, perm os.FileMode) (File, error) {
			f, err := root.OpenFile(n, flag, perm)
			if err != nil {
				return nil, err
			}
			return &brokenFile{File: f, limit: 100 << 10}, nil
		}})
		s, p := e.publish("cam")
		var st statuses
		if _, err := e.r.Record(s, Options{Name: name, Notify: st.notify}); err != nil {
			t.Fatal(err)
		}
		write(s, p, stream(0, 500, 1000))
		d := e.awaitDone()
		if !errors.Is(d.Err, syscall.EIO) {
			t.Fatalf("%s: done %+v", name, d)
		}
		if got := st.list(); len(got) != 2 || got[1] != netstream.RecordFailed {
			t.Fatalf("%s: statuses %v", name, got)
		}
		n, _ := mediafile.ParseName(name)
		src, err := mediafile.OpenFile(d.Path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := 0
		src.Seek(0)
		for {
			_, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s (%v): %v", name, n.Format, err)
			}
			got++
		}
		src.Close()
		if got < 100 {
			t.Fatalf("%s: %d messages kept", name, got)
		}
		if s.Publisher() == nil {
			t.Fatal("the stream was unpublished")
		}
	}
}

// TestBadNames: names that would leave the root, or name no file, are
// refused with Record.Failed; nothing is written outside the root.
func TestBadNames(t *testing.T) {
	e := newEnv(t, Config{})
	s, _ := e.publish("cam")
	for _, name := range []string{"../../../etc/evil", "a/../../b", "x\x00y", "mp4:", "nope:cam", "a\\b", "./", "a//b", "\xff"} {
		var st statuses
		if _, err := e.r.Record(s, Options{Name: name, Notify: st.notify}); err == nil {
			t.Errorf("%q recorded", name)
		} else if got := st.list(); len(got) != 1 || got[0] != netstream.RecordFailed {
			t.Errorf("%q: %v", name, got)
		}
	}
	// Nothing was created anywhere: not even the instance folder.
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Fatalf("root holds %v", entries)
	}
}

// TestBusy: one file is recorded once at a time.
func TestBusy(t *testing.T) {
	e := newEnv(t, Config{})
	s, p := e.publish("cam")
	rec, err := e.r.Record(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := e.publish("cam2")
	if _, err := e.r.Record(s2, Options{Name: "cam"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second recording of cam.flv: %v", err)
	}
	e.reg.Unpublish(s, p)
	rec.Stop()
}

// TestDVR: a recording in progress is read from its start while it grows,
// to its end once it stops, in FLV and MP4.
func TestDVR(t *testing.T) {
	for _, name := range []string{"cam", "mp4:cam.mp4"} {
		e := newEnv(t, Config{FlushInterval: time.Hour})
		s, p := e.publish("cam")
		rec, err := e.r.Record(s, Options{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := mediafile.ParseName(name)
		src, err := e.lib.Open(rec.File(), n.Format)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Next(); !errors.Is(err, media.ErrNotYet) {
			t.Fatalf("%s: before anything: %v", name, err)
		}
		write(s, p, stream(0, 1000, 200)) // more than a write chunk
		read := func() (int, error) {
			got := 0
			for {
				m, err := src.Next()
				if err != nil {
					return got, err
				}
				if m.IsVideo() && !m.IsSequenceHeader() {
					got++
				}
			}
		}
		// What is on disk, as it comes.
		got := 0
		for got == 0 {
			n, err := read()
			if !errors.Is(err, media.ErrNotYet) {
				t.Fatalf("%s: during the recording: %v", name, err)
			}
			got += n
			if got > 0 {
				break
			}
			select {
			case <-src.Changed():
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: no change", name)
			}
		}
		if got >= 1000 {
			t.Fatalf("%s: read %d frames before the end of the recording", name, got)
		}
		e.reg.Unpublish(s, p)
		<-rec.Done()
		more, err := read()
		if err != io.EOF || got+more != 1000 {
			t.Fatalf("%s: read %d+%d, then %v", name, got, more, err)
		}
		src.Close()
	}
}

// TestQueueCharged: a recording's queue is charged to the account it was
// given (the publisher's): while the disk is stalled the queued frames
// count against it, past its limit the account ends (the server closes
// that publisher), and what reaches the disk is released.
func TestQueueCharged(t *testing.T) {
	e := newEnv(t, Config{})
	s, p := e.publish("cam")
	ended := make(chan error, 1)
	acct := budget.NewPool(0).Open("publisher", 256<<10, func(err error) { ended <- err })
	rec, err := e.r.Record(s, Options{Account: acct})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock() // the disk stalls: WriteMedia waits
	write(s, p, stream(0, 100, 4000))
	select {
	case err := <-ended:
		if !errors.Is(err, budget.ErrPeerLimit) {
			t.Fatalf("account ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		rec.mu.Unlock()
		t.Fatalf("account not ended; it holds %d bytes", acct.Used())
	}
	if used := acct.Used(); used < 256<<10 {
		t.Fatalf("account holds %d bytes", used)
	}
	rec.mu.Unlock()
	e.reg.Unpublish(s, p)
	<-rec.Done()
	if used := acct.Used(); used != 0 {
		t.Fatalf("account still holds %d bytes after the recording", used)
	}
}
