package interop

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/internal/traceflow"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
)

// tcMessage is one decoded message of a TC flow (RFC 7425 §5.1).
type tcMessage struct {
	traceflow.FlowMessage
	Stream uint32
	Msg    media.Message
	Cmd    *netstream.Command // for command messages
	Data   []amf.Value        // for data messages
}

// loadMessages reassembles every flow of the recording and decodes its
// messages: all flows must be TC flows, every message must decode as a TC
// message, and every command and data message as AMF.
func loadMessages(t *testing.T) []tcMessage {
	t.Helper()
	ms, other := tcMessages(t, scenario)
	if len(other) > 0 {
		fm := other[0]
		t.Fatalf("#%d: flow %d has metadata %q, not TC", fm.DatagramIndex, fm.FlowID, fm.Metadata)
	}
	return ms
}

// tcMessages reassembles every flow of a recording and decodes the
// messages of its TC flows; the messages of other flows (NetGroup, multicast)
// come back undecoded.
func tcMessages(t *testing.T, name string) ([]tcMessage, []traceflow.FlowMessage) {
	t.Helper()
	fms := flowMessages(t, name)
	out := make([]tcMessage, 0, len(fms))
	var other []traceflow.FlowMessage
	for _, fm := range fms {
		id, ok := tcflow.ParseMetadata(fm.Metadata)
		if !ok {
			other = append(other, fm)
			continue
		}
		m, err := tcflow.Decode(fm.Data)
		if err != nil {
			t.Fatalf("#%d: %v", fm.DatagramIndex, err)
		}
		tm := tcMessage{FlowMessage: fm, Stream: id, Msg: m}
		switch {
		case m.Type == media.TypeCommandAMF0 || m.Type == media.TypeCommandAMF3:
			c, err := netstream.DecodeCommand(m)
			if err != nil {
				t.Fatalf("#%d %s→%s: %v", fm.DatagramIndex, fm.FromRole, fm.ToRole, err)
			}
			tm.Cmd = &c
		case m.IsData():
			vs, err := netstream.DecodeData(m)
			if err != nil || len(vs) == 0 {
				t.Fatalf("#%d %s→%s: data message: %v", fm.DatagramIndex, fm.FromRole, fm.ToRole, err)
			}
			tm.Data = vs
		case m.Type == media.TypeAudio, m.Type == media.TypeVideo, m.Type == media.TypeUserControl:
		default:
			t.Fatalf("#%d %s→%s: unexpected message type %d", fm.DatagramIndex, fm.FromRole, fm.ToRole, m.Type)
		}
		out = append(out, tm)
	}
	return out, other
}

// flowCache keeps each recording's reassembled flows: several tests read
// them.
var flowCache struct {
	sync.Mutex
	m map[string][]traceflow.FlowMessage
}

// flowMessages returns the reassembled user messages of a recording.
func flowMessages(t *testing.T, name string) []traceflow.FlowMessage {
	t.Helper()
	flowCache.Lock()
	defer flowCache.Unlock()
	if fms, ok := flowCache.m[name]; ok {
		return fms
	}
	fms, err := traceflow.ExtractFlowMessages(name)
	if err != nil {
		t.Fatal(err)
	}
	if flowCache.m == nil {
		flowCache.m = map[string][]traceflow.FlowMessage{}
	}
	flowCache.m[name] = fms
	return fms
}

// between returns the messages from one role to another, in capture order.
func between(ms []tcMessage, from, to string) []tcMessage {
	var out []tcMessage
	for _, m := range ms {
		if m.FromRole == from && m.ToRole == to {
			out = append(out, m)
		}
	}
	return out
}

// String renders a message for failure reports.
func (m tcMessage) String() string {
	switch {
	case m.Cmd != nil:
		return fmt.Sprintf("#%d stream %d %s(%v)", m.DatagramIndex, m.Stream, m.Cmd.Name, m.Cmd.Args)
	case m.Data != nil:
		return fmt.Sprintf("#%d stream %d data %v", m.DatagramIndex, m.Stream, m.Data[0])
	}
	return fmt.Sprintf("#%d stream %d type %d", m.DatagramIndex, m.Stream, m.Msg.Type)
}

// control returns the non-media messages of a list.
func control(ms []tcMessage) []tcMessage {
	var out []tcMessage
	for _, m := range ms {
		if m.Msg.Type != media.TypeAudio && m.Msg.Type != media.TypeVideo && !isMetadata(m) {
			out = append(out, m)
		}
	}
	return out
}

func isMetadata(m tcMessage) bool {
	if m.Data == nil {
		return false
	}
	h, _ := m.Data[0].(string)
	return h == "@setDataFrame" || h == "onMetaData"
}

