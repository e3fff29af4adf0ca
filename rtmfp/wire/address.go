package wire

import (
	"encoding/binary"
	"net/netip"
)

// Address flag bits and origins. The RFC defines the two low bits as the
// origin; the bits 0x7C are reserved and are kept as found (MonaServer
// carries the origin in up to seven bits).
const (
	AddressIPv6       byte = 0x80 // the address is 16 bytes of IPv6
	AddressOriginMask byte = 0x7F // bits kept in Address.Origin

	OriginUnknown  byte = 0 // unspecified
	OriginReported byte = 1 // reported by the peer itself (local/private address)
	OriginObserved byte = 2 // observed by the sender (public address)
	OriginRelay    byte = 3 // a relay or redirection address
)

// Address is a socket address as carried in Redirect and FIHello chunks
// (RFC 7016 §2.3.5):
//
//	+-------+---------------------------+-----------+
//	| flags | IPv4 (4) or IPv6 (16)     | port      |
//	|  u8   | network order             | u16 BE    |
//	+-------+---------------------------+-----------+
//
// flags = IPv6 0x80 | origin (0 unknown, 1 reported, 2 observed, 3 relay).
// Seen on the wire: 0x01, 0x02 and 0x81 (MonaServer2 Redirect and FIHello).
type Address struct {
	// AddrPort is the address. An IPv4 address is written in 4 bytes, any
	// other (including IPv4-mapped IPv6) in 16 bytes with flag 0x80. The
	// zero AddrPort is written as 0.0.0.0:0; an IPv6 zone is dropped.
	AddrPort netip.AddrPort
	// Origin holds the flag bits other than 0x80; the RFC origin is Origin&3.
	Origin byte
}

// Len returns the encoded size of a: 7 or 19 bytes.
func (a Address) Len() int {
	if a.isIPv6() {
		return 19
	}
	return 7
}

func (a Address) isIPv6() bool {
	ip := a.AddrPort.Addr()
	return ip.IsValid() && !ip.Is4()
}

// Append appends the encoding of a to b.
func (a Address) Append(b []byte) []byte {
	ip := a.AddrPort.Addr()
	flags := a.Origin & AddressOriginMask
	if a.isIPv6() {
		b = append(b, flags|AddressIPv6)
		a16 := ip.As16()
		b = append(b, a16[:]...)
	} else {
		b = append(b, flags)
		var a4 [4]byte
		if ip.IsValid() {
			a4 = ip.As4()
		}
		b = append(b, a4[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.AddrPort.Port())
}

// ParseAddress reads one address at the start of b and returns it with the
// number of bytes used.
func ParseAddress(b []byte) (Address, int, error) {
	if len(b) < 1 {
		return Address{}, 0, ErrTruncated
	}
	flags := b[0]
	var ip netip.Addr
	n := 1
	if flags&AddressIPv6 != 0 {
		if len(b) < 19 {
			return Address{}, 0, ErrTruncated
		}
		ip = netip.AddrFrom16([16]byte(b[1:17]))
		n = 17
	} else {
		if len(b) < 7 {
			return Address{}, 0, ErrTruncated
		}
		ip = netip.AddrFrom4([4]byte(b[1:5]))
		n = 5
	}
	port := binary.BigEndian.Uint16(b[n:])
	return Address{AddrPort: netip.AddrPortFrom(ip, port), Origin: flags & AddressOriginMask}, n + 2, nil
}
