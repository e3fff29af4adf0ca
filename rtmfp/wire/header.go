package wire

import "encoding/binary"

// Packet header flag bits (RFC 7016 §2.2.4). The remaining bits 0x30 are
// reserved: senders write 0, ParseHeader keeps whatever it finds.
const (
	HeaderTimeCritical        byte = 0x80 // TC: the sender is sending time-critical data
	HeaderTimeCriticalReverse byte = 0x40 // TCR: the sender recently received time-critical data
	HeaderTimestamp           byte = 0x08 // TS: a 16-bit timestamp follows the flags
	HeaderTimestampEcho       byte = 0x04 // TSE: a 16-bit timestamp echo follows
	HeaderModeMask            byte = 0x03 // MOD: the packet mode
)

// Packet modes, the value of Flags&HeaderModeMask. Mode 0 is forbidden.
const (
	ModeInitiator byte = 1 // sent by a session's initiator
	ModeResponder byte = 2 // sent by a session's responder
	ModeStartup   byte = 3 // handshake packets (IHello … RIKeying)
)

// Header is the start of a decrypted packet, after the integrity prefix
// (checksum or session sequence number) of the crypto profile
// (RFC 7016 §2.2.4):
//
//	+-------+-------------------+-----------------------+
//	| flags | timestamp (TS)    | timestampEcho (TSE)   |  chunks … padding
//	|  u8   | u16 BE, if 0x08   | u16 BE, if 0x04       |
//	+-------+-------------------+-----------------------+
//
// flags = TC 0x80 | TCR 0x40 | reserved 0x30 | TS 0x08 | TSE 0x04 | MOD 0x03.
// Timestamps count 4 ms ticks. Timestamp and Echo are meaningful only when
// the matching flag is set; Append writes them only then.
type Header struct {
	Flags     byte
	Timestamp uint16
	Echo      uint16
}

// HasTimestamp reports whether the timestamp field is present.
func (h Header) HasTimestamp() bool { return h.Flags&HeaderTimestamp != 0 }

// HasEcho reports whether the timestamp echo field is present.
func (h Header) HasEcho() bool { return h.Flags&HeaderTimestampEcho != 0 }

// Mode returns the packet mode: ModeInitiator, ModeResponder or ModeStartup.
func (h Header) Mode() byte { return h.Flags & HeaderModeMask }

// TimeCritical reports the TC flag.
func (h Header) TimeCritical() bool { return h.Flags&HeaderTimeCritical != 0 }

// TimeCriticalReverse reports the TCR flag.
func (h Header) TimeCriticalReverse() bool { return h.Flags&HeaderTimeCriticalReverse != 0 }

// Len returns the encoded size of h: 1, 3 or 5 bytes.
func (h Header) Len() int {
	n := 1
	if h.HasTimestamp() {
		n += 2
	}
	if h.HasEcho() {
		n += 2
	}
	return n
}

// Append appends the encoding of h to b.
func (h Header) Append(b []byte) []byte {
	b = append(b, h.Flags)
	if h.HasTimestamp() {
		b = binary.BigEndian.AppendUint16(b, h.Timestamp)
	}
	if h.HasEcho() {
		b = binary.BigEndian.AppendUint16(b, h.Echo)
	}
	return b
}

// ParseHeader reads the header at the start of body, the decrypted packet
// after its integrity prefix. It returns the header and its size; the chunks
// start at body[n:]. Fields whose flag is clear are left zero. A packet with
// mode 0 yields ErrForbiddenMode; reserved bits are kept.
func ParseHeader(body []byte) (Header, int, error) {
	if len(body) < 1 {
		return Header{}, 0, ErrTruncated
	}
	h := Header{Flags: body[0]}
	if h.Mode() == 0 {
		return Header{}, 0, ErrForbiddenMode
	}
	n := 1
	if h.HasTimestamp() {
		if len(body) < n+2 {
			return Header{}, 0, ErrTruncated
		}
		h.Timestamp = binary.BigEndian.Uint16(body[n:])
		n += 2
	}
	if h.HasEcho() {
		if len(body) < n+2 {
			return Header{}, 0, ErrTruncated
		}
		h.Echo = binary.BigEndian.Uint16(body[n:])
		n += 2
	}
	return h, n, nil
}
