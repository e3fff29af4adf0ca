package mediafile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mp3file"
	"github.com/rtmfpd/rtmfpd/mp4file"
)

// DefaultCachedFiles is how many unused files a Library keeps open with
// their indexes, so that the next reader finds them ready.
const DefaultCachedFiles = 64

// ErrUnsupported is returned for a file of a format that cannot be read.
var ErrUnsupported = errors.New("mediafile: unsupported format")

// Live is a recording in progress, which readers can read from its start
// while it is written (a DVR).
type Live interface {
	// NewSource returns a reader of the recording from its start.
	NewSource() (media.Source, error)
}

// Library opens the media files below a root folder for readers. Readers
// of one file share its descriptor and its index (built once, by the first
// reader); each reads the frames from disk itself. Files that nobody reads
// stay open, up to a bound, and are indexed again when they change.
type Library struct {
	root      *os.Root
	dir       string
	maxCached int

	mu    sync.Mutex
	files map[string]*entry
	live  map[string]Live
}

// fileKey tells whether a file changed since it was indexed.
type fileKey struct {
	size  int64
	mtime time.Time
	dev   uint64
	ino   uint64
}

func keyOf(fi os.FileInfo) fileKey {
	k := fileKey{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.dev, k.ino = uint64(st.Dev), st.Ino
	}
	return k
}

type entry struct {
	rel    string
	format Format
	key    fileKey
	ready  chan struct{}
	f      *os.File
	index  any
	err    error
	refs   int
	used   time.Time
	stale  bool // replaced in the map: close when the last reader leaves
}

// Open opens the folder dir (created if missing) as a library; cached
// bounds the files kept open for nobody (0: DefaultCachedFiles).
func Open(dir string, cached int) (*Library, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, err
	}
	if cached <= 0 {
		cached = DefaultCachedFiles
	}
	return &Library{root: root, dir: abs, maxCached: cached, files: map[string]*entry{}, live: map[string]Live{}}, nil
}

// Root is the library's root folder, through which every file is opened.
func (l *Library) Root() *os.Root { return l.root }

// Dir is the root folder's absolute path.
func (l *Library) Dir() string { return l.dir }

// Abs returns the absolute path of a file given relative to the root.
func (l *Library) Abs(rel string) string { return filepath.Join(l.dir, filepath.FromSlash(rel)) }

// Close closes the cached files (readers keep theirs until they close).
func (l *Library) Close() error {
	l.mu.Lock()
	for rel, e := range l.files {
		delete(l.files, rel)
		e.stale = true
		if e.refs == 0 && e.f != nil {
			e.f.Close()
		}
	}
	l.mu.Unlock()
	return l.root.Close()
}

// SetLive makes rel a recording in progress: readers opening it read lv
// until remove is called.
func (l *Library) SetLive(rel string, lv Live) (remove func()) {
	l.mu.Lock()
	l.live[rel] = lv
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		if l.live[rel] == lv {
			delete(l.live, rel)
		}
		l.mu.Unlock()
	}
}

// Recording reports whether rel is being recorded.
func (l *Library) Recording(rel string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live[rel] != nil
}

// Exists reports whether rel is a regular file or a recording in progress.
func (l *Library) Exists(rel string) bool {
	if l.Recording(rel) {
		return true
	}
	fi, err := l.root.Stat(rel)
	return err == nil && fi.Mode().IsRegular()
}

// Open returns a reader of the file rel (relative to the root) in format
// f, or of the recording in progress there. A missing file gives an error
// matching os.ErrNotExist.
func (l *Library) Open(rel string, f Format) (media.Source, error) {
	l.mu.Lock()
	if lv := l.live[rel]; lv != nil {
		l.mu.Unlock()
		return lv.NewSource()
	}
	l.mu.Unlock()
	fi, err := l.root.Stat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", rel, os.ErrNotExist)
	}
	key := keyOf(fi)
	l.mu.Lock()
	e := l.files[rel]
	if e == nil || e.key != key || e.format != f {
		if e != nil {
			l.drop(e)
		}
		e = &entry{rel: rel, format: f, key: key, ready: make(chan struct{})}
		l.files[rel] = e
		e.refs++
		l.mu.Unlock()
		e.f, e.index, e.err = l.index(rel, f)
		if e.f != nil {
			if fi, err := e.f.Stat(); err == nil {
				e.key = keyOf(fi) // what was indexed
			}
		}
		close(e.ready)
	} else {
		e.refs++
		l.mu.Unlock()
		<-e.ready
	}
	if e.err != nil {
		l.release(e)
		return nil, e.err
	}
	src, err := newSource(e, func() error { l.release(e); return nil })
	if err != nil {
		l.release(e)
		return nil, err
	}
	return src, nil
}

// index opens and indexes a file.
func (l *Library) index(rel string, f Format) (*os.File, any, error) {
	fh, err := l.root.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	idx, err := IndexFile(fh, fi.Size(), f)
	if err != nil {
		fh.Close()
		return nil, nil, fmt.Errorf("%s: %w", rel, err)
	}
	return fh, idx, nil
}

// IndexFile builds the index of a file of format f.
func IndexFile(r io.ReaderAt, size int64, f Format) (any, error) {
	switch f {
	case FLV:
		return flv.ScanIndex(r, size, 0)
	case MP4:
		return mp4file.Scan(r, size)
	case MP3:
		return mp3file.Scan(r, size)
	}
	return nil, ErrUnsupported
}

// newSource returns a reader over an entry's file and index.
func newSource(e *entry, closer func() error) (media.Source, error) {
	return SourceOf(e.f, e.index, closer)
}

// SourceOf returns a reader of r with the index IndexFile built.
func SourceOf(r io.ReaderAt, index any, closer func() error) (media.Source, error) {
	switch x := index.(type) {
	case *flv.Index:
		return flv.NewSource(r, x, 0, closer), nil
	case *mp4file.Index:
		return mp4file.NewSource(r, x, closer), nil
	case *mp3file.Index:
		return mp3file.NewSource(r, x, closer), nil
	}
	return nil, ErrUnsupported
}

// release is called when a reader closes.
func (l *Library) release(e *entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.refs--
	e.used = time.Now()
	if e.refs > 0 {
		return
	}
	if e.stale || e.err != nil {
		l.drop(e)
		return
	}
	// Keep it, and close the least recently used idle files past the
	// bound.
	idle := 0
	var oldest *entry
	for _, x := range l.files {
		if x.refs == 0 {
			idle++
			if oldest == nil || x.used.Before(oldest.used) {
				oldest = x
			}
		}
	}
	if idle > l.maxCached && oldest != nil {
		l.drop(oldest)
	}
}

// drop removes e from the map and closes its file once nobody reads it.
func (l *Library) drop(e *entry) {
	if l.files[e.rel] == e {
		delete(l.files, e.rel)
	}
	e.stale = true
	if e.refs == 0 && e.f != nil {
		e.f.Close()
		e.f = nil
	}
}

// OpenFile returns a reader of the file at path (anywhere: an operator's
// file given in the configuration), its format taken from its extension
// (.flv, .mp4/.f4v/.m4v/.mov, .mp3; FLV otherwise).
func OpenFile(path string) (media.Source, error) {
	n, err := ParseName(filepath.Base(path))
	f := FLV
	if err == nil {
		f = n.Format
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	idx, err := IndexFile(fh, fi.Size(), f)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return SourceOf(fh, idx, fh.Close)
}
