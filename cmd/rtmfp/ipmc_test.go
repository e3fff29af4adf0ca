package main

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"testing"

	"github.com/rtmfpd/rtmfpd/group"
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
