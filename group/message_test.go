package group

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Messages copied from the c_netgroup capture.
var messageVectors = []struct {
	name string
	gc   bool
	hex  string
}{
	{"join", true, "012115763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620"},
	{"member", true, "0b9d361aaf9d716f21b06178cba342319c2602dcc5dc552ef5a7bdf7fd784c30e2"},
	{"init", false, "0141003736336639306534623532346130653032363035326262353639366264313433323436663236633665623062396661333162306431656433396130393236323021" +
		"01efa076eae8a028c4e5e94e80442a746035c8e621fb23940ce08a504eb068c00f2303210f9d361aaf9d716f21b06178cba342319c2602dcc5dc552ef5a7bdf7fd784c30e2"},
	{"data", false, "02"},
	{"begin", false, "0e"},
	{"report-ipv4", false, "0a080d027f000001a642080a037f0000014b9b0022210f9d361aaf9d716f21b06178cba342319c2602dcc5dc552ef5a7bdf7fd784c30e2000f0a037f0000014b9b027f000001a64200"},
	{"report-self", false, "0a080d027f0000019550080a037f0000014b9b0022210ff1b9603fff754c2c69e93d772e5480526dd9dc6897d7f3fa3ad98e7eceb7df8b01010a00"},
	{"report-ipv6", false, "0a140d82fd00000000000000000000000000000281030f0a037f0000014b9b027f000001a6420022210f362bb5d1c8716067cf8a0f3994717ebd1951ea8c61736097c30c5e2ddd34706e" +
		"000f0a037f0000014b9b027f000001841c0022210ff1b9603fff754c2c69e93d772e5480526dd9dc6897d7f3fa3ad98e7eceb7df8b00080a037f0000014b9b00"},
	// Synthetic: leading 01 xx options (Flash, per librtmfp's reader), a
	// 0x0F begin, an ask-close and an old-form join.
	{"report-leading", false, "0a01050107080d027f000001a642080a037f0000014b9b00"},
	{"begin-nearest", false, "0f"},
	{"ask-close", false, "0c"},
	{"join-old", true, "011d10" + "473a3032376630323031303130313033303130633035306537343635"},
}

func decodeAny(gc bool, b []byte) (Message, error) {
	if gc {
		return DecodeGC(b)
	}
	return DecodeGR(b)
}

func TestMessageVectors(t *testing.T) {
	for _, v := range messageVectors {
		b := unhex(t, v.hex)
		m, err := decodeAny(v.gc, b)
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		if m.Type() != b[0] || m.Len() != len(b) || !bytes.Equal(m.Append(nil), b) {
			t.Errorf("%s: re-encodes to %x (Len %d)", v.name, m.Append(nil), m.Len())
		}
		// Every strict prefix fails without panicking, except where the
		// grammar legitimately ends early.
		for i := range len(b) {
			if m2, err := decodeAny(v.gc, b[:i]); err == nil && m2.Type() != TypeData && m2.Type() != TypeReport {
				t.Errorf("%s: prefix %d decodes as %T", v.name, i, m2)
			}
		}
	}
}

