package recorder

import "errors"

func newMP4Writer(f File, appendTo bool, reserve func(int64) error, open func() (File, error)) (fileWriter, error) {
	return nil, errors.New("recording MP4 files is not supported yet")
}
