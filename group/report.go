package group

import (
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Option and block types of a group report.
const (
	reportOptFarAddress byte = 0x0D
	reportBlockAddrs    byte = 0x0A
)

// MaxReportLen bounds the report size a sender builds (librtmfp's
// NETGROUP_MAX_REPORT_SIZE).
const MaxReportLen = 20000

// AddressList is an address block of a group report: a length, the byte
// 0A, then RTMFP addresses (RFC 7016 §2.1.5 address encoding, origin in
// the flags: 3 for the server the member is connected to, 2 public, 1
// local).
type AddressList struct {
	Addresses []wire.Address
	// Len8 records a length written as one plain byte although it is at
	// least 0x82 (librtmfp reads such a byte as a length, "protection for
	// wrong 8 bits sized addresses"); the encoder then writes it the same
	// way.
	Len8 bool
}

func (l AddressList) bodyLen() int {
	n := 1
	for _, a := range l.Addresses {
		n += a.Len()
	}
	return n
}

// Len returns the encoded size, length field included.
func (l AddressList) Len() int {
	n := l.bodyLen()
	if l.len8(n) {
		return 1 + n
	}
	return vlu.Len(uint64(n)) + n
}

func (l AddressList) len8(n int) bool { return l.Len8 && n >= 0x82 && n <= 0xFF }

// Append appends the encoding to b.
func (l AddressList) Append(b []byte) []byte {
	n := l.bodyLen()
	if l.len8(n) {
		b = append(b, byte(n))
	} else {
		b = vlu.Append(b, uint64(n))
	}
	b = append(b, reportBlockAddrs)
	for _, a := range l.Addresses {
		b = a.Append(b)
	}
	return b
}

// parseAddressList reads an address block at the start of b.
func parseAddressList(b []byte) (AddressList, int, error) {
	if len(b) == 0 {
		return AddressList{}, 0, ErrTruncated
	}
	var l AddressList
	var size uint64
	var n int
	if b[0] > 0x81 {
		size, n, l.Len8 = uint64(b[0]), 1, true
	} else {
		var err error
		if size, n, err = vlu.Parse(b); err != nil {
			return AddressList{}, 0, ErrTruncated
		}
	}
	if size == 0 {
		return AddressList{}, 0, ErrFormat
	}
	if size > uint64(len(b)-n) {
		return AddressList{}, 0, ErrTruncated
	}
	body := b[n : n+int(size)]
	if body[0] != reportBlockAddrs {
		return AddressList{}, 0, ErrFormat
	}
	for p := body[1:]; len(p) > 0; {
		a, an, err := wire.ParseAddress(p)
		if err != nil {
			return AddressList{}, 0, ErrFormat
		}
		l.Addresses = append(l.Addresses, a)
		p = p[an:]
	}
	return l, n + int(size), nil
}

// ReportEntry is one peer of a group report.
type ReportEntry struct {
	// Key identifies the peer: its raw peer ID (21 0F ‖ ID) in every report
	// seen. Written with a VLU length (0x22).
	Key []byte
	// Elapsed is the time in seconds since the sender last heard of the
	// peer; receivers ignore entries at or above 300.
	Elapsed uint64
	// Addresses are the peer's server address (origin 3) and its own.
	Addresses AddressList
}

// NewReportEntry builds an entry for a peer.
func NewReportEntry(id profile.PeerID, elapsed uint64, addrs ...wire.Address) ReportEntry {
	raw := RawPeerID(id)
	return ReportEntry{Key: raw[:], Elapsed: elapsed, Addresses: AddressList{Addresses: addrs}}
}

// PeerID returns the entry's peer ID when Key is a raw peer ID.
func (e ReportEntry) PeerID() (profile.PeerID, bool) { return ParseRawPeerID(e.Key) }

func (e ReportEntry) len() int {
	return vlu.Len(uint64(len(e.Key))) + len(e.Key) + vlu.Len(e.Elapsed) + e.Addresses.Len()
}

func (e ReportEntry) append(b []byte) []byte {
	b = vlu.Append(b, uint64(len(e.Key)))
	b = append(b, e.Key...)
	b = vlu.Append(b, e.Elapsed)
	return e.Addresses.Append(b)
}

// Report is the group report (0x0A) members exchange on the GR 1C flow
// (rtmfp-facts §6.7; librtmfp NetGroup::sendGroupReport/readGroupReport):
//
//	0A
//	[options]                         Leading (librtmfp skips "01 xx" here)
//	VLU(L) 0D <address>               how the sender sees the receiver
//	VLU(L) 0A <addresses>             the sender's server address (origin 3), then its own
//	00
//	for each peer the sender proposes to the receiver (its best list for it):
//	  22 21 0F <32-byte peer ID>
//	  VLU seconds since last heard of
//	  VLU(L) 0A <addresses>
//	  00
type Report struct {
	Leading    []vlu.Option
	FarAddress wire.Address
	Addresses  AddressList
	Peers      []ReportEntry
	// Unterminated is set when the 00 after the last block is missing
	// (librtmfp accepts it; it always writes it).
	Unterminated bool
}

// Type returns TypeReport.
func (Report) Type() byte { return TypeReport }

// Len returns the encoded size.
func (r Report) Len() int {
	n := 1
	for _, o := range r.Leading {
		n += o.Len()
	}
	l := 1 + r.FarAddress.Len()
	n += vlu.Len(uint64(l)) + l + r.Addresses.Len()
	for _, e := range r.Peers {
		n += 1 + e.len()
	}
	if !r.Unterminated {
		n++
	}
	return n
}

// Append appends the encoding to b.
func (r Report) Append(b []byte) []byte {
	b = append(b, TypeReport)
	for _, o := range r.Leading {
		b = o.Append(b)
	}
	b = vlu.Append(b, uint64(1+r.FarAddress.Len()))
	b = append(b, reportOptFarAddress)
	b = r.FarAddress.Append(b)
	b = r.Addresses.Append(b)
	for _, e := range r.Peers {
		b = append(b, 0)
		b = e.append(b)
	}
	if !r.Unterminated {
		b = append(b, 0)
	}
	return b
}

// ParseReport decodes a group report.
func ParseReport(b []byte) (Report, error) {
	if len(b) == 0 {
		return Report{}, ErrTruncated
	}
	if b[0] != TypeReport {
		return Report{}, ErrType
	}
	var r Report
	p := b[1:]
	// Options up to and including the far address.
	for {
		o, n, marker, err := vlu.ParseOption(p)
		if err != nil {
			return Report{}, ErrTruncated
		}
		if marker {
			return Report{}, ErrFormat
		}
		p = p[n:]
		if o.Type != uint64(reportOptFarAddress) {
			r.Leading = append(r.Leading, o)
			continue
		}
		a, an, err := wire.ParseAddress(o.Value)
		if err != nil || an != len(o.Value) {
			return Report{}, ErrFormat
		}
		r.FarAddress = a
		break
	}
	l, n, err := parseAddressList(p)
	if err != nil {
		return Report{}, err
	}
	r.Addresses, p = l, p[n:]
	if len(p) == 0 {
		r.Unterminated = true
		return r, nil
	}
	if p[0] != 0 {
		return Report{}, ErrFormat
	}
	p = p[1:]
	for len(p) > 0 {
		var e ReportEntry
		size, n, err := vlu.Parse(p)
		if err != nil {
			return Report{}, ErrTruncated
		}
		if size > uint64(len(p)-n) {
			return Report{}, ErrTruncated
		}
		e.Key = p[n : n+int(size) : n+int(size)]
		p = p[n+int(size):]
		if e.Elapsed, n, err = vlu.Parse(p); err != nil {
			return Report{}, ErrTruncated
		}
		p = p[n:]
		if e.Addresses, n, err = parseAddressList(p); err != nil {
			return Report{}, err
		}
		p = p[n:]
		r.Peers = append(r.Peers, e)
		if len(p) == 0 {
			r.Unterminated = true
			break
		}
		if p[0] != 0 {
			return Report{}, ErrFormat
		}
		p = p[1:]
	}
	return r, nil
}
