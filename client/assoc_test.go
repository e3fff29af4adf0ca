package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// strictServer serves NetConnections with the flow rules of rtmfp-cpp's
// tcserver (checked against it on loopback, interop/FINDINGS.md): a flow
// that is not associated with the server's NetConnection return flow is a
// new NetConnection, so a NetStream flow (TC stream ID ≠ 0) without that
// association is rejected with a Flow Exception. With rejectStreams set it
// rejects every NetStream flow, as a server refusing the stream would.
type strictServer struct {
	rejectStreams bool
	// streamFlows receives, for each NetStream flow, whether it carried the
	// association.
	streamFlows chan bool
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
	for {
		f, err := s.AcceptFlow(ctx)
		if err != nil {
			return
		}
		id, ok := tcflow.ParseMetadata(f.Metadata())
		switch {
		case !ok:
			f.Reject(0)
		case f.Association() == nil && id == 0 && ncOut == nil:
			ncOut, err = s.OpenFlow(tcflow.Metadata(0), rtmfp.FlowOptions{ReturnFor: f})
			if err != nil {
				return
			}
			go sv.read(ctx, s, f, ncOut, 0)
		case id != 0:
			assoc := ncOut != nil && f.Association() == ncOut
			sv.streamFlows <- assoc
			if !assoc || sv.rejectStreams {
				f.Reject(0)
				continue
			}
			out, err := s.OpenFlow(tcflow.Metadata(id), rtmfp.FlowOptions{ReturnFor: f})
			if err != nil {
				return
			}
			go sv.read(ctx, s, f, out, id)
		default:
			f.Reject(0)
		}
	}
}

// read answers connect, createStream and publish.
func (sv *strictServer) read(ctx context.Context, s *rtmfp.Session, in *rtmfp.RecvFlow, out *rtmfp.SendFlow, id uint32) {
	for {
		b, err := in.ReadMessage(ctx)
		if err != nil {
			return
		}
		m, err := tcflow.Decode(b)
		if err != nil {
			continue
		}
		cmd, err := netstream.DecodeCommand(m)
		if err != nil {
			continue
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
			continue
		}
		if err == nil {
			tcflow.Write(ctx, out, reply, 0)
		}
	}
}

// strictConn runs a strictServer on a simulated network and connects a
// client to it.
func strictConn(t *testing.T, rejectStreams bool) (*strictServer, *Conn) {
	sv := &strictServer{rejectStreams: rejectStreams, streamFlows: make(chan bool, 16)}
	n := simnet.New(simnet.Config{Seed: 3, Link: simnet.LinkConfig{Delay: 20 * time.Millisecond}})
	t.Cleanup(func() { n.Close() })
	sh, _ := n.NewHost()
	sc, _ := sh.Listen(1935)
	ep := newEndpoint(t, sc)
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
	return sv, conn
}

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
		sv, c := strictConn(t, false)
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
		_, c := strictConn(t, true)
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
