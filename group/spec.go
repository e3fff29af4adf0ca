package group

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// Option types of a GroupSpecifier.
//
// Only OptVersion, OptName and OptIPMulticast are understood. The option
// list before the 00 marker also holds single-byte "flag" options (an option
// whose length is 1: a type and no value) that switch on GroupSpecifier
// capabilities; which code means which property is not documented by any
// source available to this project (rtmfp-facts §6.1, §13 item 2). The
// constants below name the codes seen in real specs; the property named in
// each comment is a guess, not a fact.
const (
	// OptVersion (0x7F) holds the groupspec version: value 02 selects the
	// version-2 group ID (double SHA-256).
	OptVersion byte = 0x7F
	// OptName (0x0E) is the group name (UTF-8). Specs made unique by
	// makeUnique() carry a second 0x0E option with 32 random bytes (inferred
	// from OSMF samples).
	OptName byte = 0x0E
	// OptPasswordDigest (0x05) with a 32-byte value appears in
	// password-protected specs; probably the SHA-256 of a publish or posting
	// password. Uncertain.
	OptPasswordDigest byte = 0x05
	// OptIPMulticast (0x0A) after the marker is an IP multicast address:
	// 4-byte IPv4 address and 16-bit port (value of 6 bytes); an IPv6
	// address is presumably 16 bytes and a port (18 bytes). Inferred from
	// OSMF/FMS samples; IPv6 never seen.
	OptIPMulticast byte = 0x0A
	// OptAuthorization (0x15) after the marker appears to hold a clear-text
	// authorization (seen once: "realeyes"). Uncertain.
	OptAuthorization byte = 0x15

	// Flag option codes seen in real specs. Guessed meanings (unconfirmed):
	// 0x01, 0x0C and 0x1B appear in every multicast spec seen, so they
	// probably include serverChannelEnabled and multicastEnabled; 0x03 (only
	// in the librtmfp test spec) may be postingEnabled, routingEnabled or
	// objectReplicationEnabled; 0x00 and 0x0D appear once each.
	OptFlag00 byte = 0x00
	OptFlag01 byte = 0x01
	OptFlag03 byte = 0x03
	OptFlag0C byte = 0x0C
	OptFlag0D byte = 0x0D
	OptFlag1B byte = 0x1B
)

// Errors returned by ParseSpec.
var (
	ErrSpecPrefix = errors.New("group: a groupspec starts with \"G:\"")
	ErrSpecHex    = errors.New("group: groupspec is not hex")
	ErrSpecMarker = errors.New("group: groupspec has no 00 marker")
	ErrSpecOption = errors.New("group: malformed groupspec option")
)

// SpecOption is one option of a GroupSpecifier. Value aliases the parsed
// bytes.
type SpecOption struct {
	Type  uint64
	Value []byte
}

// IsFlag reports whether o is a single-byte flag option (no value).
func (o SpecOption) IsFlag() bool { return len(o.Value) == 0 }

// Spec is a parsed GroupSpecifier string: "G:" followed by the hex of an
// option list closed by a 00 marker (the part that identifies the group),
// then optionally more options (authorizations and IP multicast addresses)
// that do not change the group ID.
type Spec struct {
	text    string       // the string as given (its case matters for hashing)
	marker  int          // offset in text of the 00 marker's hex
	hashed  []SpecOption // options before the marker
	trailer []SpecOption // options after the marker
}

// ParseSpec parses a groupspec string. Hex digits of either case are
// accepted; the text is kept as given because the group ID hashes it.
// Option lengths are VLUs (librtmfp reads a single byte; they agree below
// 128). Zero-length entries after the marker are skipped.
func ParseSpec(s string) (*Spec, error) {
	if !strings.HasPrefix(s, "G:") {
		return nil, ErrSpecPrefix
	}
	raw, err := hex.DecodeString(s[2:])
	if err != nil {
		return nil, ErrSpecHex
	}
	sp := &Spec{text: s}
	it := vlu.NewOptionList(raw)
	for it.Next() {
		o := it.Option()
		sp.hashed = append(sp.hashed, SpecOption{o.Type, o.Value})
	}
	if it.Err() != nil {
		return nil, ErrSpecOption
	}
	if !it.Marker() {
		return nil, ErrSpecMarker
	}
	sp.marker = 2 + 2*(it.Consumed()-1)
	rest := vlu.NewOptions(raw[it.Consumed():])
	for rest.Next() {
		o := rest.Option()
		sp.trailer = append(sp.trailer, SpecOption{o.Type, o.Value})
	}
	if rest.Err() != nil {
		return nil, ErrSpecOption
	}
	return sp, nil
}

