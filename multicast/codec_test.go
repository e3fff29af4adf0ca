package multicast

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVectors(t *testing.T) {
	for _, v := range vectors {
		b := unhex(t, v.hex)
		m, err := Decode(b)
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		if m.Type() != b[0] || m.Len() != len(b) || !bytes.Equal(m.Append(nil), b) {
			t.Errorf("%s: re-encodes to %x", v.name, m.Append(nil))
		}
		for i := range len(b) {
			m2, err := Decode(b[:i])
			if err == nil && m2.Type() != TypeFragmentsMap && m2.Type() != TypeStreamInfo && !isFragment(m2) {
				t.Errorf("%s: prefix %d decodes as %T", v.name, i, m2)
			}
		}
	}
}

func isFragment(m Message) bool { _, ok := m.(Fragment); return ok }

func TestStreamInfoFields(t *testing.T) {
	m, err := Decode(unhex(t, vectors[0].hex))
	if err != nil {
		t.Fatal(err)
	}
	s := m.(StreamInfo)
	if s.Name != "test" || s.Key[0] != 0x2b || s.Config() != DefaultConfig() {
		t.Errorf("%+v %+v", s, s.Config())
	}
	built := NewStreamInfo("test", s.Key, DefaultConfig())
	if !bytes.Equal(built.Append(nil), unhex(t, vectors[0].hex)) {
		t.Errorf("NewStreamInfo: %x", built.Append(nil))
	}
	all := DefaultConfig()
	all.SendToAll = true
	all.Window = 3 * time.Second
	got, err := ParseStreamInfo(NewStreamInfo("x", s.Key, all).Append(nil))
	if err != nil || got.Config() != all {
		t.Errorf("config round trip %+v %v", got.Config(), err)
	}
	e, err := Decode(unhex(t, "21 8123"))
	if err != nil || e.(StreamEnd).LastFragment != 0xA3 {
		t.Errorf("stream end %v %v", e, err)
	}
}

func TestFragmentFields(t *testing.T) {
	cases := []struct {
		hex     string
		want    Fragment
		payload string
	}{
		{"20 03 08 00000000 af00", Fragment{Marker: 0x20, ID: 3, MediaType: 8}, "af00"},
		{"30 43 01 09 000005a6 2701", Fragment{Marker: 0x30, ID: 0x43, Count: 1, MediaType: 9, Time: 0x5a6}, "2701"},
		{"30 44 02 12 00000000 0200", Fragment{Marker: 0x30, ID: 0x44, Count: 2, MediaType: 0x12}, "0200"},
		{"30 05 09 00000000 27", Fragment{Marker: 0x30, ID: 5, NoCount: true, MediaType: 9}, "27"},
		{"30 05 09 00", Fragment{Marker: 0x30, ID: 5, Count: 9}, ""}, // too short either way
		{"10 8123 01 d3", Fragment{Marker: 0x10, ID: 0xA3, Count: 1}, "d3"},
		{"00 7b f7", Fragment{Marker: 0x00, ID: 0x7b}, "f7"},
	}
	for _, c := range cases {
		f, err := ParseFragment(unhex(t, c.hex))
		if c.payload == "" && c.want.Count == 9 {
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: %v", c.hex, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.hex, err)
			continue
		}
		if !sameFragment(f, c.want) || !bytes.Equal(f.Payload, unhex(t, c.payload)) {
			t.Errorf("%s: %+v", c.hex, f)
		}
	}
}

func TestPushPull(t *testing.T) {
	p := Push{Mask: 0x08}
	if !p.Pushes(3) || !p.Pushes(11) || p.Pushes(4) {
		t.Error("Pushes")
	}
	if got := (Pull{ID: 300}).Append(nil); !bytes.Equal(got, []byte{0x2b, 0x82, 0x2c}) {
		t.Errorf("pull %x", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		hex  string
		want error
	}{
		{"", ErrTruncated},
		{"01", ErrType},
		{"23", ErrTruncated},
		{"230102", ErrTrailing},
		{"2b", ErrTruncated},
		{"2b0101", ErrTrailing},
		{"2bffffffffffffffffffff01", ErrFormat},
		{"21", ErrTruncated},
		{"210101", ErrTrailing},
		{"20", ErrTruncated},
		{"2001", ErrTruncated},
		{"20010800", ErrTruncated},
		{"1001", ErrTruncated},
		{"22", ErrTruncated},
		// Long form: name missing, empty, or key of the wrong size.
		{"21 2201" + strings.Repeat("00", 33) + "0102", ErrFormat},
		{"21 0100 2101" + strings.Repeat("00", 32) + "0102", ErrFormat},
		{"21 020041 2001" + strings.Repeat("00", 31) + "0102", ErrFormat},
		{"21 020041 2101" + strings.Repeat("00", 32) + "00", ErrFormat},
		{"21 020041 2101" + strings.Repeat("00", 32) + "05", ErrTruncated},
	}
	for _, c := range cases {
		if _, err := Decode(unhex(t, c.hex)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.hex, err, c.want)
		}
	}
}

// sameFragment compares everything but the payload.
func sameFragment(a, b Fragment) bool {
	a.Payload, b.Payload = nil, nil
	return a.Marker == b.Marker && a.ID == b.ID && a.Count == b.Count && a.NoCount == b.NoCount &&
		a.MediaType == b.MediaType && a.Time == b.Time
}
