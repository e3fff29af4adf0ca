package ipmulticast

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var publishCases = []struct {
	addr, port string
	want       string // Group.String(); "" with wantErr nil means cleared
	wantErr    error
}{
	// The notations of GroupSpecifier.addIPMulticastAddress's documentation.
	{"224.0.0.254", "30000", "224.0.0.254:30000", nil},
	{"224.0.0.254:30000", "", "224.0.0.254:30000", nil},
	{"ff03::ffff", "30000", "[ff03::ffff]:30000", nil},
	{"[ff03::ffff]:30000", "", "[ff03::ffff]:30000", nil},
	{"[ff03::ffff]", "30000", "[ff03::ffff]:30000", nil},
	// The OSMF/FMS groupspec samples (rtmfp-facts §6.1).
	{"224.0.0.254:33099", "", "224.0.0.254:33099", nil},
	{"239.1.2.3", "30000", "239.1.2.3:30000", nil},
	{"239.255.255.255:1", "", "239.255.255.255:1", nil},
	{"ff3e::8000:1", "65535", "[ff3e::8000:1]:65535", nil},
	// The port in both places.
	{"224.0.0.254:30000", "30000", "224.0.0.254:30000", nil},
	{"224.0.0.254:30000", "30001", "", ErrConflictingPort},
	{"[ff03::ffff]:1935", "1936", "", ErrConflictingPort},
	// Clearing.
	{"", "", "", nil},
	{"", "30000", "", ErrInvalidAddress},
	// No port.
	{"224.0.0.254", "", "", ErrMissingPort},
	{"ff03::ffff", "", "", ErrMissingPort},
	{"[ff03::ffff]", "", "", ErrMissingPort},
	// Bad ports.
	{"224.0.0.254:0", "", "", ErrInvalidPort},
	{"224.0.0.254", "0", "", ErrInvalidPort},
	{"224.0.0.254:65536", "", "", ErrInvalidPort},
	{"224.0.0.254", "99999", "", ErrInvalidPort},
	{"224.0.0.254", "123456", "", ErrInvalidPort},
	{"224.0.0.254", "http", "", ErrInvalidPort},
	{"224.0.0.254", "-1", "", ErrInvalidPort},
	{"224.0.0.254", "+80", "", ErrInvalidPort},
	{"224.0.0.254", " 80", "", ErrInvalidPort},
	{"224.0.0.254:", "", "", ErrInvalidPort},
	{"[ff03::ffff]:", "", "", ErrInvalidPort},
	{"[ff03::ffff]:x", "", "", ErrInvalidPort},
	{"224.0.0.254:30000", "x", "", ErrInvalidPort},
	// Not multicast.
	{"192.168.1.1", "30000", "", ErrNotMulticast},
	{"127.0.0.1:30000", "", "", ErrNotMulticast},
	{"0.0.0.0:30000", "", "", ErrNotMulticast},
	{"255.255.255.255:30000", "", "", ErrNotMulticast},
	{"2001:db8::1", "30000", "", ErrNotMulticast},
	{"[::1]:30000", "", "", ErrNotMulticast},
	{"[ff00::1]:30000", "", "", ErrNotMulticast}, // reserved scope 0
	{"[ff0f::1]:30000", "", "", ErrNotMulticast}, // reserved scope f
	// Garbage and unsupported notations.
	{"garbage", "30000", "", ErrInvalidAddress},
	{"localhost:30000", "", "", ErrInvalidAddress},
	{"224.0.0", "30000", "", ErrInvalidAddress},
	{"224.0.0.0254", "30000", "", ErrInvalidAddress},
	{"224.000.0.254", "30000", "", ErrInvalidAddress},
	{" 224.0.0.254", "30000", "", ErrInvalidAddress},
	{"[224.0.0.254]:30000", "", "", ErrInvalidAddress},
	{"[ff03::ffff", "30000", "", ErrInvalidAddress},
	{"[ff03::ffff]30000", "", "", ErrInvalidAddress},
	{"ff03::ffff:30000x", "", "", ErrInvalidAddress},
	{"ff02::1%lo", "30000", "", ErrInvalidAddress},
	{"[ff02::1%lo]:30000", "", "", ErrInvalidAddress},
	{"::ffff:224.0.0.254", "30000", "", ErrInvalidAddress},
	{"[::ffff:224.0.0.254]:30000", "", "", ErrInvalidAddress},
}

