package main

import (
	"encoding/hex"
	"net/netip"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/clitest"
	"github.com/rtmfpd/rtmfpd/internal/netns"
)

func TestIPMCListenAddresses(t *testing.T) {
	const plain = "G:027f0201010103010c050e74657374011b00"
	ap := netip.MustParseAddrPort("224.0.0.254:30000")
	v := group.AppendIPMulticast(nil, ap)
	opt := append([]byte{byte(1 + len(v)), group.OptIPMulticast}, v...)
	withIPMC := plain + hex.EncodeToString(opt)

	for _, c := range []struct {
		flag, spec string
		want       []netip.AddrPort
	}{
		{"", plain, nil},
		{"", withIPMC, []netip.AddrPort{ap}},
		{"off", withIPMC, nil},
		{"239.1.2.3:5000, [ff03::1]:6000", plain, []netip.AddrPort{netip.MustParseAddrPort("239.1.2.3:5000"), netip.MustParseAddrPort("[ff03::1]:6000")}},
	} {
		got, err := ipmcListenAddresses(c.flag, c.spec)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ipmcListenAddresses(%q, %q) = %v, %v; want %v", c.flag, c.spec, got, err, c.want)
		}
	}
	for _, bad := range []string{"10.0.0.1:5", "224.0.0.1", "nonsense"} {
		if _, err := ipmcListenAddresses(bad, plain); err == nil {
			t.Errorf("-ipmc %q accepted", bad)
		}
	}
}

// TestIPMulticastSendErrors: when IP multicast sends fail (here a route
// makes the group unreachable, as a host without a multicast route does),
// group-publish says so with the error as soon as it happens and prints
// its IP multicast counters at the end; P2P publishing goes on. It runs in
// a private network namespace.
func TestIPMulticastSendErrors(t *testing.T) {
	netns.Run(t, func(t *testing.T) {
		if err := netns.AddUnreachableRoute(netip.MustParsePrefix("239.255.0.0/16")); err != nil {
			t.Fatal(err)
		}
		bin := clitest.Build(t, t.TempDir(), ".")
		url := startServer(t) + "/cam"
		play := clitest.Start(t, bin, "group-play", "-spec", testSpec, "-ipmc", "239.255.0.1:30000", "-start-timeout", "1h", "-o", filepath.Join(t.TempDir(), "out.flv"), url)
		play.WaitLine(`^playing `)
		p := clitest.Start(t, bin, "group-publish", "-spec", testSpec, "-wait", "0s", "-loop", "-ipmc", "239.255.0.1:30000", testMedia, url)
		p.WaitLine(`^IP multicast: sending to 239\.255\.0\.1:30000 failed: .*(unreachable|no route to host)`)
		// The player gets the stream over P2P before the publisher stops
		// (on a loaded machine the mesh may take longer than the first
		// failed send).
		play.WaitLine(`  video [1-9][0-9]*  `)
		p.Signal(syscall.SIGINT)
		if code := p.Wait(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		p.WaitLine(`^IP multicast: sent 0 datagrams \(0 bytes\) to 239\.255\.0\.1:30000, [1-9][0-9]* failed \(last error: .*(unreachable|no route to host)\)$`)
		// The player got the stream over P2P alone, and says what IP
		// multicast brought: nothing.
		if code := play.Wait(); code != 0 {
			t.Fatalf("group-play: exit %d", code)
		}
		play.WaitLine(`^IP multicast: received 0 datagrams, 0 fragments of this stream, 0 foreign, 0 read errors$`)
	})
}
