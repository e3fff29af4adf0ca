package tcflow

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

func TestMetadata(t *testing.T) {
	for _, c := range []struct {
		id   uint32
		want []byte
	}{{0, []byte("TC\x04\x00")}, {1, []byte("TC\x04\x01")}, {2000001, []byte("TC\x04\xfa\x89\x01")}} {
		got := Metadata(c.id)
		if !bytes.Equal(got, c.want) {
			t.Fatalf("Metadata(%d) = %x", c.id, got)
		}
		id, ok := ParseMetadata(got)
		if !ok || id != c.id {
			t.Fatalf("ParseMetadata(%x) = %d %v", got, id, ok)
		}
	}
	for _, bad := range [][]byte{nil, []byte("GC"), []byte("TC\x04"), []byte("TC\x04\xff\xff\xff\xff\xff\x7f")} {
		if _, ok := ParseMetadata(bad); ok {
			t.Fatalf("accepted %x", bad)
		}
	}
}

func TestMessages(t *testing.T) {
	m := media.Message{Type: media.TypeCommandAMF0, Timestamp: 0x01020304, Payload: []byte{2, 0, 1, 'x'}}
	b := Append(nil, m)
	if !bytes.Equal(b, []byte{0x14, 1, 2, 3, 4, 2, 0, 1, 'x'}) {
		t.Fatalf("%x", b)
	}
	got, err := Decode(b)
	if err != nil || got.Type != m.Type || got.Timestamp != m.Timestamp || !bytes.Equal(got.Payload, m.Payload) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := Decode(b[:4]); err != ErrShort {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x14, 0, 0, 0, 0, 2, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(Append(nil, m), b) {
			t.Fatal("round trip")
		}
	})
}
