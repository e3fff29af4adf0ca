package rtmfpnc_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/amf/amfmsg"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
)

// The flows of a fuzzed client: its NetConnection flow, three NetStream
// flows and a flow with metadata that is not TC.
var fuzzFlows = [][]byte{tcflow.Metadata(0), tcflow.Metadata(1), tcflow.Metadata(2), tcflow.Metadata(0x7fffffff), []byte("XY")}

func tc(typ uint8, payload []byte) []byte {
	return tcflow.Append(nil, media.Message{Type: typ, Payload: payload})
}

func command(name string, txn float64, obj amf.Value, args ...amf.Value) []byte {
	m, err := (&amfmsg.Command{Name: name, TxnID: txn, Object: obj, Args: args}).Message()
	if err != nil {
		panic(err)
	}
	return tc(m.Type, m.Payload)
}

// ncSeeds are client sessions: connect, then publish with media, play,
// setPeerInfo, calls and stream commands, and malformed messages.
func ncSeeds() [][]byte {
	connect := command("connect", 1, amf.NewObject(amf.Property{Key: "app", Value: "live"}, amf.Property{Key: "objectEncoding", Value: 3.0}))
	r := func(flow int, msg []byte) rtmfptest.Record { return rtmfptest.Record{Flow: flow, Msg: msg} }
	meta, _ := amfmsg.Data(0, "@setDataFrame", "onMetaData", amf.NewObject(amf.Property{Key: "width", Value: 320.0}))
	return [][]byte{
		rtmfptest.JoinRecords(r(0, connect), r(0, command("createStream", 2, nil)),
			r(1, command("publish", 0, nil, "s", "live")), r(1, tc(meta.Type, meta.Payload)),
			r(1, tc(media.TypeVideo, []byte{0x17, 0, 0, 0, 0, 1, 2})), r(1, tc(media.TypeAudio, []byte{0xaf, 0, 0x12, 0x10})),
			r(0, command("createStream", 3, nil)), r(2, command("play", 0, nil, "s")),
			r(2, command("receiveVideo", 0, nil, false)), r(1, command("closeStream", 0, nil)),
			r(0, command("deleteStream", 4, nil, 1.0))),
		rtmfptest.JoinRecords(r(0, connect), r(0, command("setPeerInfo", 0, nil, "10.0.0.1:1935", "[::1]:1935")),
			r(0, command("someMethod", 5, nil, 1.0, "x")), r(3, command("play", 0, nil, "s")),
			r(4, []byte("hello"))),
		rtmfptest.JoinRecords(r(1, command("play", 0, nil, "s")), r(0, []byte{0x14, 0, 0}), r(0, connect),
			r(0, tc(media.TypeCommandAMF3, append([]byte{0}, connect[5:]...))), r(0, tc(media.TypeCommandAMF0, []byte{0x02, 0xff, 0xff, 'x'}))),
	}
}

// FuzzNetConnection: a client session that sends anything on its
// NetConnection and NetStream flows (RFC 7425 §5) to the RTMFP side of the
// NetConnection server. Whatever it sends, the server must not panic, and
// once the client is gone nothing of its connection must remain.
func FuzzNetConnection(f *testing.F) {
	for _, s := range ncSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) { fuzzClient(t, data) })
	})
}

// fuzzClient connects a client to a NetConnection server on a simulated
// network, sends the records of data, leaves, and checks that the server
// kept nothing of it. It returns the server's counters.
func fuzzClient(t *testing.T, data []byte) netstream.ServerStats {
	n := simnet.New(simnet.Config{Seed: 1, Link: simnet.LinkConfig{Delay: time.Millisecond}})
	defer n.Close()
	sh, _ := n.NewHost()
	ch, _ := n.NewHost()
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	srv := rtmfptest.PlainEndpoint(t, sh, 1935, "server", rtmfp.Config{InOrder: func(s *rtmfp.Session) bool { return !s.PeerMode() }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet}).Serve(ctx, srv)
	cli := rtmfptest.PlainEndpoint(t, ch, 0, "client", rtmfp.Config{})
	addr := srv.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	s, err := cli.Connect(ctx, flash.URLEPD("rtmfp://server/live"), addr)
	if err != nil {
		t.Fatal(err)
	}
	go drain(ctx, s)
	flows := make([]*rtmfp.SendFlow, len(fuzzFlows))
	for _, rec := range rtmfptest.SplitRecords(data, len(fuzzFlows)) {
		if flows[rec.Flow] == nil {
			if flows[rec.Flow], err = s.OpenFlow(fuzzFlows[rec.Flow], rtmfp.FlowOptions{}); err != nil {
				break
			}
		}
		if flows[rec.Flow].Write(rec.Msg) != nil {
			break
		}
		// One message after the other, as a client waits for answers:
		// RTMFP orders no flow against another.
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
	}
	time.Sleep(time.Second)
	synctest.Wait()
	st := ns.Stats()
	s.Abort()
	time.Sleep(10 * time.Second)
	synctest.Wait()
	if c := ns.Stats().Conns; c != 0 {
		t.Fatalf("%d connections left after the client left", c)
	}
	return st
}

// drain reads and drops what the server sends on the flows it opens.
func drain(ctx context.Context, s *rtmfp.Session) {
	for {
		f, err := s.AcceptFlow(ctx)
		if err != nil {
			return
		}
		go func() {
			for {
				if _, err := f.ReadMessage(ctx); err != nil {
					return
				}
			}
		}()
	}
}

// TestNetConnectionSeeds: the first fuzz seed connects, publishes and
// plays, so the fuzzer starts from a session that reaches deep.
func TestNetConnectionSeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := fuzzClient(t, ncSeeds()[0])
		if st.Connects != 1 || st.Publishes != 1 || st.Plays != 1 || st.Conns != 1 {
			t.Fatalf("server counters %+v, want one connection, publish and play", st)
		}
	})
}
