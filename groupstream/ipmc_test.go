package groupstream

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/internal/netns"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/introducer"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netgroup"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/rtmfpnc"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

func TestIPMCFormat(t *testing.T) {
	var key multicast.StreamKey
	key[0], key[31] = 1, 2
	frag := multicast.Fragment{Marker: multicast.TypeFragmentWhole, ID: 77, MediaType: media.TypeVideo, Time: 40, Payload: []byte{0x17, 1, 2}}.Append(nil)
	pkt := encodeIPMC(nil, "cam", key, frag)
	name, k, f, err := decodeIPMC(bytes.Clone(pkt))
	if err != nil || name != "cam" || k != key || !bytes.Equal(f, frag) {
		t.Fatalf("%q %x %x %v", name, k, f, err)
	}
	for i := range pkt {
		bad := bytes.Clone(pkt)
		bad[i] ^= 0x40
		if _, _, _, err := decodeIPMC(bad); err == nil && i >= 4 {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, _, _, err := decodeIPMC(pkt[:len(pkt)-1]); err == nil {
		t.Fatal("truncated datagram accepted")
	}
}

func FuzzIPMC(f *testing.F) {
	f.Add(encodeIPMC(nil, "cam", multicast.StreamKey{}, multicast.Fragment{Marker: multicast.TypeFragmentWhole, ID: 1, MediaType: 9, Payload: []byte{1}}.Append(nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, key, frag, err := decodeIPMC(b)
		if err != nil {
			return
		}
		again, k, f2, err := decodeIPMC(encodeIPMC(nil, name, key, frag))
		if err != nil || again != name || k != key || !bytes.Equal(f2, frag) {
			t.Fatal("round trip")
		}
	})
}

// TestIPMulticastFusion runs, in a private network namespace, the server
// publishing a group stream both into P2P multicast and to native IP
// multicast (IPv4 and IPv6), with 3 client members that listen on the
// multicast address. 5% of the multicast datagrams are dropped: the
// members fill the gaps over P2P, and their statistics say how much came
// each way.
func TestIPMulticastFusion(t *testing.T) {
	for _, c := range []struct{ name, group string }{
		{"ipv4", "224.0.0.254:30000"},
		{"ipv6", "[ff03::ffff]:30000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			netns.Run(t, func(t *testing.T) { fusion(t, c.group) })
		})
	}
}

func fusion(t *testing.T, groupAddr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The server: introducer, NetConnections, and a group member.
	// Every member shares 127.0.0.1: lift the per-address limits.
	in := introducer.New(introducer.Config{Logger: quiet, IntroductionRate: 1e6, IntroductionBurst: 1e6})
	var sep *rtmfp.Endpoint
	sep = rtmfptest.Loopback(t, rtmfp.Config{OnIntroduction: in.Hook(&sep), StartupRate: 1e6, StartupBurst: 1e6})
	ns := netstream.NewServer(netstream.Config{Logger: quiet})
	nc := rtmfpnc.New(rtmfpnc.Config{NS: ns, Logger: quiet, OnConn: in.AddConn, OnGroupFlow: in.HandleGroupFlow})
	go netgroup.Serve(ctx, sep, func(s *rtmfp.Session) { go nc.HandleSession(s) })
	sg := New(quiet)
	defer sg.Close()
	sm, err := netgroup.Join(ctx, netgroup.Config{Endpoint: sep, Spec: testSpec, Logger: quiet,
		Rendezvous: netgroup.ServerRendezvous{Introducer: in, Endpoint: sep}, Handler: sg})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	url := fmt.Sprintf("rtmfp://%s/app", sep.LocalAddr())
	ga := netip.MustParseAddrPort(groupAddr)

	// Three members play the stream from P2P and from IP multicast.
	var pbs []*Playback
	for range 3 {
		ep := rtmfptest.Loopback(t, rtmfp.Config{StartupRate: 1e6, StartupBurst: 1e6})
		c, err := client.Dial(ctx, url, client.Options{Endpoint: ep, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		go netgroup.Serve(ctx, ep, nil)
		g := New(quiet)
		defer g.Close()
		m, err := netgroup.Join(ctx, netgroup.Config{Endpoint: ep, Spec: testSpec, Logger: quiet,
			Rendezvous: netgroup.ClientRendezvous{Conn: c}, Handler: g})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		pb, err := g.Play("cam", multicast.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := pb.ListenIPMulticast([]netip.AddrPort{ga}, ipmulticast.ReceiverOptions{}); err != nil {
			t.Fatal(err)
		}
		pbs = append(pbs, pb)
	}
	// Let the mesh form (each member reaches the server member).
	deadline := time.Now().Add(20 * time.Second)
	for len(sm.Neighbors()) < 3 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(sm.Neighbors()) < 3 {
		t.Fatalf("server member has %d neighbours", len(sm.Neighbors()))
	}
	// Bad addresses are refused; the real one is accepted.
	if _, err := sg.Publish("cam", multicast.Config{}, IPMulticastPublishAddress("10.0.0.1", "30000", IPMulticastOptions{})); err == nil {
		t.Fatal("a unicast address accepted")
	}
	pub, err := sg.Publish("cam", multicast.Config{}, IPMulticastPublishAddress(groupAddr, "", IPMulticastOptions{Loopback: true, Interface: "lo"}))
	if err != nil {
		t.Fatal(err)
	}
	// Once publishing, the address can be set to what it is, not changed
	// (seed 002: setIPMulticastPublishAddress raises an Error then).
	if err := pub.SetIPMulticastPublishAddress(groupAddr, "", IPMulticastOptions{}); err != nil {
		t.Fatalf("setting the same address: %v", err)
	}
	if err := pub.SetIPMulticastPublishAddress("239.0.0.9:30000", "", IPMulticastOptions{}); err != ErrIPMulticastChange {
		t.Fatalf("changing the address while publishing: %v", err)
	}
	// Drop 5% of the IP multicast datagrams (every 20th fragment).
	pub.ipmc.Load().drop = func(id uint64) bool { return id%20 == 7 }

	msgs := synthetic(300_000, 5*time.Second)
	publishPaced(t, msgs, func(m media.Message) error { return pub.WriteMedia(ctx, m) })
	if err := pub.SetIPMulticastPublishAddress("", "", IPMulticastOptions{}); err != ErrIPMulticastChange {
		t.Fatalf("clearing the address while publishing: %v", err)
	}
	for i, pb := range pbs {
		got := readUntilIdle(pb, 4*time.Second)
		first := -1
		for k, m := range msgs {
			if len(got) > 0 && m.Timestamp == got[0].Timestamp && m.Type == got[0].Type {
				first = k
				break
			}
		}
		if first < 0 {
			t.Fatalf("member %d got nothing; stats %+v", i, pb.Stats())
		}
		want := msgs[first:]
		if len(got) < len(want)*999/1000 {
			t.Fatalf("member %d: %d of %d messages", i, len(got), len(want))
		}
		for k := range got {
			if k >= len(want) || !bytes.Equal(got[k].Payload, want[k].Payload) {
				t.Fatalf("member %d message %d differs", i, k)
			}
		}
		st, ip := pb.Stats(), pb.IPMulticastStats()
		if st.FragmentsReceivedFromIPMulticast == 0 || ip.Datagrams == 0 {
			t.Fatalf("member %d took nothing from IP multicast: %+v", i, ip)
		}
		fromPeers := st.FragmentsPushedFromPeers + st.FragmentsRequestedFromPeers
		if fromPeers == 0 {
			t.Fatalf("member %d filled no gap over P2P", i)
		}
		t.Logf("member %d: %d messages; fragments from IP multicast %d, pushed by peers %d, pulled from peers %d",
			i, len(got), st.FragmentsReceivedFromIPMulticast, st.FragmentsPushedFromPeers, st.FragmentsRequestedFromPeers)
	}
	t.Logf("sender: %+v", pub.IPMulticastStats())
}

// TestIPMulticastSendErrorReported: when native IP multicast sends fail
// (a route makes the group unreachable, as on a host with no multicast
// route), OnIPMulticastSendError hears it once with the error, not once
// per datagram, and the sender's counters hold every failure. It runs in a
// private network namespace.
func TestIPMulticastSendErrorReported(t *testing.T) {
	netns.Run(t, func(t *testing.T) {
		if err := netns.AddUnreachableRoute(netip.MustParsePrefix("239.255.0.0/16")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sg := New(quiet)
		defer sg.Close()
		pub, err := sg.Publish("cam", multicast.Config{}, IPMulticastPublishAddress("239.255.0.1:30000", "", IPMulticastOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		reports := make(chan error, 16)
		pub.OnIPMulticastSendError(func(err error) { reports <- err })
		for _, m := range synthetic(300_000, time.Second) {
			if err := pub.WriteMedia(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case err := <-reports:
			if err == nil || !strings.Contains(err.Error(), "unreachable") && !strings.Contains(err.Error(), "no route") {
				t.Fatalf("reported %v", err)
			}
		case <-ctx.Done():
			t.Fatalf("no send error reported; sender %+v", pub.IPMulticastStats())
		}
		// Wait until more sends failed after the report: still one report.
		for pub.IPMulticastStats().Errors < 10 {
			select {
			case <-ctx.Done():
				t.Fatalf("sender %+v", pub.IPMulticastStats())
			case <-time.After(10 * time.Millisecond):
			}
		}
		if n := len(reports); n != 0 {
			t.Fatalf("%d more reports for one outage", n)
		}
		if st := pub.IPMulticastStats(); st.Datagrams != 0 || st.LastError == "" {
			t.Fatalf("sender %+v", st)
		}
	})
}
