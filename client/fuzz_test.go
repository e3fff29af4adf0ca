package client

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// The flows of a fuzzed server, each associated with the client's
// NetConnection flow, and a record that sends nothing but waits for the
// client's next message.
var serverFlows = [][]byte{tcflow.Metadata(0), tcflow.Metadata(1), tcflow.Metadata(2), []byte("GC"), []byte("XY")}

const waitForClient = 5

// answer encodes a command as a TC message.
func answer(name string, txn float64, obj amf.Value, args ...amf.Value) []byte {
	m, err := netstream.EncodeCommand(name, txn, obj, args...)
	if err != nil {
		panic(err)
	}
	return tcflow.Append(nil, m)
}

// answerSeeds are servers that accept (connect, createStream, play, a
// group join, a call), refuse, answer twice, or say nothing.
func answerSeeds() [][]byte {
	r := func(flow int, msg []byte) rtmfptest.Record { return rtmfptest.Record{Flow: flow, Msg: msg} }
	wait := r(waitForClient, nil)
	ok := answer("_result", 1, nil, netstream.Info(netstream.ConnectSuccess, "ok"))
	var member group.Member
	member.PeerID[0] = 1
	video := tcflow.Append(nil, media.Message{Type: media.TypeVideo, Payload: []byte{0x17, 1, 0, 0, 0, 9}})
	return [][]byte{
		rtmfptest.JoinRecords(wait, r(0, ok), wait, r(0, answer("_result", 2, nil, 1.0)), wait,
			r(1, answer("onStatus", 0, nil, netstream.Info(netstream.PlayStart, "go"))), r(1, video), r(1, video),
			wait, r(3, member.Append(nil)), wait, r(0, answer("_result", 3, nil, "x"))),
		rtmfptest.JoinRecords(wait, r(0, answer("_error", 1, nil, netstream.Info(netstream.ConnectRejected, "no")))),
		rtmfptest.JoinRecords(wait, r(0, ok), r(0, ok), r(0, ok), r(0, ok), wait, r(0, answer("_result", 2, nil, -1.0)),
			r(0, answer("close", 0, nil))),
		rtmfptest.JoinRecords(r(4, []byte("x")), r(2, video), wait, r(0, []byte{0x14, 0, 0, 0, 0, 0x02, 0xff})),
	}
}

// FuzzClient: the Go client (Dial, CreateStream, Play, JoinGroup, Call,
// Close) against a server that answers anything, on any of its flows, in
// any order. The client must not panic and must not hang: every call ends
// with a result or an error within its deadline, and once the connection
// is closed none of its goroutines remains.
func FuzzClient(f *testing.F) {
	for _, s := range answerSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) { fuzzClient(t, data) })
	})
}

// fuzzClient runs the client against the scripted server and returns what
// the client got through.
func fuzzClient(t *testing.T, data []byte) (steps []string) {
	n := simnet.New(simnet.Config{Seed: 1, Link: simnet.LinkConfig{Delay: time.Millisecond}})
	defer n.Close()
	sh, _ := n.NewHost()
	ch, _ := n.NewHost()
	srv := rtmfptest.PlainEndpoint(t, sh, 1935, "server", rtmfp.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan struct{}, 1024)
	go scriptedServer(ctx, srv, rtmfptest.SplitRecords(data, len(serverFlows)+1), heard)

	addr := srv.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	step := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }
	sctx, stop := step(5 * time.Second)
	c, err := Dial(sctx, "rtmfp://"+addr.String()+"/app", Options{Endpoint: rtmfptest.PlainEndpoint(t, ch, 0, "client", rtmfp.Config{}), Logger: quiet})
	stop()
	if err != nil {
		return
	}
	steps = append(steps, "connect")
	defer func() {
		c.Close()
		c.Session().Endpoint().Close()
	}()
	sctx, stop = step(time.Second)
	st, err := c.CreateStream(sctx)
	stop()
	if err == nil {
		steps = append(steps, "createStream")
		sctx, stop = step(time.Second)
		if st.Play(sctx, "s") == nil {
			steps = append(steps, "play")
			for {
				if _, err := st.ReadMedia(sctx); err != nil {
					break
				}
				steps = append(steps, "media")
			}
		}
		stop()
	}
	spec, _ := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
	if g, err := c.JoinGroup(ctx, spec.GroupID()); err == nil {
		sctx, stop = step(time.Second)
		select {
		case <-g.Members():
			steps = append(steps, "member")
		case <-sctx.Done():
		}
		stop()
	}
	sctx, stop = step(time.Second)
	if _, err := c.Call(sctx, "x"); err == nil {
		steps = append(steps, "call")
	}
	stop()
	return steps
}

