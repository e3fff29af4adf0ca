package group

import (
	"encoding/hex"
	"net/netip"
	"sort"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// SpecBuilder writes groupspec strings the way AS3 GroupSpecifier.toString()
// lays them out. AS3 writes options in a fixed order that is not the type
// order; the order used here, 7F 01 00 03 05 0C 0D 0E 1B then any other type
// ascending, is the one consistent with the three real specs available
// (librtmfp's README and runViewers.sh, OSMF's multicast sample); where 05
// falls relative to 00 and 03, and where other codes go, is a guess.
// Options of the same type keep the order they were added in (the name
// before the makeUnique() bytes). Then come the 00 marker and the options
// after it (authorizations, IP multicast addresses) in the order added. Hex
// is lowercase.
//
// The zero value builds a version-1 spec with no options.
type SpecBuilder struct {
	version2 bool
	opts     []SpecOption
	trailer  []SpecOption
}

// NewSpecBuilder starts a version-2 spec named name, as current Flash
// Players create it.
func NewSpecBuilder(name string) *SpecBuilder {
	b := &SpecBuilder{version2: true}
	return b.Option(OptName, []byte(name))
}

// Version2 selects (true) or removes (false) the 7F 02 version option.
func (b *SpecBuilder) Version2(on bool) *SpecBuilder {
	b.version2 = on
	return b
}

// Flag adds the single-byte flag option typ (see the OptFlag constants).
func (b *SpecBuilder) Flag(typ byte) *SpecBuilder { return b.Option(typ, nil) }

// Option adds an option with a value before the marker. Option 0x7F is
// managed by Version2 and ignored here.
func (b *SpecBuilder) Option(typ byte, value []byte) *SpecBuilder {
	if typ == OptVersion {
		return b
	}
	b.opts = append(b.opts, SpecOption{Type: uint64(typ), Value: append([]byte(nil), value...)})
	return b
}

// TrailerOption adds an option after the marker.
func (b *SpecBuilder) TrailerOption(typ byte, value []byte) *SpecBuilder {
	b.trailer = append(b.trailer, SpecOption{Type: uint64(typ), Value: append([]byte(nil), value...)})
	return b
}

// IPMulticast adds an IP multicast address after the marker (option 0x0A).
func (b *SpecBuilder) IPMulticast(ap netip.AddrPort) *SpecBuilder {
	return b.TrailerOption(OptIPMulticast, AppendIPMulticast(nil, ap))
}

// Build returns the spec.
func (b *SpecBuilder) Build() *Spec {
	opts := append([]SpecOption(nil), b.opts...)
	sort.SliceStable(opts, func(i, j int) bool { return specRank(opts[i].Type) < specRank(opts[j].Type) })
	if b.version2 {
		opts = append([]SpecOption{{Type: uint64(OptVersion), Value: []byte{2}}}, opts...)
	}
	var raw []byte
	for _, o := range opts {
		raw = vlu.AppendOption(raw, o.Type, o.Value)
	}
	marker := 2 + 2*len(raw)
	raw = vlu.AppendMarker(raw)
	for _, o := range b.trailer {
		raw = vlu.AppendOption(raw, o.Type, o.Value)
	}
	return &Spec{
		text:    "G:" + hex.EncodeToString(raw),
		marker:  marker,
		hashed:  opts,
		trailer: append([]SpecOption(nil), b.trailer...),
	}
}

// specOrder is the option order of AS3 GroupSpecifier.toString() as far as
// real specs show it.
var specOrder = []byte{OptVersion, OptFlag01, OptFlag00, OptFlag03, OptPasswordDigest, OptFlag0C, OptFlag0D, OptName, OptFlag1B}

// specRank sorts known types by specOrder, then unknown ones by type.
func specRank(t uint64) uint64 {
	for i, k := range specOrder {
		if uint64(k) == t {
			return uint64(i)
		}
	}
	return uint64(len(specOrder)) + t
}