// wantCommand checks that m is command name on stream, and returns it.
func wantCommand(t *testing.T, m tcMessage, stream uint32, name string) *netstream.Command {
	t.Helper()
	if m.Cmd == nil || m.Cmd.Name != name || m.Stream != stream {
		t.Fatalf("got %v, want %s on stream %d", m, name, stream)
	}
	return m.Cmd
}

// wantStatus checks that m is an info object (argument 0 of _result or
// onStatus) with code and the level FMS gives it, and returns the object.
func wantStatus(t *testing.T, m tcMessage, stream uint32, name, code string) *amf.Object {
	t.Helper()
	c := wantCommand(t, m, stream, name)
	info, ok := amf.AsObject(c.Arg(0))
	if !ok {
		t.Fatalf("%v: argument 0 is %T, not an info object", m, c.Arg(0))
	}
	level, _ := info.Get("level")
	got, _ := info.Get("code")
	if got != code || level != netstream.LevelStatus {
		t.Fatalf("%v: level %v code %v, want status %s", m, level, got, code)
	}
	return info
}

// wantUserControl checks that m is user control event ev with args.
func wantUserControl(t *testing.T, m tcMessage, stream uint32, ev uint16, args ...uint32) {
	t.Helper()
	want := binary.BigEndian.AppendUint16(nil, ev)
	for _, a := range args {
		want = binary.BigEndian.AppendUint32(want, a)
	}
	if m.Msg.Type != media.TypeUserControl || m.Stream != stream || string(m.Msg.Payload) != string(want) {
		t.Fatalf("got %v payload %x, want user control %x on stream %d", m, m.Msg.Payload, want, stream)
	}
}

// TestTraceConnect: both TestClients connected to rtmfp://…/live with
// objectEncoding 3; rtmfpd answered Connect.Success echoing it, then the
// Set Keepalive Timers event (15 s server, 10 s peer), and the result of
// createStream. The clients accepted: each went on with setPeerInfo and
// createStream after the answer, and with publish or play on stream 1.
func TestTraceConnect(t *testing.T) {
	ms := loadMessages(t)
	for _, role := range []string{rolePublisher, rolePlayer} {
		t.Run(role, func(t *testing.T) {
			up, down := control(between(ms, role, roleServer)), control(between(ms, roleServer, role))
			if len(up) < 4 || len(down) < 3 {
				t.Fatalf("%d control messages up, %d down", len(up), len(down))
			}
			connect := wantCommand(t, up[0], 0, "connect")
			args, _ := amf.AsObject(connect.Object)
			app, _ := args.Get("app")
			tcURL, _ := args.Get("tcUrl")
			enc, _ := args.Get("objectEncoding")
			if app != "live" || enc != float64(3) {
				t.Fatalf("connect app %v objectEncoding %v (tcUrl %v)", app, enc, tcURL)
			}
			t.Logf("connect %v flashVer=%v", tcURL, func() any { v, _ := args.Get("flashVer"); return v }())

			res := wantCommand(t, down[0], 0, "_result")
			if res.TxnID != connect.TxnID {
				t.Fatalf("_result for transaction %v, connect was %v", res.TxnID, connect.TxnID)
			}
			info := wantStatus(t, down[0], 0, "_result", netstream.ConnectSuccess)
			if v, _ := info.Get("objectEncoding"); v != enc {
				t.Fatalf("Connect.Success objectEncoding %v, client asked %v", v, enc)
			}
			wantUserControl(t, down[1], 0, eventSetKeepalive, 15000, 10000)
			if down[1].DatagramIndex != down[0].DatagramIndex {
				t.Errorf("Set Keepalive in #%d, Connect.Success in #%d: Mona sends them together", down[1].DatagramIndex, down[0].DatagramIndex)
			}

			peerInfo := wantCommand(t, up[1], 0, "setPeerInfo")
			if len(peerInfo.Args) == 0 && peerInfo.Object == nil {
				t.Error("setPeerInfo without addresses")
			}
			create := wantCommand(t, up[2], 0, "createStream")
			if up[1].DatagramIndex <= down[0].DatagramIndex {
				t.Fatal("client went on before rtmfpd's Connect.Success")
			}
			created := wantCommand(t, down[2], 0, "_result")
			if created.TxnID != create.TxnID || created.Arg(0) != float64(1) {
				t.Fatalf("createStream result %v for transaction %v, want stream 1 for %v", created.Args, created.TxnID, create.TxnID)
			}
			next := "publish"
			if role == rolePlayer {
				next = "play"
			}
			c := wantCommand(t, up[3], 1, next)
			if name, _ := c.ArgString(0); name != "test" || up[3].DatagramIndex <= down[2].DatagramIndex {
				t.Fatalf("%v after the createStream result #%d", up[3], down[2].DatagramIndex)
			}
		})
	}
}
