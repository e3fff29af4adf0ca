package rawpkt

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

func TestStartupRoundTrip(t *testing.T) {
	ih := wire.IHello{EPD: []byte{5, 4, 0x0a, 'a', 'p', 'p'}, Tag: bytes.Repeat([]byte{7}, 16)}
	d := SealStartup(0, 99, ih.Append(nil))
	keep := bytes.Clone(d)
	ssid, chunks, err := OpenStartup(d)
	if err != nil || ssid != 0 {
		t.Fatal(ssid, err)
	}
	if !bytes.Equal(d, keep) {
		t.Error("Open changed the datagram")
	}
	r := wire.NewChunkReader(chunks)
	if !r.Next() || r.Type() != wire.TypeIHello {
		t.Fatal("no IHello")
	}
	got, err := wire.ParseIHello(r.Value())
	if err != nil || !bytes.Equal(got.EPD, ih.EPD) || !bytes.Equal(got.Tag, ih.Tag) {
		t.Fatalf("%+v %v", got, err)
	}
	if r.Next() {
		t.Error("a second chunk")
	}
	d = SealStartup(0x01020304, 1, ih.Append(nil))
	if ssid, _, _ := OpenStartup(d); ssid != 0x01020304 {
		t.Errorf("ssid %x", ssid)
	}
	if _, _, err := OpenStartup(d[:10]); err != ErrShort {
		t.Error(err)
	}
	d[20] ^= 1
	if _, _, err := OpenStartup(d); err == nil {
		t.Error("a corrupted packet opened")
	}
}

func FuzzOpenStartup(f *testing.F) {
	f.Add(SealStartup(0, 1, wire.IHello{EPD: []byte{1, 0x0a}, Tag: make([]byte, 16)}.Append(nil)))
	f.Fuzz(func(t *testing.T, d []byte) {
		_, chunks, err := OpenStartup(d)
		if err != nil {
			return
		}
		r := wire.NewChunkReader(chunks)
		for r.Next() {
		}
	})
}
