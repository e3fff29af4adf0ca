package amsmulticast

import (
	"strings"
	"testing"
)

func TestManifest(t *testing.T) {
	m := Manifest{ID: "live<stream>", URL: "rtmfp://media.example.com/multicast", Groupspec: p2pSpec, StreamName: "live<stream>"}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>`,
		`<manifest xmlns="http://ns.adobe.com/f4m/1.0">`,
		`<streamType>live</streamType>`,
		`url="rtmfp://media.example.com/multicast"`,
		`groupspec="` + p2pSpec + `"`, `multicastStreamName="live&lt;stream&gt;"`,
		`rtmfpGroupspec="` + p2pSpec + `"`, `rtmfpStreamName="live&lt;stream&gt;"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("manifest lacks %s:\n%s", want, s)
		}
	}
	got, err := ParseManifest(b)
	if err != nil || got != m {
		t.Fatalf("parsed %+v, %v; want %+v", got, err, m)
	}
	// FMS 4.0.0's names alone are read too.
	fms400 := `<manifest xmlns="http://ns.adobe.com/f4m/1.0"><id>x</id><streamType>live</streamType>` +
		`<media url="rtmfp://h/multicast" rtmfpGroupspec="` + p2pSpec + `" rtmfpStreamName="x"/></manifest>`
	if got, err := ParseManifest([]byte(fms400)); err != nil || got.Groupspec != p2pSpec || got.StreamName != "x" {
		t.Fatalf("FMS 4.0.0 names: %+v, %v", got, err)
	}
	for _, bad := range []string{
		`<manifest><media url="rtmfp://h/a" groupspec="G:00" multicastStreamName="x"/></manifest>`,                                    // no namespace
		`<manifest xmlns="http://ns.adobe.com/f4m/1.0"><media groupspec="G:00" multicastStreamName="x"/></manifest>`,                  // no url
		`<manifest xmlns="http://ns.adobe.com/f4m/1.0"><media url="rtmfp://h/a" groupspec="G:00"/></manifest>`,                        // one without the other
		`<manifest xmlns="http://ns.adobe.com/f4m/1.0"><media url="rtmp://h/a" groupspec="G:00" multicastStreamName="x"/></manifest>`, // not rtmfp
		`<manifest xmlns="http://ns.adobe.com/f4m/1.0"><media url="rtmfp://h/a"/></manifest>`,                                         // not multicast
		`<manifest`,
	} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzManifest(f *testing.F) {
	f.Add("livestream", "rtmfp://h/multicast", p2pSpec)
	f.Add("\x00<&\"'\xff", "rtmfp://[::1]:1935/m", authSpec)
	f.Fuzz(func(t *testing.T, name, url, spec string) {
		m := Manifest{ID: name, URL: url, Groupspec: spec, StreamName: name}
		b, err := m.Marshal()
		if err != nil {
			return
		}
		if _, err := ParseManifest(b); err != nil && strings.HasPrefix(url, "rtmfp://") && spec != "" && name != "" && validXML(name+url+spec) {
			t.Fatalf("manifest of %+v does not parse: %v\n%s", m, err, b)
		}
	})
}

// validXML reports whether s has only characters XML 1.0 allows as they
// are (the encoder replaces the others, so they do not round-trip).
func validXML(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}