func TestMessageFields(t *testing.T) {
	sp, _ := ParseSpec(traceSpec)
	j, err := ParseJoin(unhex(t, messageVectors[0].hex))
	if err != nil || j.ID() != sp.GroupID() {
		t.Errorf("join: %v %v", j, err)
	}
	old, err := ParseJoin(unhex(t, messageVectors[len(messageVectors)-1].hex))
	if err != nil || old.ID() != GroupIDFromSpecBytes(old.Spec) || !strings.HasPrefix(string(old.Spec), "G:027f") {
		t.Errorf("old join: %v", err)
	}
	in, err := ParseInit(unhex(t, messageVectors[2].hex))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := in.GroupID(); err != nil || id != sp.GroupID() || in.PeerID != tracePlayer1 {
		t.Errorf("init fields %v %v", in, err)
	}
	if !bytes.Equal(NewInit(sp.GroupID(), in.Key, tracePlayer1).Append(nil), unhex(t, messageVectors[2].hex)) {
		t.Error("NewInit differs from the wire")
	}
	r, err := ParseReport(unhex(t, messageVectors[7].hex))
	if err != nil {
		t.Fatal(err)
	}
	if r.FarAddress.AddrPort != netip.MustParseAddrPort("[fd00::2]:33027") || r.FarAddress.Origin != wire.OriginObserved {
		t.Errorf("far address %v", r.FarAddress)
	}
	if len(r.Addresses.Addresses) != 2 || r.Addresses.Addresses[0].Origin != wire.OriginRelay || len(r.Peers) != 2 {
		t.Errorf("report %+v", r)
	}
	if id, ok := r.Peers[1].PeerID(); !ok || id != tracePublisher || r.Peers[1].Elapsed != 0 {
		t.Errorf("entry %+v", r.Peers[1])
	}
	// Built from parts, the report matches the wire.
	built := Report{
		FarAddress: r.FarAddress,
		Addresses:  AddressList{Addresses: r.Addresses.Addresses},
		Peers: []ReportEntry{
			NewReportEntry(tracePlayer2, 0, r.Peers[0].Addresses.Addresses...),
			NewReportEntry(tracePublisher, 0, r.Peers[1].Addresses.Addresses...),
		},
	}
	if !bytes.Equal(built.Append(nil), unhex(t, messageVectors[7].hex)) {
		t.Errorf("built report %x", built.Append(nil))
	}
	lead, _ := ParseReport(unhex(t, "0a01050107080d027f000001a642080a037f0000014b9b00"))
	if len(lead.Leading) != 2 || lead.Leading[1].Type != 7 {
		t.Errorf("leading options %+v", lead.Leading)
	}
}

func TestReportLen8(t *testing.T) {
	// An address block of 0x82 bytes written with a one-byte length.
	var addrs []wire.Address
	for i := range 9 {
		addrs = append(addrs, wire.Address{AddrPort: netip.AddrPortFrom(netip.IPv6Loopback(), uint16(i)), Origin: 1})
	}
	addrs = append(addrs, wire.Address{AddrPort: netip.MustParseAddrPort("1.2.3.4:5"), Origin: 2}) // 9·19+7+1 = 179
	for _, len8 := range []bool{false, true} {
		r := Report{FarAddress: addrs[9], Addresses: AddressList{Addresses: addrs, Len8: len8}}
		b := r.Append(nil)
		got, err := ParseReport(b)
		if err != nil || got.Addresses.Len8 != len8 || len(got.Addresses.Addresses) != 10 || r.Len() != len(b) {
			t.Errorf("len8=%v: %v %v", len8, err, got.Addresses.Len8)
		}
		if !bytes.Equal(got.Append(nil), b) {
			t.Errorf("len8=%v: not byte exact", len8)
		}
	}
}

func TestMessageErrors(t *testing.T) {
	cases := []struct {
		gc   bool
		hex  string
		want error
	}{
		{true, "", ErrTruncated},
		{true, "0e", ErrType},
		{false, "0b", ErrType},
		{true, "0b00", ErrTruncated},
		{true, "0b" + strings.Repeat("00", 33), ErrTrailing},
		{true, "012215" + strings.Repeat("00", 33), ErrFormat},
		{true, "012115" + strings.Repeat("00", 33), ErrTrailing},
		{true, "0100", ErrFormat},
		{false, "01410041", ErrTruncated},
		{false, "0141" + "01" + strings.Repeat("30", 64), ErrFormat},
		{false, "0141" + "00" + strings.Repeat("7a", 64), ErrFormat},
		{false, "0a00", ErrFormat},
		{false, "0a080d027f000001a642080b037f0000014b9b00", ErrFormat},
		{false, "0a080d027f000001a642000a", ErrFormat},
		{false, "0a080d027f000001a642080a037f0000014b9b01", ErrFormat},
		{false, "0a080d027f000001a642050a037f0000", ErrFormat},
		{false, "0a090d027f000001a64200080a037f0000014b9b00", ErrFormat},
		{false, "0a080d027f000001a642080a037f0000014b9b0022", ErrTruncated},
	}
	for _, c := range cases {
		_, err := decodeAny(c.gc, unhex(t, c.hex))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.hex, err, c.want)
		}
	}
}
