package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// confine points every group file at a file inside the repository's test
// data (a real FLV) or at a missing one: the fuzzer must not make
// validation open devices or FIFOs of the host.
func confine(c *Config, flv, missing string) {
	for i := range c.Groups {
		for j := range c.Groups[i].Files {
			f := &c.Groups[i].Files[j]
			if f.Path == "" {
				continue
			}
			if len(f.Path)%2 == 0 {
				f.Path = flv
			} else {
				f.Path = missing
			}
		}
	}
}

// FuzzConfig decodes and validates arbitrary configuration files (rtmfpd
// -config, -check-config). Neither step may panic, and a configuration that
// validates must encode to JSON, decode and validate again. Seeds: an empty
// file and every JSON example of the README.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{}`))
	if b, err := os.ReadFile("../README.md"); err == nil {
		for _, blk := range strings.Split(string(b), "```json\n")[1:] {
			js, _, _ := strings.Cut(blk, "```")
			f.Add([]byte(js))
		}
	}
	flv, err := filepath.Abs("../testdata/media/test_6s.flv")
	if err != nil {
		f.Fatal(err)
	}
	missing := filepath.Join(f.TempDir(), "missing.flv")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			return
		}
		confine(&c, flv, missing)
		if err := c.Validate(); err != nil {
			if err.Error() == "" {
				t.Fatal("an error that says nothing")
			}
			return
		}
		enc, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("a valid configuration does not encode: %v", err)
		}
		c2, err := Decode(enc)
		if err != nil {
			t.Fatalf("a valid configuration does not decode again: %v\n%s", err, enc)
		}
		if err := c2.Validate(); err != nil {
			t.Fatalf("a valid configuration is not valid again: %v\n%s", err, enc)
		}
	})
}
