package media

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/amf"
)

// ErrNotYet is returned by a Source reading a recording still being written
// when it has read everything written so far; Changed tells when to try
// again.
var ErrNotYet = errors.New("media: nothing more written yet")

// Source reads the messages of one recorded stream (an FLV, MP4 or MP3 file,
// or a recording in progress) for one reader, from disk as it goes: the
// file layer shared by video on demand, group streams from files and any
// other publisher of files. A Source is used by one goroutine.
type Source interface {
	// Duration is the stream's length in milliseconds (0 when unknown, as
	// for a recording in progress).
	Duration() uint32
	// Metadata returns the onMetaData properties to announce (duration
	// first, when known), or nil.
	Metadata() *amf.Object
	// Seek positions the source at the last key frame at or before ms (the
	// first one when there is none) and returns the codec headers in force
	// there (AVC/HEVC and AAC sequence headers), to be sent before the
	// frames that follow. Seek(0) rewinds.
	Seek(ms uint32) ([]Message, error)
	// Next returns the next message in file order: io.EOF at the end,
	// ErrNotYet at the end of what a recording in progress has written.
	Next() (Message, error)
	// Changed returns a channel that is closed once Next may return
	// something other than ErrNotYet: at once for a finished file or when
	// there is more to read, else when a recording in progress writes
	// more (or ends). Call it after Next returned ErrNotYet.
	Changed() <-chan struct{}
	// Close releases the source.
	Close() error
}

// SourceMetadata builds onMetaData properties: duration (seconds) first
// when known, then props without their own duration and without the
// properties that describe a file's layout (file size, key frame tables),
// which a reader of the stream cannot use.
func SourceMetadata(durationMS uint32, props *amf.Object) *amf.Object {
	out := amf.NewObject()
	if durationMS > 0 {
		out.Set("duration", float64(durationMS)/1000)
	}
	for k, v := range props.All() {
		switch k {
		case "duration", "filesize", "keyframes", "datasize", "lasttimestamp", "lastkeyframetimestamp", "lastkeyframelocation":
			continue
		}
		out.Props = append(out.Props, amf.Property{Key: k, Value: v})
	}
	return out
}

var closed = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Ready is a closed channel, what Changed returns when there is something
// to read.
func Ready() <-chan struct{} { return closed }
