package recorder

import (
	"io/fs"
	"sync"
	"time"
)

// Bounds of a quota scan.
const (
	// rescanAfter: an application's usage is measured again (the
	// operator may have added or deleted files) when a recording starts
	// and none is running there, at most this often.
	rescanAfter = time.Minute
	// maxScanEntries bounds the files a scan looks at.
	maxScanEntries = 1 << 20
)

// usage is what an application's folder holds on disk, measured by a scan
// and kept up to date by the recordings writing there.
type usage struct {
	mu      sync.Mutex
	bytes   int64
	scanned time.Time
	writers int
}

// usageOf returns app's usage, scanning its folder when it is unknown or
// old and nothing writes there.
func (r *Recorder) usageOf(app string) *usage {
	r.mu.Lock()
	u := r.usage[app]
	if u == nil {
		u = &usage{}
		r.usage[app] = u
	}
	r.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.writers == 0 && time.Since(u.scanned) > rescanAfter {
		u.bytes = r.scan(app)
		u.scanned = time.Now()
	}
	return u
}

// scan sums the sizes of the files below <root>/app.
func (r *Recorder) scan(app string) int64 {
	var total int64
	n := 0
	fs.WalkDir(r.lib.Root().FS(), app, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if n++; n > maxScanEntries {
			return fs.SkipAll
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

// add counts n more bytes (negative: fewer).
func (u *usage) add(n int64) {
	u.mu.Lock()
	u.bytes += n
	u.mu.Unlock()
}

// reserve counts n bytes about to be written, unless they would take the
// usage over quota (0: none); then it says how many would fit.
func (u *usage) reserve(n, quota int64) (room int64, ok bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if quota > 0 && u.bytes+n > quota {
		return max(quota-u.bytes, 0), false
	}
	u.bytes += n
	return n, true
}

// full reports whether a recording may not start under quota (0: none):
// less than the room one needs is left.
func (u *usage) full(quota int64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return quota > 0 && u.bytes >= quota-min(minRoom, quota/2)
}

func (u *usage) writing(delta int) {
	u.mu.Lock()
	u.writers += delta
	u.mu.Unlock()
}
