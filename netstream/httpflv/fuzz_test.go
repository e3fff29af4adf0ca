package httpflv

import (
	"strings"
	"testing"
)

// FuzzParsePath: any path is split without a panic, and what is accepted
// names non-empty segments without slashes.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/live/cam.flv", "/live/inst/cam.flv", "/.flv", "//.flv", "/a/../b.flv", "/a/b/c/d.flv", "/a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		app, inst, name, err := ParsePath(p)
		if err != nil {
			return
		}
		for _, s := range []string{app, inst, name} {
			if s == "" || strings.Contains(s, "/") || s == ".." {
				t.Fatalf("%q gave %q %q %q", p, app, inst, name)
			}
		}
	})
}
