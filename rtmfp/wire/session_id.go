package wire

import "encoding/binary"

// MinDatagram is the length of the shortest RTMFP datagram: the 4-byte
// session ID field and one 16-byte cipher block, the first 8 bytes of which
// scramble the ID.
const MinDatagram = 20

// SessionID recovers the session ID of a datagram (RFC 7016 §2.2.1): the
// first 32-bit word XOR the next two, which are the start of the encrypted
// packet. d must hold at least 12 bytes.
func SessionID(d []byte) uint32 {
	return binary.BigEndian.Uint32(d[0:4]) ^ binary.BigEndian.Uint32(d[4:8]) ^ binary.BigEndian.Uint32(d[8:12])
}

// ScrambleSessionID writes the session ID field of a datagram whose
// encrypted packet is already in place from byte 4 on (RFC 7016 §2.2.1).
// d must hold at least 12 bytes.
func ScrambleSessionID(d []byte, ssid uint32) {
	binary.BigEndian.PutUint32(d[0:4], ssid^binary.BigEndian.Uint32(d[4:8])^binary.BigEndian.Uint32(d[8:12]))
}
