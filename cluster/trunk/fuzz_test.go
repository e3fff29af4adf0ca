package trunk

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzFrames: a pull's bytes read as frames and requests or fail, never
// panic nor allocate beyond MaxFrame.
func FuzzFrames(f *testing.F) {
	f.Add(appendFrame(appendFrame(nil, typeControl, 0, []byte(ctlOK)), 9, 40, []byte{0x17, 1}))
	f.Add(appendRequest(nil, "live/_definst_/cam"))
	f.Add([]byte{9, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		readRequest(bytes.NewReader(b))
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			if _, _, p, err := readFrame(r); err != nil {
				return
			} else if len(p) > MaxFrame {
				t.Fatal("frame over MaxFrame")
			}
		}
	})
}
