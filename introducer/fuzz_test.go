package introducer

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// What a record of FuzzIntroducer does, by its flow number.
const (
	fuzzGC1        = iota // a message on the client's first group-control flow
	fuzzGC2               // a message on a second group-control flow
	fuzzIHello            // a startup datagram: one IHello chunk of this value (epdLength, EPD, tag)
	fuzzIHelloPeer        // an IHello naming the connected peer, with this tag
	fuzzIHelloSelf        // an IHello naming the client itself, with this tag
	fuzzRecordKinds
)

func introducerSeeds() [][]byte {
	specA, _ := group.ParseSpec("G:027f0201010103010c050e74657374011b00")
	specB, _ := group.ParseSpec("G:027f0201010103010c060e6f74686572011b00")
	r := func(kind int, msg []byte) rtmfptest.Record { return rtmfptest.Record{Flow: kind, Msg: msg} }
	tag := []byte("0123456789abcdef")
	url := vlu.AppendOption(nil, 0x0A, []byte("rtmfp://server/app"))
	return [][]byte{
		rtmfptest.JoinRecords(r(fuzzGC1, group.Join{GroupID: specA.GroupID()}.Append(nil)), r(fuzzIHelloPeer, tag),
			r(fuzzGC2, group.Join{GroupID: specB.GroupID()}.Append(nil)), r(fuzzGC1, []byte{1, 2, 3}), r(fuzzIHelloSelf, tag)),
		rtmfptest.JoinRecords(r(fuzzIHello, append(append(vlu.Append(nil, uint64(len(url))), url...), tag...)),
			r(fuzzIHelloPeer, nil), r(fuzzIHelloPeer, make([]byte, 200)), r(fuzzGC1, []byte{0x01})),
	}
}

// FuzzIntroducer: a client that joins groups with arbitrary group-control
// messages (rtmfp-facts §6.3) while it, or anyone spoofing, sends arbitrary
// IHellos to the introducer, some naming another connected client
// (introductions, RFC 7016 §3.5.1.4-§3.5.1.5). The introducer must not
// panic; the other client must stay connected and get no more Forwarded
// IHellos than its limit; once the fuzzing client is gone, none of its
// memberships may remain.
func FuzzIntroducer(f *testing.F) {
	for _, s := range introducerSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) { fuzzIntroducer(t, data) })
	})
}

// fuzzIntroducer runs the records of data and checks what FuzzIntroducer
// promises; it returns the introducer's counters from before the client
// left.
func fuzzIntroducer(t *testing.T, data []byte) Stats {
	n := simnet.New(simnet.Config{Seed: 1, Link: simnet.LinkConfig{Delay: time.Millisecond}})
	defer n.Close()
	sh, _ := n.NewHost()
	in := New(Config{Logger: quiet})
	var ep *rtmfp.Endpoint
	ep = rtmfptest.PlainEndpoint(t, sh, 1935, "server", rtmfp.Config{OnIntroduction: in.Hook(&ep),
		InOrder: func(s *rtmfp.Session) bool { return !s.PeerMode() }})
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet, OnConn: in.AddConn, OnGroupMessage: in.GroupMessage}).Serve(ctx, ep)
	addr := ep.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	url := "rtmfp://" + addr.String() + "/app"
	dialPlain := func(name string) *client.Conn {
		h, _ := n.NewHost()
		c, err := client.Dial(ctx, url, client.Options{Endpoint: rtmfptest.PlainEndpoint(t, h, 0, name, rtmfp.Config{}), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	peer := dialPlain("peer")
	fuzzer := dialPlain("fuzzer")
	rh, _ := n.NewHost()
	raw := simnet.MustListen(t, rh, 0)
	ihello := func(epd, tag []byte) {
		raw.WriteToUDPAddrPort(rtmfptest.StartupPacketWith(ep.Profile().StartupCodec(), wire.IHello{EPD: epd, Tag: tag}.Append(nil)), addr)
	}
	start := time.Now()
	var gc [2]*rtmfp.SendFlow
	for _, rec := range rtmfptest.SplitRecords(data, fuzzRecordKinds) {
		switch rec.Flow {
		case fuzzGC1, fuzzGC2:
			f := &gc[rec.Flow]
			if *f == nil {
				var err error
				if *f, err = fuzzer.Session().OpenFlow([]byte("GC"), rtmfp.FlowOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			(*f).Write(rec.Msg)
		case fuzzIHello:
			var c [wire.ChunkHeaderLen]byte
			c[0], c[1], c[2] = wire.TypeIHello, byte(len(rec.Msg)>>8), byte(len(rec.Msg))
			raw.WriteToUDPAddrPort(rtmfptest.StartupPacketWith(ep.Profile().StartupCodec(), append(c[:], rec.Msg...)), addr)
		case fuzzIHelloPeer:
			ihello(flash.PeerEPD(peer.Session().Endpoint().PeerID()), rec.Msg)
		case fuzzIHelloSelf:
			ihello(flash.PeerEPD(fuzzer.Session().Endpoint().PeerID()), rec.Msg)
		}
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
	}
	time.Sleep(time.Second)
	synctest.Wait()
	if got, limit := peer.Session().Endpoint().Stats().FIHellosIn, 20+5*uint64(time.Since(start)/time.Second+1); got > limit {
		t.Errorf("the peer got %d Forwarded IHellos in %v, more than %d", got, time.Since(start), limit)
	}
	during := in.Stats()
	fuzzer.Close()
	fuzzer.Session().Endpoint().Close()
	time.Sleep(10 * time.Second)
	synctest.Wait()
	select {
	case <-peer.Done():
		t.Fatalf("the peer's session ended: %v", peer.Session().Err())
	default:
	}
	if st := in.Stats(); st.Peers != 1 || st.Members != 0 || st.Groups != 0 {
		t.Fatalf("after the client left: %+v", st)
	}
	return during
}

// TestIntroducerFuzzSeeds: the first seed joins two groups and asks for an
// introduction, as the fuzzer's starting point.
func TestIntroducerFuzzSeeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := fuzzIntroducer(t, introducerSeeds()[0])
		if st.Joins != 2 || st.Members != 2 || st.Introductions != 2 || st.ForwardedIHellos != 2 {
			t.Fatalf("introducer counters %+v, want two joins and two introductions", st)
		}
	})
}
