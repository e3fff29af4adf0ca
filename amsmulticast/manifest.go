package amsmulticast

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// F4MNamespace is the F4M manifest's XML namespace (OSMF's ManifestParser).
const F4MNamespace = "http://ns.adobe.com/f4m/1.0"

// Manifest is the F4M manifest of a multicast event: one live media whose
// url is the RTMFP connection URL (rtmfp://host/multicast), with the
// groupspec players join and the group stream they play.
type Manifest struct {
	ID         string // <id>: the stream name
	URL        string // the media's url: rtmfp://host[:port]/app
	Groupspec  string // what players join: the spec without authorizations
	StreamName string // the group stream's name
}

// f4m is the manifest's XML form.
type f4m struct {
	XMLName    xml.Name `xml:"manifest"`
	NS         string   `xml:"xmlns,attr"`
	ID         string   `xml:"id,omitempty"`
	StreamType string   `xml:"streamType"`
	Media      []media  `xml:"media"`
}

// media carries both attribute sets: OSMF's (groupspec,
// multicastStreamName) and FMS 4.0.0's configurator's (rtmfpGroupspec,
// rtmfpStreamName).
type media struct {
	URL                 string `xml:"url,attr"`
	Groupspec           string `xml:"groupspec,attr,omitempty"`
	MulticastStreamName string `xml:"multicastStreamName,attr,omitempty"`
	RTMFPGroupspec      string `xml:"rtmfpGroupspec,attr,omitempty"`
	RTMFPStreamName     string `xml:"rtmfpStreamName,attr,omitempty"`
}

// Marshal writes the manifest (UTF-8, with the XML declaration).
func (m Manifest) Marshal() ([]byte, error) {
	doc := f4m{NS: F4MNamespace, ID: m.ID, StreamType: "live", Media: []media{{URL: m.URL,
		Groupspec: m.Groupspec, MulticastStreamName: m.StreamName,
		RTMFPGroupspec: m.Groupspec, RTMFPStreamName: m.StreamName}}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("f4m: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// maxManifest bounds what ParseManifest reads.
const maxManifest = 1 << 20

// ParseManifest reads a multicast manifest as OSMF does: the F4M
// namespace, one media element with a url, and groupspec and
// multicastStreamName together (OSMF's names), or else rtmfpGroupspec and
// rtmfpStreamName (FMS 4.0.0's configurator's).
func ParseManifest(b []byte) (Manifest, error) {
	if len(b) > maxManifest {
		return Manifest{}, errors.New("f4m: manifest larger than 1 MiB")
	}
	var doc struct {
		XMLName    xml.Name `xml:"manifest"`
		ID         string   `xml:"id"`
		StreamType string   `xml:"streamType"`
		Media      []media  `xml:"media"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		return Manifest{}, fmt.Errorf("f4m: %w", err)
	}
	if doc.XMLName.Space != F4MNamespace {
		return Manifest{}, fmt.Errorf("f4m: namespace %q, want %q", doc.XMLName.Space, F4MNamespace)
	}
	if len(doc.Media) != 1 {
		return Manifest{}, fmt.Errorf("f4m: %d media elements, want 1 (multicast is a single stream)", len(doc.Media))
	}
	md := doc.Media[0]
	if md.URL == "" {
		return Manifest{}, errors.New("f4m: media has no url")
	}
	m := Manifest{ID: doc.ID, URL: md.URL, Groupspec: md.Groupspec, StreamName: md.MulticastStreamName}
	if m.Groupspec == "" && m.StreamName == "" {
		m.Groupspec, m.StreamName = md.RTMFPGroupspec, md.RTMFPStreamName
	}
	if (m.Groupspec == "") != (m.StreamName == "") {
		return Manifest{}, errors.New("f4m: groupspec and multicastStreamName go together")
	}
	if m.Groupspec == "" {
		return Manifest{}, errors.New("f4m: not a multicast manifest (no groupspec)")
	}
	if !strings.HasPrefix(m.URL, "rtmfp://") {
		return Manifest{}, fmt.Errorf("f4m: media url %q is not an rtmfp:// URL", m.URL)
	}
	return m, nil
}
