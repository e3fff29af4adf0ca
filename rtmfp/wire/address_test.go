package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestAddress(t *testing.T) {
	tests := []struct {
		in   string
		want Address
	}{
		{"02 7f000001 b422", addr("127.0.0.1:46114", OriginObserved)},            // MonaServer2, public
		{"01 c0000202 b422", addr("192.0.2.2:46114", OriginReported)},            // MonaServer2, local
		{"81 fd000000000000000000000000000002 ebbe", addr("[fd00::2]:60350", 1)}, // MonaServer2, IPv6 local
		{"82 fd000000000000000000000000000002 ebbe", addr("[fd00::2]:60350", 2)},
		{"00 00000000 0000", addr("0.0.0.0:0", OriginUnknown)}, // MonaServer2's "peer unknown"
		{"03 0a000001 0001", addr("10.0.0.1:1", OriginRelay)},
		{"7f 0a000001 0001", addr("10.0.0.1:1", 0x7f)}, // reserved bits kept
		{"80 00000000000000000000ffff0a000001 0002", addr("[::ffff:10.0.0.1]:2", 0)},
	}
	for _, tc := range tests {
		in := unhex(t, tc.in)
		a, n, err := ParseAddress(append(in, 0x99))
		if err != nil || a != tc.want || n != len(in) {
			t.Errorf("%s: %+v %d %v, want %+v %d", tc.in, a, n, err, tc.want, len(in))
			continue
		}
		if enc := a.Append(nil); !bytes.Equal(enc, in) || a.Len() != len(in) {
			t.Errorf("%s: Append %x Len %d", tc.in, enc, a.Len())
		}
		for i := range in {
			if _, _, err := ParseAddress(in[:i]); err != ErrTruncated {
				t.Errorf("%s: prefix %d: %v", tc.in, i, err)
			}
		}
	}
}

func TestAddressEncodeEdgeCases(t *testing.T) {
	// The zero Address is 0.0.0.0:0, origin unknown.
	if enc := (Address{}).Append(nil); !bytes.Equal(enc, make([]byte, 7)) || (Address{}).Len() != 7 {
		t.Errorf("zero Address: %x", enc)
	}
	// The IPv6 flag comes from the address, not from Origin; a zone is dropped.
	a := Address{AddrPort: netip.MustParseAddrPort("[fe80::1%eth0]:5"), Origin: 0x81}
	enc := a.Append(nil)
	if enc[0] != 0x81 || len(enc) != 19 || a.Len() != 19 {
		t.Errorf("IPv6 with zone: %x", enc)
	}
	a = Address{AddrPort: netip.MustParseAddrPort("1.2.3.4:5"), Origin: 0x82}
	if enc := a.Append(nil); enc[0] != 0x02 || len(enc) != 7 {
		t.Errorf("IPv4 with 0x80 in Origin: %x", enc)
	}
}
