package registry

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/rtmfpd/rtmfpd/group"
)

// FuzzOps: any bytes parse to operations or an error, never a panic, and
// what parses re-encodes to the same bytes.
func FuzzOps(f *testing.F) {
	var b []byte
	b = appendOp(b, op{kind: opPeerUp, peer: pid(1), addrs: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("[::1]:2")}})
	b = appendOp(b, op{kind: opPeerDown, peer: pid(2)})
	b = appendOp(b, op{kind: opJoin, group: group.GroupID{1}, peer: pid(3)})
	b = appendOp(b, op{kind: opLeave, group: group.GroupID{1}, peer: pid(3)})
	b = appendOp(b, op{kind: opStreamUp, stream: "live/_definst_/cam"})
	b = appendOp(b, op{kind: opStreamDown, stream: "live/_definst_/cam"})
	f.Add(b)
	f.Add(appendHeader(nil, header{instance: 1, seq: 2, flags: flagLast}))
	f.Add([]byte{opPeerUp, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseHeader(b)
		parseMessage(b)
		var again []byte
		if err := parseOps(b, func(o op) { again = appendOp(again, o) }); err == nil && !bytes.Equal(again, b) {
			// Addresses of other families are re-encoded the same way;
			// only IPv4-mapped IPv6 may differ (written as IPv4).
			var x []byte
			if parseOps(again, func(o op) { x = appendOp(x, o) }) != nil || !bytes.Equal(x, again) {
				t.Fatalf("not stable: % x", b)
			}
		}
	})
}
