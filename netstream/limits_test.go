package netstream

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
)

func TestClip(t *testing.T) {
	if Clip("short") != "short" {
		t.Fatal("short text changed")
	}
	long := strings.Repeat("é", 1000) // two bytes each
	c := Clip(long)
	if len(c) > clipBytes+32 || !strings.HasSuffix(c, "…(2000 bytes)") || !strings.HasPrefix(long, strings.TrimSuffix(c, "…(2000 bytes)")) {
		t.Fatalf("Clip = %q", c)
	}
}

// sentBytes is the size of everything sent to the client.
func (f *fakeTransport) sentBytes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ms := range f.sent {
		for _, m := range ms {
			n += len(m.Payload)
		}
	}
	return n
}

// TestLongNames: names over their caps are refused as the command is
// parsed, with a status or _error that gives their length, and neither the
// answers nor the log quote more than a short prefix of them. (A 4 MiB
// stream name used to be echoed in four status events and one log line.)
func TestLongNames(t *testing.T) {
	var logs bytes.Buffer
	srv := NewServer(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c, ft := connectConn(t, srv, "c")
	huge := strings.Repeat("n", 4<<20)
	before := ft.sentBytes()
	c.HandleMessage(1, cmdMsg(t, "play", 0, nil, huge))
	c.HandleMessage(1, cmdMsg(t, "publish", 0, nil, huge, "live"))
	c.HandleMessage(0, cmdMsg(t, "FCPublish", 3, nil, huge))
	c.HandleMessage(0, cmdMsg(t, "releaseStream", 4, nil, huge))
	c.HandleMessage(0, cmdMsg(t, strings.Repeat("m", 1<<20), 5, nil))
	codes := ft.codes(1)
	if len(codes) != 2 || codes[0] != PlayFailed || codes[1] != PublishBadName {
		t.Fatalf("stream 1 answered %v", codes)
	}
	if got := ft.codes(0)[1:]; len(got) != 3 || got[0] != CallFailed || got[1] != CallFailed || got[2] != CallFailed {
		t.Fatalf("stream 0 answered %v", got)
	}
	if n := ft.sentBytes() - before; n > 2000 {
		t.Fatalf("%d bytes of answers to five over-long names", n)
	}
	if logs.Len() > 2000 {
		t.Fatalf("%d bytes of log for five over-long names", logs.Len())
	}
	if s := srv.Registry.Streams(); len(s) != 0 {
		t.Fatalf("streams created: %d", len(s))
	}
	// A name at the cap is served.
	ok := strings.Repeat("o", MaxNameBytes)
	c.HandleMessage(1, cmdMsg(t, "play", 0, nil, ok))
	ft.waitCode(t, 1, PlayStart)
}

// TestConnectCaps: a connect object with a field over its cap, too many
// fields or too many arguments is refused with
// NetConnection.Connect.Rejected, quoting no more than the field's name.
func TestConnectCaps(t *testing.T) {
	long := strings.Repeat("u", MaxURLBytes+1)
	many := amf.NewObject()
	for i := range MaxConnectFields + 1 {
		many.Set(strings.Repeat("k", i+1), 1.0)
	}
	for _, tc := range []struct {
		name string
		obj  *amf.Object
		args []amf.Value
	}{
		{"tcUrl", amf.NewObject(amf.Property{Key: "app", Value: "live"}, amf.Property{Key: "tcUrl", Value: long}), nil},
		{"app", amf.NewObject(amf.Property{Key: "app", Value: strings.Repeat("a", MaxNameBytes+1)}), nil},
		{"fields", many, nil},
		{"args", amf.NewObject(amf.Property{Key: "app", Value: "live"}), make([]amf.Value, MaxConnectArgs+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer(Config{Logger: quiet})
			ft := newFake("rtmp")
			c := srv.NewConn(ft, "c")
			c.HandleMessage(0, cmdMsg(t, "connect", 1, tc.obj, tc.args...))
			if got := ft.codes(0); len(got) != 1 || got[0] != ConnectRejected || c.Connected() || ft.closed == nil {
				t.Fatalf("answered %v, connected %v, closed %v", got, c.Connected(), ft.closed)
			}
			if n := ft.sentBytes(); n > 1000 {
				t.Fatalf("%d bytes of answer", n)
			}
		})
	}
}

// TestLongDataHandler: a data message with an over-long handler name is
// not passed on to players.
func TestLongDataHandler(t *testing.T) {
	srv := NewServer(Config{Logger: quiet})
	pub, _ := connectConn(t, srv, "pub")
	pub.HandleMessage(1, cmdMsg(t, "publish", 0, nil, "s"))
	pl, ft := connectConn(t, srv, "pl")
	pl.HandleMessage(1, cmdMsg(t, "play", 0, nil, "s"))
	ft.waitCode(t, 1, PlayStart)
	bad, _ := EncodeData(strings.Repeat("h", MaxCommandBytes+1), 1.0)
	good, _ := EncodeData("onCuePoint", 1.0)
	pub.HandleMessage(1, bad)
	pub.HandleMessage(1, good)
	m := <-ft.media[1].ch
	vs, _ := DecodeData(m)
	if h, _ := vs[0].(string); h != "onCuePoint" {
		t.Fatalf("player got %q", Clip(h))
	}
}
