package ipmulticast

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Errors returned (wrapped, with the offending input) by the address
// parsers. Test with [errors.Is].
var (
	// ErrInvalidAddress: the address is not a literal IPv4 or IPv6 address
	// in one of the accepted notations, is empty where one is required,
	// carries a zone, or is an IPv4-mapped IPv6 address.
	ErrInvalidAddress = errors.New("ipmulticast: invalid address")
	// ErrNotMulticast: the address is a valid IP address but not a usable
	// multicast group (outside 224.0.0.0/4 and ff00::/8, or an IPv6
	// multicast address with the reserved scope 0 or f).
	ErrNotMulticast = errors.New("ipmulticast: not a multicast group address")
	// ErrInvalidPort: a port is not a decimal number from 1 to 65535.
	ErrInvalidPort = errors.New("ipmulticast: invalid port")
	// ErrMissingPort: no port was given, neither in the address nor
	// separately.
	ErrMissingPort = errors.New("ipmulticast: missing port")
	// ErrConflictingPort: the address and the separate port argument name
	// different ports.
	ErrConflictingPort = errors.New("ipmulticast: conflicting ports")
	// ErrInvalidSource: the SSM source is not a unicast address of the
	// group's family.
	ErrInvalidSource = errors.New("ipmulticast: invalid source address")
)

// Group is an IP multicast destination: the group address and UDP port, and
// for source-specific multicast (SSM, RFC 4607) the one sender's address.
// The zero Group means "no IP multicast" (a cleared publish address).
type Group struct {
	// Addr is the group address (IPv4 224.0.0.0/4 or IPv6 ff00::/8, never
	// zoned or IPv4-mapped) and the UDP port (never 0).
	Addr netip.AddrPort
	// Source is the SSM source address, or the zero Addr for any-source
	// multicast. It has the family of Addr.
	Source netip.Addr
}

// IsValid reports whether g names a group (false for the zero Group).
func (g Group) IsValid() bool { return g.Addr.IsValid() }

// String returns the address in the notation the parsers accept and FMS
// prints: "224.0.0.254:30000" or "[ff03::ffff]:30000". The SSM source is
// not part of it; the zero Group gives "".
func (g Group) String() string {
	if !g.IsValid() {
		return ""
	}
	return g.Addr.String()
}

// ParsePublishAddress parses the arguments of FMS's
// NetStream.setIPMulticastPublishAddress(address, port) — the IP multicast
// address a group publisher sends to — following the rules of Flash's
// GroupSpecifier.addIPMulticastAddress:
//
//   - An empty address clears the publish address: the result is the zero
//     Group and no error. An empty address with a non-empty port is an
//     ErrInvalidAddress.
//   - Otherwise the address must be one of: an IPv4 group "224.0.0.254",
//     an IPv4 group and port "224.0.0.254:30000", an IPv6 group
//     "ff03::ffff", or a bracketed IPv6 group with or without a port
//     "[ff03::ffff]:30000", "[ff03::ffff]". An unbracketed string with two
//     or more colons is read entirely as an IPv6 address, so an IPv6 port
//     needs the brackets. Host names are not resolved. IPv4 is strict
//     dotted decimal (four parts, no leading zeros). Zones ("ff02::1%eth0")
//     and IPv4-mapped IPv6 addresses are rejected (ErrInvalidAddress); the
//     interface is chosen by the sender or receiver options instead.
//   - The address must be multicast: 224.0.0.0/4, or ff00::/8 with a scope
//     other than the reserved 0 and f (ErrNotMulticast otherwise).
//   - port is the separate port argument; "" stands for ActionScript's
//     null. A port, wherever given, is decimal digits only (no sign, no
//     spaces, at most 5 digits) with a value from 1 to 65535
//     (ErrInvalidPort). "224.0.0.254:" has an empty, hence invalid, port.
//   - The port must be given in the address or in port (ErrMissingPort). If
//     given in both, the two must be equal (ErrConflictingPort otherwise).
//     Flash's documentation asks for exactly one of the two; equal values
//     are accepted here as harmless.
func ParsePublishAddress(address, port string) (Group, error) {
	if address == "" {
		if port != "" {
			return Group{}, fmt.Errorf("%w: empty address with port %q", ErrInvalidAddress, port)
		}
		return Group{}, nil
	}
	return parseGroup(address, port, "")
}

