package flash

import "encoding/binary"

// checksum returns the 16-bit one's-complement Internet checksum of b that
// the Flash profile's "simple checksum" packet form carries (RFC 7425 §4,
// RFC 1071): big-endian 16-bit words summed with end-around carry, then
// complemented. An odd final byte is added as a low-order value, as
// rtmfp-cpp and Cumulus do (it never occurs with the plain Flash layout,
// only when a session sequence number of odd length precedes the checksum).
func checksum(b []byte) uint16 {
	var sum uint64
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>48 + (v>>32)&0xffff + (v>>16)&0xffff + v&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0])
	}
	for sum>>16 != 0 {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
