package relay

import (
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmp"
)

// FuzzResolve: any target URL and stream name either fail to resolve or
// give a connection URL the RTMP client accepts (for rtmp://) and a stream
// name that is not empty; nothing panics. Seeds are TestResolve's URLs.
func FuzzResolve(f *testing.F) {
	for _, u := range []string{"rtmp://origin2/live/{name}", "rtmp://origin2:1936/live/inst/{name}_hd",
		"rtmfp://[::1]:1935/{app}/{instance}/{name}", "rtmp://h/live/{name}?key=s3cret", "rtmp://h/live", "rtmp://h/%zz/x"} {
		f.Add(u, "cam", "record")
	}
	f.Add("rtmp://h/live/{name}", "?x", "")
	f.Fuzz(func(t *testing.T, url, name, mode string) {
		r, err := Target{URL: url, Mode: mode}.resolve("live", "_definst_", name)
		if err != nil {
			return
		}
		if r.name == "" || strings.HasPrefix(r.name, "?") {
			t.Fatalf("%q: empty stream name %q", url, r.name)
		}
		if r.scheme == "rtmp" {
			if _, _, _, err := rtmp.ParseURL(r.connURL); err != nil {
				t.Fatalf("%q resolved to %q, which the RTMP client refuses: %v", url, r.connURL, err)
			}
		}
	})
}
