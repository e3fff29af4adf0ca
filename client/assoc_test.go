package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// strictServer serves NetConnections with the flow rules of rtmfp-cpp's
// tcserver (checked against it on loopback, interop/FINDINGS.md): a flow
// that is not associated with the server's NetConnection return flow is a
// new NetConnection, so a NetStream flow (TC stream ID ≠ 0) without that
// association is rejected with a Flow Exception. With rejectStreams set it
// rejects every NetStream flow, as a server refusing the stream would. Like
// tcserver and MonaServer2 it handles a session's messages in arrival order
// across flows, and hands the published media on in that order.
type strictServer struct {
	rejectStreams bool
	// streamFlows receives, for each NetStream flow, whether it carried the
	// association.
	streamFlows chan bool
	// media receives the published audio, video and data in arrival order.
	media chan media.Message
	// commands receives the names of the commands received, in order.
	commands chan string
	// ncEnd receives how the client's NetConnection flow ended: io.EOF
	// when the client ended it, the session's error when the session
	// ended first.
	ncEnd chan error
}

func (sv *strictServer) serve(ctx context.Context, ep *rtmfp.Endpoint) {
	for {
		s, err := ep.Accept(ctx)
		if err != nil {
			return
		}
		go sv.session(ctx, s)
	}
}

func (sv *strictServer) session(ctx context.Context, s *rtmfp.Session) {
	var ncOut *rtmfp.SendFlow
	var ncIn *rtmfp.RecvFlow
	ncEnded := func(err error) {
		if ncIn != nil && sv.ncEnd != nil {
			sv.ncEnd <- err
		}
		ncIn = nil
	}
	out := map[*rtmfp.RecvFlow]*rtmfp.SendFlow{} // accepted flows and their return flows
	for {
		f, b, err := s.ReadInOrder(ctx)
		if f == nil {
			ncEnded(err)
			return
		}
		if err != nil {
			if f == ncIn {
				ncEnded(err)
			}
			continue
		}
		ret, known := out[f]
		if !known {
			id, ok := tcflow.ParseMetadata(f.Metadata())
			switch {
			case ok && f.Association() == nil && id == 0 && ncOut == nil:
				ncOut, err = s.OpenFlow(tcflow.Metadata(0), rtmfp.FlowOptions{ReturnFor: f})
				ret, ncIn = ncOut, f
			case ok && id != 0:
				assoc := ncOut != nil && f.Association() == ncOut
				sv.streamFlows <- assoc
				if !assoc || sv.rejectStreams {
					f.Reject(0)
					continue
				}
				ret, err = s.OpenFlow(tcflow.Metadata(id), rtmfp.FlowOptions{ReturnFor: f})
			default:
				f.Reject(0)
				continue
			}
			if err != nil {
				return
			}
			out[f] = ret
		}
		sv.handle(ctx, ret, b)
	}
}

// handle answers connect, createStream and publish, and passes media on.
func (sv *strictServer) handle(ctx context.Context, out *rtmfp.SendFlow, b []byte) {
	m, err := tcflow.Decode(b)
	if err != nil {
		return
	}
	if m.Type == media.TypeAudio || m.Type == media.TypeVideo || m.IsData() {
		if sv.media != nil {
			sv.media <- media.Message{Type: m.Type, Timestamp: m.Timestamp, Payload: append([]byte(nil), m.Payload...)}
		}
		return
	}
	cmd, err := netstream.DecodeCommand(m)
	if err != nil {
		return
	}
	if sv.commands != nil {
		sv.commands <- cmd.Name
	}
	var reply media.Message
	switch cmd.Name {
	case "connect":
		reply, err = netstream.EncodeCommand("_result", cmd.TxnID, nil, netstream.Info(netstream.ConnectSuccess, "ok"))
	case "createStream":
		reply, err = netstream.EncodeCommand("_result", cmd.TxnID, nil, 1.0)
	case "publish":
		reply, err = netstream.EncodeCommand("onStatus", 0, nil, netstream.Info(netstream.PublishStart, "ok"))
	default:
		return
	}
	if err == nil {
		tcflow.Write(ctx, out, reply, 0)
	}
}

