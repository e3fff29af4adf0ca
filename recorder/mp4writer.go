package recorder

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/internal/chunkfile"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mp4file"
)

// mp4Writer records "mp4:" names through mp4file.Writer.
type mp4Writer struct {
	*mp4file.Writer
	f    File
	open func() (File, error)
}

// newMP4Writer starts (or, appending, continues) an MP4 or F4V file.
func newMP4Writer(f File, appendTo, f4v bool, reserve chunkfile.Budget, open func() (File, error)) (fileWriter, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var w *mp4file.Writer
	if appendTo && fi.Size() > 0 {
		w, err = mp4file.AppendWriter(f, reserve)
	} else {
		if fi.Size() > 0 {
			if err := f.Truncate(0); err != nil {
				return nil, err
			}
		}
		w, err = mp4file.NewWriter(f, f4v, reserve)
	}
	if err != nil {
		return nil, err
	}
	return &mp4Writer{Writer: w, f: f, open: open}, nil
}

// Close completes the file and closes it.
func (w *mp4Writer) Close(abort bool) error {
	err := w.Writer.Close(abort)
	return errors.Join(err, w.f.Sync(), w.f.Close())
}

// source reads the recording as it is written.
func (w *mp4Writer) source() (media.Source, error) {
	fh, err := w.open()
	if err != nil {
		return nil, err
	}
	return mp4file.NewSource(fh, w.Index(), fh.Close), nil
}
