package mediafile

import (
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		in     string
		format Format
		rel    string
	}{
		{"cam", FLV, "cam.flv"},
		{"cam.flv", FLV, "cam.flv"},
		{"flv:cam", FLV, "cam.flv"},
		{"/myVideo", FLV, "myVideo.flv"},
		{"dir/cam", FLV, "dir/cam.flv"},
		{"mp4:cam.mp4", MP4, "cam.mp4"},
		{"mp4:cam.f4v", MP4, "cam.f4v"},
		{"mp4:cam", MP4, "cam.mp4"},
		{"MP4:Cam.MOV", MP4, "Cam.MOV"},
		{"cam.mp4", MP4, "cam.mp4"},
		{"mp3:song", MP3, "song.mp3"},
		{"id3:song.mp3", MP3, "song.mp3"},
		{"song.mp3", MP3, "song.mp3"},
	} {
		n, err := ParseName(c.in)
		if err != nil || n.Format != c.format || n.Rel != c.rel {
			t.Errorf("%q: %+v %v", c.in, n, err)
		}
	}
	for _, bad := range []string{"", "/", "..", "../x", "a/../b", "a/./b", "a//b", "mp4:", "mp4:/", "x:y", "a\\b",
		"a\x00b", "\xff", strings.Repeat("a/", 20) + "b", strings.Repeat("x", 300)} {
		if n, err := ParseName(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, n)
		}
	}
	if _, err := FilePath("..", "_definst_", Name{FLV, "x.flv"}); err == nil {
		t.Error("app .. accepted")
	}
	if p, err := FilePath("vod", "_definst_", Name{FLV, "x.flv"}); err != nil || p != "vod/streams/_definst_/x.flv" {
		t.Errorf("%q %v", p, err)
	}
}

// FuzzParseName: whatever a client names, the path is relative, made of
// plain segments (no "..", ".", empty, control bytes or backslashes) and
// ends with the extension of its format.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"cam", "mp4:a/b.f4v", "../x", "/abs/x", "mp3:s", "a\\..\\b", "x:y:z"} {
		f.Add(s, "vod", "_definst_")
	}
	f.Fuzz(func(t *testing.T, name, app, inst string) {
		n, err := ParseName(name)
		if err != nil {
			return
		}
		p, err := FilePath(app, inst, n)
		if err != nil {
			return
		}
		if strings.HasPrefix(p, "/") {
			t.Fatalf("%q → absolute %q", name, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
				t.Fatalf("%q → %q", name, p)
			}
		}
	})
}