func TestParsePublishAddress(t *testing.T) {
	for _, c := range publishCases {
		g, err := ParsePublishAddress(c.addr, c.port)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("ParsePublishAddress(%q, %q) = %v, %v; want %v", c.addr, c.port, g, err, c.wantErr)
			} else if !strings.Contains(err.Error(), "ipmulticast: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			continue
		}
		if err != nil || g.String() != c.want || g.Source.IsValid() {
			t.Errorf("ParsePublishAddress(%q, %q) = %v, %v; want %s", c.addr, c.port, g, err, c.want)
		}
		if c.want == "" && (g.IsValid() || g != (Group{})) {
			t.Errorf("ParsePublishAddress(%q, %q) = %#v, want the zero Group", c.addr, c.port, g)
		}
	}
}

func TestParsePublishAddressErrorText(t *testing.T) {
	_, err := ParsePublishAddress("224.0.0.254:30000", "30001")
	if err == nil || err.Error() != `ipmulticast: conflicting ports: "30000" in the address, "30001" given separately` {
		t.Fatalf("conflict error: %v", err)
	}
	_, err = ParsePublishAddress("10.0.0.1", "1")
	if err == nil || err.Error() != `ipmulticast: not a multicast group address: "10.0.0.1"` {
		t.Fatalf("unicast error: %v", err)
	}
	_, err = ParsePublishAddress("224.0.0.1", "70000")
	if err == nil || err.Error() != `ipmulticast: invalid port: "70000": must be 1 to 65535` {
		t.Fatalf("port error: %v", err)
	}
}

func TestParseGroupAddress(t *testing.T) {
	g, err := ParseGroupAddress("232.1.2.3:5000", "", "10.0.0.7")
	if err != nil || g.Addr != netip.MustParseAddrPort("232.1.2.3:5000") || g.Source != netip.MustParseAddr("10.0.0.7") {
		t.Fatalf("SSM IPv4: %v %v", g, err)
	}
	g, err = ParseGroupAddress("ff3e::1234", "5000", "2001:db8::7")
	if err != nil || g.Addr != netip.MustParseAddrPort("[ff3e::1234]:5000") || g.Source != netip.MustParseAddr("2001:db8::7") {
		t.Fatalf("SSM IPv6: %v %v", g, err)
	}
	g, err = ParseGroupAddress("224.0.0.254", "33099", "")
	if err != nil || g.Source.IsValid() || g.String() != "224.0.0.254:33099" {
		t.Fatalf("ASM: %v %v", g, err)
	}
	for _, c := range []struct{ addr, port, source string }{
		{"232.1.2.3:5000", "", "2001:db8::7"}, // family mismatch
		{"ff3e::1", "5000", "10.0.0.7"},       // family mismatch
		{"232.1.2.3:5000", "", "224.0.0.1"},   // multicast source
		{"232.1.2.3:5000", "", "0.0.0.0"},     // unspecified
		{"232.1.2.3:5000", "", "255.255.255.255"},
		{"ff3e::1", "5000", "::"},
		{"ff3e::1", "5000", "fe80::1%eth0"},
		{"ff3e::1", "5000", "::ffff:10.0.0.7"},
		{"232.1.2.3:5000", "", "host.example"},
	} {
		if g, err := ParseGroupAddress(c.addr, c.port, c.source); !errors.Is(err, ErrInvalidSource) {
			t.Errorf("ParseGroupAddress(%q, %q, %q) = %v, %v; want ErrInvalidSource", c.addr, c.port, c.source, g, err)
		}
	}
	if _, err := ParseGroupAddress("", "", ""); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("empty address: %v", err)
	}
	for _, c := range publishCases {
		if c.addr == "" {
			continue
		}
		g, err := ParseGroupAddress(c.addr, c.port, "")
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("ParseGroupAddress(%q, %q) = %v, %v; want %v", c.addr, c.port, g, err, c.wantErr)
			}
		} else if err != nil || g.String() != c.want {
			t.Errorf("ParseGroupAddress(%q, %q) = %v, %v; want %s", c.addr, c.port, g, err, c.want)
		}
	}
}

// Groupspec option values from the OSMF/FMS samples (rtmfp-facts §6.1).
var groupspecCases = []struct {
	value []byte
	want  string
}{
	{[]byte{0xE0, 0x00, 0x00, 0xFE, 0x81, 0x4B}, "224.0.0.254:33099"},
	{[]byte{0xEF, 0x01, 0x02, 0x03, 0x75, 0x30}, "239.1.2.3:30000"},
	{append(netip.MustParseAddr("ff03::ffff").AsSlice(), 0x75, 0x30), "[ff03::ffff]:30000"},
}