// ParseGroupAddress parses the arguments of Flash's
// GroupSpecifier.addIPMulticastAddress(address, port, source): an IP
// multicast address a group's members receive on. address and port follow
// the rules of [ParsePublishAddress], except that an empty address is an
// ErrInvalidAddress. source ("" for null) is the SSM source: when
// non-empty it must be a literal unicast IP address of the group's family —
// not multicast, not unspecified, not the IPv4 broadcast address, not
// zoned, not IPv4-mapped — or the result is an ErrInvalidSource.
func ParseGroupAddress(address, port, source string) (Group, error) {
	if address == "" {
		return Group{}, fmt.Errorf("%w: empty address", ErrInvalidAddress)
	}
	return parseGroup(address, port, source)
}

func parseGroup(address, port, source string) (Group, error) {
	host, inAddr, hasPort, err := splitAddress(address)
	if err != nil {
		return Group{}, err
	}
	a, err := parseGroupIP(host)
	if err != nil {
		return Group{}, err
	}
	var p uint16
	switch {
	case hasPort && port != "":
		p1, err := parsePort(inAddr)
		if err != nil {
			return Group{}, err
		}
		p2, err := parsePort(port)
		if err != nil {
			return Group{}, err
		}
		if p1 != p2 {
			return Group{}, fmt.Errorf("%w: %q in the address, %q given separately", ErrConflictingPort, inAddr, port)
		}
		p = p1
	case hasPort:
		if p, err = parsePort(inAddr); err != nil {
			return Group{}, err
		}
	case port != "":
		if p, err = parsePort(port); err != nil {
			return Group{}, err
		}
	default:
		return Group{}, fmt.Errorf("%w: %q has no port and none was given separately", ErrMissingPort, address)
	}
	g := Group{Addr: netip.AddrPortFrom(a, p)}
	if source != "" {
		if g.Source, err = parseSource(source, a); err != nil {
			return Group{}, err
		}
	}
	return g, nil
}

// splitAddress separates the host part from an optional port; hasPort is
// true when the notation carries a port (possibly empty).
func splitAddress(s string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, fmt.Errorf("%w: %q lacks the closing bracket", ErrInvalidAddress, s)
		}
		host, rest := s[1:end], s[end+1:]
		if !strings.Contains(host, ":") {
			return "", "", false, fmt.Errorf("%w: %q: brackets enclose IPv6 addresses only", ErrInvalidAddress, s)
		}
		if rest == "" {
			return host, "", false, nil
		}
		if rest[0] != ':' {
			return "", "", false, fmt.Errorf("%w: %q: expected ':' and a port after the bracket", ErrInvalidAddress, s)
		}
		return host, rest[1:], true, nil
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, "", false, nil
	case 1:
		i := strings.IndexByte(s, ':')
		return s[:i], s[i+1:], true, nil
	default:
		return s, "", false, nil
	}
}

// parseGroupIP parses a literal group address and checks it is multicast.
func parseGroupIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q is not a literal IPv4 or IPv6 address", ErrInvalidAddress, s)
	}
	switch {
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%w: %q: zones are not accepted, choose the interface in the options", ErrInvalidAddress, s)
	case a.Is4In6():
		return netip.Addr{}, fmt.Errorf("%w: %q: write IPv4 groups as IPv4", ErrInvalidAddress, s)
	case !a.IsMulticast():
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNotMulticast, s)
	case a.Is6():
		if scope := a.As16()[1] & 0x0f; scope == 0 || scope == 0x0f {
			return netip.Addr{}, fmt.Errorf("%w: %q has the reserved multicast scope %x", ErrNotMulticast, s, scope)
		}
	}
	return a, nil
}

// parsePort parses 1 to 5 decimal digits with a value in 1..65535.
func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrInvalidPort)
	}
	if len(s) > 5 {
		return 0, fmt.Errorf("%w: %q: more than 5 digits", ErrInvalidPort, s)
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidPort, s)
		}
		v = v*10 + int(c-'0')
	}
	if v == 0 || v > 65535 {
		return 0, fmt.Errorf("%w: %q: must be 1 to 65535", ErrInvalidPort, s)
	}
	return uint16(v), nil
}

// parseSource parses an SSM source for group.
func parseSource(s string, group netip.Addr) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q is not a literal IP address", ErrInvalidSource, s)
	}
	if err := checkSource(a, group); err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %q: %s", ErrInvalidSource, s, err)
	}
	return a, nil
}

// checkSource explains why a cannot be the unicast sender for group, or
// returns nil.
func checkSource(a, group netip.Addr) error {
	switch {
	case a.Zone() != "":
		return errors.New("zones are not accepted")
	case a.Is4In6():
		return errors.New("write IPv4 sources as IPv4")
	case a.Is4() != group.Is4():
		return errors.New("the source and the group are of different IP families")
	case a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("not a unicast address")
	}
	return nil
}
