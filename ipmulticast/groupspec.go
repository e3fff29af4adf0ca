package ipmulticast

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// GroupspecOptionType is the option type of an IP multicast address in a
// groupspec, found after the 00 marker (rtmfp-facts §6.1; inferred from the
// OSMF/FMS sample groupspecs).
const GroupspecOptionType = 0x0A

// ParseGroupspecAddress decodes the value of a groupspec IP multicast
// address option: the bytes after the type byte [GroupspecOptionType],
// either an IPv4 address (4 bytes) or an IPv6 address (16 bytes, presumed:
// no IPv6 sample is known) followed by the UDP port, big-endian. The sample
// value E0 00 00 FE 81 4B is 224.0.0.254:33099. How Flash encodes an SSM
// source in a groupspec is not known, so none is decoded.
func ParseGroupspecAddress(v []byte) (netip.AddrPort, error) {
	var a netip.Addr
	switch len(v) {
	case 4 + 2:
		a = netip.AddrFrom4([4]byte(v[:4]))
	case 16 + 2:
		a = netip.AddrFrom16([16]byte(v[:16]))
	default:
		return netip.AddrPort{}, fmt.Errorf("%w: groupspec address value of %d bytes, want 6 or 18", ErrInvalidAddress, len(v))
	}
	p := binary.BigEndian.Uint16(v[len(v)-2:])
	if _, err := parseGroupIP(a.String()); err != nil {
		return netip.AddrPort{}, err
	}
	if p == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: port 0 in a groupspec address", ErrInvalidPort)
	}
	return netip.AddrPortFrom(a, p), nil
}

// AppendGroupspecAddress appends the groupspec option value for ap (see
// [ParseGroupspecAddress]; the type byte is not included) to b. ap must
// pass the checks of [ParsePublishAddress].
func AppendGroupspecAddress(b []byte, ap netip.AddrPort) ([]byte, error) {
	if _, err := parseGroupIP(ap.Addr().String()); err != nil {
		return b, err
	}
	if ap.Port() == 0 {
		return b, fmt.Errorf("%w: port 0", ErrInvalidPort)
	}
	b = append(b, ap.Addr().AsSlice()...)
	return binary.BigEndian.AppendUint16(b, ap.Port()), nil
}