// scriptedServer accepts one session, reads whatever the client sends, and
// sends the records on its flows (associated with the client's
// NetConnection flow, or its group-control flow for "GC"); a waitForClient
// record waits (up to a second) for the client's next message.
func scriptedServer(ctx context.Context, ep *rtmfp.Endpoint, recs []rtmfptest.Record, heard chan struct{}) {
	s, err := ep.Accept(ctx)
	if err != nil {
		return
	}
	defer s.Close()
	var nc *rtmfp.RecvFlow
	for nc == nil {
		f, err := s.AcceptFlow(ctx)
		if err != nil {
			return
		}
		if id, ok := tcflow.ParseMetadata(f.Metadata()); ok && id == 0 {
			nc = f
		}
		go read(ctx, f, heard)
	}
	gcIn := make(chan *rtmfp.RecvFlow, 1) // the client's group-control flow
	go func() {
		for {
			f, err := s.AcceptFlow(ctx)
			if err != nil {
				return
			}
			if string(f.Metadata()) == "GC" {
				select {
				case gcIn <- f:
				default:
				}
			}
			go read(ctx, f, heard)
		}
	}()
	flows := make([]*rtmfp.SendFlow, len(serverFlows))
	for _, rec := range recs {
		if rec.Flow == waitForClient {
			wait, cancel := context.WithTimeout(ctx, time.Second)
			select {
			case <-heard:
			case <-wait.Done():
			}
			cancel()
			continue
		}
		if flows[rec.Flow] == nil {
			to := nc
			if string(serverFlows[rec.Flow]) == "GC" {
				select {
				case to = <-gcIn:
				default:
				}
			}
			if flows[rec.Flow], err = s.OpenFlow(serverFlows[rec.Flow], rtmfp.FlowOptions{ReturnFor: to}); err != nil {
				return
			}
		}
		if flows[rec.Flow].Write(rec.Msg) != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	<-ctx.Done()
}

func read(ctx context.Context, f *rtmfp.RecvFlow, heard chan struct{}) {
	for {
		if _, err := f.ReadMessage(ctx); err != nil {
			return
		}
		select {
		case heard <- struct{}{}:
		default:
		}
	}
}

// TestClientFuzzSeeds: the first seed takes the client through every step,
// the fuzzer's starting point.
func TestClientFuzzSeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := fuzzClient(t, answerSeeds()[0])
		want := []string{"connect", "createStream", "play", "media", "media", "member", "call"}
		if len(got) != len(want) {
			t.Fatalf("steps %v, want %v", got, want)
		}
	})
}

// TestDuplicateAnswers: a server that answers one call several times must
// not block the reader of the connection (which would stall every later
// answer, status and frame): the first answer counts, the others are
// dropped.
func TestDuplicateAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Conn{pending: map[float64]chan callResult{}, streams: map[uint32]*Stream{}}
		ch := make(chan callResult, 1)
		c.pending[7] = ch // a call waiting for its answer, not scheduled yet
		m, _ := netstream.EncodeCommand("_result", 7, nil, "first")
		done := make(chan struct{})
		go func() {
			for range 3 {
				c.dispatch(0, m)
			}
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("the reader blocked on a duplicate answer")
		}
		if r := <-ch; !r.ok {
			t.Fatalf("answer %+v", r)
		}
	})
}
