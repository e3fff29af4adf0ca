package rtmfpcheck

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// TestAgainstRtmfpd runs every conformance check against rtmfpd's RTMFP
// side: all pass but the group-16 handshake, which rtmfpd does not offer.
func TestAgainstRtmfpd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNet(t)
		srv := startTestServer(t, n, serverConfig{})
		rep := runCheck(t, n, nil, srv.url, Options{})
		st := statuses(rep)
		for _, c := range Checks() {
			if c.Category == "nat" {
				continue
			}
			want := Pass
			if c.ID == "handshake.group16" {
				want = Skip
			}
			if st[c.ID] != want {
				dump(t, rep)
				t.Fatalf("%s: %s, want %s", c.ID, st[c.ID], want)
			}
		}
		if rep.ExitCode() != 0 {
			t.Errorf("exit code %d", rep.ExitCode())
		}
	})
}

// TestGroup16WhenOffered: rtmfpd computes group 16 though its certificate
// does not offer it (the 77 bytes librtmfp reads leave no room): offered
// by a rewritten certificate, the group-16 handshake completes.
func TestGroup16WhenOffered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNet(t)
		srv := startTestServer(t, n, serverConfig{})
		addr, _ := netip.ParseAddrPort(srv.ep.LocalAddr().String())
		rewriteStartup(n, addr, func(fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			if fromServer && typ == wire.TypeRHello {
				rh, _ := wire.ParseRHello(v)
				rh.Certificate = vlu.AppendOption(slices.Clone(rh.Certificate), 0x15, []byte{16})
				return rh.Append(nil)
			}
			return wire.AppendChunk(nil, typ, v)
		})
		rep := runCheck(t, n, nil, srv.url, Options{Run: only("handshake.group16|handshake.rtmfp-cpp")})
		if st := statuses(rep); st["handshake.group16"] != Pass || st["handshake.rtmfp-cpp"] != Pass {
			dump(t, rep)
			t.Fatalf("statuses %v", st)
		}
		if f := result(t, rep, "handshake.rtmfp-cpp").Detail; !strings.Contains(f, "group 16") {
			t.Errorf("rtmfp-cpp's layout: %s", f)
		}
	})
}
