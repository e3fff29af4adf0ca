package amfmsg

import (
	"errors"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

func TestCommandRoundTrip(t *testing.T) {
	info := amf.NewObject(amf.Property{Key: "level", Value: "status"}, amf.Property{Key: "code", Value: "NetStream.Play.Start"})
	c := &Command{Name: "onStatus", TxnID: 3, Args: []amf.Value{"x", info}}
	m, err := c.Message()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []media.Message{m, {Type: media.TypeCommandAMF3, Payload: append([]byte{0}, m.Payload...)}} {
		got, err := DecodeCommand(in)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := got.ArgString(0); got.Name != "onStatus" || got.TxnID != 3 || s != "x" || got.Arg(5) != nil {
			t.Fatalf("decoded %+v", got)
		}
		if level, code := got.Status(); level != "status" || code != "NetStream.Play.Start" {
			t.Fatalf("status %q %q", level, code)
		}
	}
}

// TestTolerance: a command with only a name decodes (transaction 0, no
// object), as Flash peers accept; what is not a command is refused.
func TestTolerance(t *testing.T) {
	b, _ := amf.AppendAMF0(nil, "ping")
	c, err := DecodeCommand(media.Message{Type: media.TypeCommandAMF0, Payload: b})
	if err != nil || c.Name != "ping" || c.TxnID != 0 || c.Object != nil || c.Args != nil {
		t.Fatalf("%+v, %v", c, err)
	}
	if _, err := DecodeCommand(media.Message{Type: media.TypeDataAMF0, Payload: b}); !errors.Is(err, ErrNotCommand) {
		t.Fatalf("data as command: %v", err)
	}
	if _, err := Values(media.Message{Type: media.TypeVideo, Payload: b}); !errors.Is(err, ErrNotAMF) {
		t.Fatalf("video as AMF: %v", err)
	}
	for _, bad := range []media.Message{
		{Type: media.TypeCommandAMF3, Payload: append([]byte{1}, b...)}, // no 0x00 format byte
		{Type: media.TypeCommandAMF0, Payload: []byte{0x00, 0, 0, 0, 0, 0, 0, 0, 0}},
		{Type: media.TypeCommandAMF0},
	} {
		if _, err := DecodeCommand(bad); err == nil {
			t.Errorf("% x accepted", bad.Payload)
		}
	}
	d, err := Data(7, "onMetaData", amf.NewObject(amf.Property{Key: "width", Value: 640.0}))
	if err != nil || d.Timestamp != 7 {
		t.Fatal(err)
	}
	if vs, err := Values(d); err != nil || len(vs) != 2 || vs[0] != "onMetaData" {
		t.Fatalf("%v, %v", vs, err)
	}
}