// strictConn runs a strictServer on a simulated network and connects a
// client to it.
func strictConn(t *testing.T, sv *strictServer, link simnet.LinkConfig) *Conn {
	n := simnet.New(simnet.Config{Seed: 3, Link: link})
	t.Cleanup(func() { n.Close() })
	sh, _ := n.NewHost()
	sc, _ := sh.Listen(1935)
	p, err := flash.New(flash.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := rtmfp.NewEndpoint(sc, rtmfp.Config{Profile: p, Logger: quiet, CloseTimeout: 300 * time.Millisecond,
		InOrder: func(*rtmfp.Session) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go sv.serve(ctx, ep)
	h, _ := n.NewHost()
	c, _ := h.Listen(0)
	conn, err := Dial(ctx, fmt.Sprintf("rtmfp://%s/live", sc.AddrPort()), Options{Endpoint: newEndpoint(t, c), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// lan is the simulated link of these tests.
var lan = simnet.LinkConfig{Delay: 20 * time.Millisecond}

func mustCreateStream(t *testing.T, ctx context.Context, c *Conn) *Stream {
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestStreamFlowsAssociated checks that every NetStream flow the client
// opens (commands, audio, video) carries the return flow association with
// the server's NetConnection flow (RFC 7425 §5.3.2), so that a server with
// tcserver's rules takes them.
func TestStreamFlowsAssociated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sv := &strictServer{streamFlows: make(chan bool, 16)}
		c := strictConn(t, sv, lan)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := mustCreateStream(t, ctx, c)
		if err := st.Publish(ctx, "cam", "live"); err != nil {
			t.Fatalf("publish to a server with tcserver's flow rules: %v", err)
		}
		for _, m := range []media.Message{
			{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1}},
			{Type: media.TypeAudio, Payload: []byte{0xaf, 0, 0x12, 0x10}},
		} {
			if err := st.WriteMedia(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 { // commands, video, audio
			select {
			case assoc := <-sv.streamFlows:
				if !assoc {
					t.Fatal("a NetStream flow without the association with the server's NetConnection flow")
				}
			case <-time.After(time.Minute):
				t.Fatalf("%d NetStream flows reached the server, want 3 (commands, video, audio)", i)
			}
		}
	})
}

// TestPublishRejectedFlow checks that a publish whose flow the server
// rejects fails with the flow exception as soon as it arrives, not when the
// caller's deadline passes.
func TestPublishRejectedFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := strictConn(t, &strictServer{rejectStreams: true, streamFlows: make(chan bool, 16)}, lan)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := mustCreateStream(t, ctx, c)
		start := time.Now()
		err := st.Publish(ctx, "cam", "live")
		var fe *rtmfp.FlowException
		if !errors.As(err, &fe) {
			t.Fatalf("publish on a rejected flow: %v, want a *rtmfp.FlowException", err)
		}
		// Simulated time: one round trip of 40 ms (plus the flow's first
		// retransmission at most), nowhere near the minute allowed.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("rejection reported after %v", d)
		}
		// The same for play.
		if err := mustCreateStream(t, ctx, c).Play(ctx, "cam"); !errors.As(err, &fe) {
			t.Fatalf("play on a rejected flow: %v, want a *rtmfp.FlowException", err)
		}
	})
}

// TestPublishFirstKeyFrameFirst publishes a real H.264/AAC file as fast as
// the client takes it (as a relay catching up does) and checks the order in
// which the server gets the messages: nothing written after the first video
// key frame arrives before it, so a server that starts the stream's
// timeline at the first frame (MonaServer2) keeps that key frame. Without
// the client holding later messages back, audio (which has precedence)
// overtakes the key frame's fragments.
func TestPublishFirstKeyFrameFirst(t *testing.T) {
	msgs := loadFLV(t)
	first := -1
	for i, m := range msgs {
		if m.Type == media.TypeVideo && m.IsKeyframe() && !m.IsSequenceHeader() {
			first = i
			break
		}
	}
	if first < 0 || first == len(msgs)-1 {
		t.Fatal("the test file has no key frame followed by other messages")
	}
	synctest.Test(t, func(t *testing.T) {
		sv := &strictServer{streamFlows: make(chan bool, 16), media: make(chan media.Message, len(msgs))}
		c := strictConn(t, sv, simnet.LinkConfig{Delay: 20 * time.Millisecond, Bandwidth: 4_000_000})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := mustCreateStream(t, ctx, c)
		if err := st.Publish(ctx, "cam", "live"); err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := st.WriteMedia(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		// Arrivals, each named by its position in the file.
		var order []int
		next := map[string]int{}
		for range msgs {
			var m media.Message
			select {
			case m = <-sv.media:
			case <-time.After(time.Minute):
				t.Fatalf("%d of %d messages arrived", len(order), len(msgs))
			}
			key := fmt.Sprintf("%d/%d/%d", m.Type, m.Timestamp, len(m.Payload))
			i := -1
			for j := next[key]; j < len(msgs); j++ {
				if w := msgs[j]; w.Type == m.Type && w.Timestamp == m.Timestamp && len(w.Payload) == len(m.Payload) {
					i = j
					break
				}
			}
			if i < 0 {
				t.Fatalf("arrival %d: a message the client did not write (%s)", len(order), key)
			}
			next[key] = i + 1
			order = append(order, i)
		}
		for _, i := range order {
			if i == first {
				break
			}
			if i > first {
				t.Fatalf("message %d (type %d at %d ms), written after the first key frame (message %d at %d ms), arrived before it",
					i, msgs[i].Type, msgs[i].Timestamp, first, msgs[first].Timestamp)
			}
		}
	})
}

// TestCloseKeepsNetConnectionFlow checks how the client ends a connection:
// closeStream and deleteStream are delivered, in that order, and the
// NetConnection flow is not ended on its own before the session closes, as
// neither librtmfp nor rtmfp-cpp's clients do (recordings a, d, e): a
// client that ends it makes MonaServer2 free the session's flows twice and
// abort (interop/FINDINGS.md).
func TestCloseKeepsNetConnectionFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sv := &strictServer{streamFlows: make(chan bool, 16), commands: make(chan string, 16), ncEnd: make(chan error, 1)}
		c := strictConn(t, sv, lan)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := mustCreateStream(t, ctx, c)
		if err := st.Publish(ctx, "cam", "live"); err != nil {
			t.Fatal(err)
		}
		if err := st.WriteMedia(ctx, media.Message{Type: media.TypeAudio, Payload: []byte{0xaf, 1, 2}}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(ctx); err != nil {
			t.Fatal(err)
		}
		c.Close()
		var end error
		select {
		case end = <-sv.ncEnd:
		case <-time.After(time.Minute):
			t.Fatal("the server never saw the connection end")
		}
		if errors.Is(end, io.EOF) {
			t.Fatal("the client ended its NetConnection flow before closing the session")
		}
		close(sv.commands)
		var got []string
		for name := range sv.commands {
			got = append(got, name)
		}
		want := []string{"connect", "createStream", "publish", "closeStream", "deleteStream"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("commands %v, want %v", got, want)
		}
	})
}