// String returns the groupspec text as parsed or built.
func (s *Spec) String() string { return s.text }

// GroupTxt returns the text that identifies the group: the spec from "G:"
// up to but excluding the 00 marker. The group ID and the group key are
// computed from it.
func (s *Spec) GroupTxt() string { return s.text[:s.marker] }

// Options returns the options before the marker (the hashed part), in
// order. The slice is shared; do not modify it.
func (s *Spec) Options() []SpecOption { return s.hashed }

// Trailer returns the options after the marker (authorizations and IP
// multicast addresses), in order. The slice is shared; do not modify it.
func (s *Spec) Trailer() []SpecOption { return s.trailer }

// Find returns the value of the first hashed option of the given type.
func (s *Spec) Find(typ byte) ([]byte, bool) {
	for _, o := range s.hashed {
		if o.Type == uint64(typ) {
			return o.Value, true
		}
	}
	return nil, false
}

// HasFlag reports whether the hashed part holds the single-byte flag
// option typ.
func (s *Spec) HasFlag(typ byte) bool {
	for _, o := range s.hashed {
		if o.Type == uint64(typ) && o.IsFlag() {
			return true
		}
	}
	return false
}

// Flags returns the codes of the single-byte flag options, in order.
func (s *Spec) Flags() []byte {
	var f []byte
	for _, o := range s.hashed {
		if o.IsFlag() && o.Type <= 0xFF {
			f = append(f, byte(o.Type))
		}
	}
	return f
}

// Version returns the groupspec version: 2 when option 0x7F holds 02,
// otherwise 1.
func (s *Spec) Version() int {
	if v, ok := s.Find(OptVersion); ok && len(v) == 1 && v[0] == 2 {
		return 2
	}
	return 1
}

// Name returns the group name (the first option 0x0E).
func (s *Spec) Name() (string, bool) {
	v, ok := s.Find(OptName)
	return string(v), ok
}

// GroupID computes the group ID from GroupTxt and Version.
func (s *Spec) GroupID() GroupID { return ComputeGroupID(s.GroupTxt(), s.Version()) }

// IPMulticastAddresses decodes the 0x0A options after the marker. Options
// of type 0x0A whose value is neither 6 nor 18 bytes are skipped.
func (s *Spec) IPMulticastAddresses() []netip.AddrPort {
	var out []netip.AddrPort
	for _, o := range s.trailer {
		if o.Type != uint64(OptIPMulticast) {
			continue
		}
		if ap, ok := DecodeIPMulticast(o.Value); ok {
			out = append(out, ap)
		}
	}
	return out
}

// DecodeIPMulticast decodes the value of an IP multicast option: an IPv4
// address and port (6 bytes) or an IPv6 address and port (18 bytes).
func DecodeIPMulticast(v []byte) (netip.AddrPort, bool) {
	var ip netip.Addr
	switch len(v) {
	case 6:
		ip = netip.AddrFrom4([4]byte(v[:4]))
	case 18:
		ip = netip.AddrFrom16([16]byte(v[:16]))
	default:
		return netip.AddrPort{}, false
	}
	port := uint16(v[len(v)-2])<<8 | uint16(v[len(v)-1])
	return netip.AddrPortFrom(ip, port), true
}

// AppendIPMulticast appends the value of an IP multicast option for ap.
// IPv4 and IPv4-mapped IPv6 addresses are written in the 4-byte form.
func AppendIPMulticast(b []byte, ap netip.AddrPort) []byte {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		a := ip.As4()
		b = append(b, a[:]...)
	} else {
		a := ip.As16()
		b = append(b, a[:]...)
	}
	return append(b, byte(ap.Port()>>8), byte(ap.Port()))
}
