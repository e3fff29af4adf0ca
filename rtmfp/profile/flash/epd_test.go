package flash

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

const testPeerID = "7cffa9a12c86ad18ae28286b21feb889600b84a60c1cd920bbefa76bd82babaf"

func TestParseEPD(t *testing.T) {
	id, _ := profile.ParsePeerID(testPeerID)
	for _, c := range []struct {
		name string
		epd  []byte
		want profile.EPD
	}{
		{"librtmfp path", []byte("\x05\x0alive"), profile.EPD{Ancillary: "live"}},
		{"rtmfp-cpp URL", URLEPD("rtmfp://127.0.0.1:19365/live"), profile.EPD{Ancillary: "rtmfp://127.0.0.1:19365/live"}},
		{"peer ID", mustHex("210f" + testPeerID), profile.EPD{HasPeerID: true, PeerID: id}},
		{"hostname and URL", []byte("\x05\x00host\x03\x0a/a"), profile.EPD{Hostname: "host", Ancillary: "/a"}},
		{"unknown option skipped", []byte("\x02\x33\x01\x03\x0a/a"), profile.EPD{Ancillary: "/a"}},
	} {
		got, err := ParseEPD(c.epd)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		c.want.Raw = c.epd
		if got.Ancillary != c.want.Ancillary || got.Hostname != c.want.Hostname || got.HasPeerID != c.want.HasPeerID ||
			got.PeerID != c.want.PeerID || !bytes.Equal(got.Raw, c.epd) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	if !bytes.Equal(PeerEPD(id), mustHex("210f"+testPeerID)) {
		t.Error("PeerEPD")
	}
	for _, bad := range [][]byte{nil, {0x00}, mustHex("200f" + testPeerID[:62]), []byte("\x02\x33\x01"), []byte("\x05\x0ali"), make([]byte, profile.MaxEPD+1)} {
		if _, err := ParseEPD(bad); err == nil {
			t.Errorf("EPD %x accepted", bad)
		}
	}
}

func FuzzParseEPD(f *testing.F) {
	f.Add([]byte("\x05\x0alive"))
	f.Add(URLEPD("rtmfp://127.0.0.1:19365/live"))
	f.Add(mustHex("210f" + testPeerID))
	f.Add([]byte("\x05\x00host\x00\x03\x0a/a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEPD(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Raw, b) {
			t.Fatal("Raw is not the input")
		}
		if !e.HasPeerID && e.Ancillary == "" && e.Hostname == "" && !bytes.Contains(b, []byte{0x00}) && !bytes.Contains(b, []byte{0x0a}) {
			t.Fatal("accepted a discriminator that names nothing")
		}
		if e.HasPeerID {
			again, err := ParseEPD(PeerEPD(e.PeerID))
			if err != nil || again.PeerID != e.PeerID {
				t.Fatal("peer ID does not round-trip")
			}
		}
		if e.Ancillary != "" {
			again, err := ParseEPD(URLEPD(e.Ancillary))
			if err != nil || again.Ancillary != e.Ancillary {
				t.Fatal("ancillary data does not round-trip")
			}
		}
	})
}