func TestGroupspecAddress(t *testing.T) {
	for _, c := range groupspecCases {
		ap, err := ParseGroupspecAddress(c.value)
		if err != nil || ap.String() != c.want {
			t.Errorf("ParseGroupspecAddress(% x) = %v, %v; want %s", c.value, ap, err, c.want)
		}
		b, err := AppendGroupspecAddress([]byte{GroupspecOptionType}, ap)
		if err != nil || !bytes.Equal(b[1:], c.value) || b[0] != GroupspecOptionType {
			t.Errorf("AppendGroupspecAddress(%v) = % x, %v", ap, b, err)
		}
	}
	for _, bad := range [][]byte{
		nil,
		{0xE0, 0, 0, 0xFE, 0x81},          // short
		{0xE0, 0, 0, 0xFE, 0x81, 0x4B, 0}, // long
		{0x0A, 0, 0, 1, 0x81, 0x4B},       // unicast
		{0xE0, 0, 0, 0xFE, 0, 0},          // port 0
		append(netip.MustParseAddr("::ffff:224.0.0.1").AsSlice(), 1, 1),
	} {
		if ap, err := ParseGroupspecAddress(bad); err == nil {
			t.Errorf("ParseGroupspecAddress(% x) = %v, want an error", bad, ap)
		}
	}
	for _, bad := range []netip.AddrPort{
		{},
		netip.MustParseAddrPort("10.0.0.1:1"),
		netip.MustParseAddrPort("224.0.0.1:0"),
		netip.AddrPortFrom(netip.MustParseAddr("ff02::1").WithZone("lo"), 1),
	} {
		if b, err := AppendGroupspecAddress(nil, bad); err == nil || len(b) != 0 {
			t.Errorf("AppendGroupspecAddress(%v) = % x, %v; want an error", bad, b, err)
		}
	}
}

// FuzzParseGroupAddress checks that the parsers never panic, that every
// accepted address is a multicast group with a port, and that the printed
// form parses back to the same group.
func FuzzParseGroupAddress(f *testing.F) {
	for _, c := range publishCases {
		f.Add(c.addr, c.port, "")
	}
	f.Add("232.1.2.3:5000", "", "10.0.0.7")
	f.Add("ff3e::1234", "5000", "2001:db8::7")
	f.Add("[ff3e::1234]:5000", "5000", "fe80::1%eth0")
	f.Fuzz(func(t *testing.T, addr, port, source string) {
		g, err := ParseGroupAddress(addr, port, source)
		p, perr := ParsePublishAddress(addr, port)
		if err != nil {
			if source == "" && addr != "" && perr == nil {
				t.Fatalf("ParsePublishAddress accepted %q %q that ParseGroupAddress refused: %v", addr, port, err)
			}
			return
		}
		if !g.Addr.Addr().IsMulticast() || g.Addr.Port() == 0 || g.Addr.Addr().Zone() != "" || g.Addr.Addr().Is4In6() {
			t.Fatalf("accepted %q %q as %v", addr, port, g)
		}
		if (source != "") != g.Source.IsValid() {
			t.Fatalf("source %q gave %v", source, g.Source)
		}
		if source == "" && (perr != nil || p != g) {
			t.Fatalf("ParsePublishAddress(%q, %q) = %v, %v; ParseGroupAddress gave %v", addr, port, p, perr, g)
		}
		src := ""
		if g.Source.IsValid() {
			src = g.Source.String()
		}
		back, err := ParseGroupAddress(g.String(), "", src)
		if err != nil || back != g {
			t.Fatalf("round trip of %v via %q: %v, %v", g, g.String(), back, err)
		}
		v, err := AppendGroupspecAddress(nil, g.Addr)
		if err != nil {
			t.Fatalf("AppendGroupspecAddress(%v): %v", g.Addr, err)
		}
		if ap, err := ParseGroupspecAddress(v); err != nil || ap != g.Addr {
			t.Fatalf("groupspec round trip of %v: %v, %v", g.Addr, ap, err)
		}
	})
}

// FuzzParseGroupspecAddress checks the binary decoder never panics and
// round-trips what it accepts.
func FuzzParseGroupspecAddress(f *testing.F) {
	for _, c := range groupspecCases {
		f.Add(c.value)
	}
	f.Add([]byte{})
	f.Add([]byte{0xE0, 0, 0, 0xFE, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		ap, err := ParseGroupspecAddress(v)
		if err != nil {
			return
		}
		b, err := AppendGroupspecAddress(nil, ap)
		if err != nil || !bytes.Equal(b, v) {
			t.Fatalf("round trip of % x: % x, %v", v, b, err)
		}
		if _, err := ParsePublishAddress(ap.String(), ""); err != nil {
			t.Fatalf("%v from the groupspec does not parse as text: %v", ap, err)
		}
	})
}
