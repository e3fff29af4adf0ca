package group

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseSpecKnownAnswer(t *testing.T) {
	sp, err := ParseSpec(traceSpec)
	if err != nil {
		t.Fatal(err)
	}
	if got := sp.GroupTxt(); got != "G:027f0201010103010c050e74657374011b" {
		t.Errorf("GroupTxt = %q", got)
	}
	if sp.Version() != 2 {
		t.Errorf("version %d", sp.Version())
	}
	if name, ok := sp.Name(); !ok || name != "test" {
		t.Errorf("name %q %v", name, ok)
	}
	if got := string(sp.Flags()); got != "\x01\x03\x0c\x1b" {
		t.Errorf("flags %x", got)
	}
	if !sp.HasFlag(OptFlag0C) || sp.HasFlag(OptFlag0D) {
		t.Error("HasFlag")
	}
	// The group ID the three members sent to the server in c_netgroup.
	const want = "763f90e4b524a0e026052bb5696bd143246f26c6eb0b9fa31b0d1ed39a092620"
	if got := sp.GroupID().String(); got != want {
		t.Errorf("group ID %s, want %s", got, want)
	}
	if len(sp.Trailer()) != 0 || sp.String() != traceSpec {
		t.Error("trailer or text")
	}
}

func TestSpecVersion1AndCase(t *testing.T) {
	// Version 1 hashes once; the text is hashed as given, so upper case
	// gives another group.
	lower, err := ParseSpec("G:01010103010c050e74657374011b00")
	if err != nil {
		t.Fatal(err)
	}
	upper, err := ParseSpec("G:01010103010C050E74657374011B00")
	if err != nil {
		t.Fatal(err)
	}
	if lower.Version() != 1 || lower.GroupID() != ComputeGroupID("G:01010103010c050e74657374011b", 1) {
		t.Error("v1 group ID")
	}
	if upper.GroupTxt() != "G:01010103010C050E74657374011B" || upper.GroupID() == lower.GroupID() {
		t.Error("upper-case text not kept")
	}
	if n, _ := upper.Name(); n != "test" {
		t.Error("upper-case name")
	}
}

func TestSpecIPMulticast(t *testing.T) {
	// OSMF-style spec: digest, name, unique bytes, marker, then an IPv4
	// multicast address 224.0.0.254:33099.
	digest := strings.Repeat("ab", 32)
	unique := strings.Repeat("cd", 32)
	s := "G:0101" + "2105" + digest + "010c" + "170e" + "6f72672e6f736d662e6e65742e6d756c746963617374" +
		"210e" + unique + "011b" + "00" + "070ae00000fe814b"
	sp, err := ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := sp.Name(); n != "org.osmf.net.multicast" || sp.Version() != 1 {
		t.Errorf("name %q version %d", n, sp.Version())
	}
	addrs := sp.IPMulticastAddresses()
	if len(addrs) != 1 || addrs[0] != netip.MustParseAddrPort("224.0.0.254:33099") {
		t.Errorf("addresses %v", addrs)
	}
	if v, ok := sp.Find(OptPasswordDigest); !ok || len(v) != 32 {
		t.Error("digest")
	}
	if strings.Contains(sp.GroupTxt(), "070a") {
		t.Error("GroupTxt includes the trailer")
	}
	// The builder reproduces it byte for byte (options sorted by type,
	// the two names in insertion order).
	b := (&SpecBuilder{}).Flag(OptFlag1B).Option(OptName, []byte("org.osmf.net.multicast")).
		Option(OptName, unhex(t, unique)).Flag(OptFlag0C).Option(OptPasswordDigest, unhex(t, digest)).
		Flag(OptFlag01).IPMulticast(netip.MustParseAddrPort("224.0.0.254:33099"))
	if got := b.Build().String(); got != s {
		t.Errorf("builder:\n got %s\nwant %s", got, s)
	}
}

func TestSpecBuilder(t *testing.T) {
	cases := []struct {
		b    *SpecBuilder
		want string
	}{
		{NewSpecBuilder("test").Flag(OptFlag1B).Flag(OptFlag0C).Flag(OptFlag03).Flag(OptFlag01), traceSpec},
		// librtmfp TestClient/runViewers.sh
		{NewSpecBuilder("test").Flag(OptFlag00).Flag(OptFlag01).Flag(OptFlag03).Flag(OptFlag0C).Flag(OptFlag1B),
			"G:027f02010101000103010c050e74657374011b00"},
		{(&SpecBuilder{}).Option(OptName, []byte("x")).IPMulticast(netip.MustParseAddrPort("[ff0e::1]:30000")),
			"G:020e7800130aff0e" + strings.Repeat("00", 13) + "01 7530"},
	}
	for _, c := range cases {
		want := strings.ReplaceAll(c.want, " ", "")
		sp := c.b.Build()
		if sp.String() != want {
			t.Errorf("got  %s\nwant %s", sp.String(), want)
			continue
		}
		again, err := ParseSpec(sp.String())
		if err != nil || again.GroupTxt() != sp.GroupTxt() || len(again.Options()) != len(sp.Options()) {
			t.Errorf("%s does not parse back: %v", want, err)
		}
	}
	v6 := NewSpecBuilder("x").IPMulticast(netip.MustParseAddrPort("[ff0e::1]:30000")).
		IPMulticast(netip.MustParseAddrPort("[::ffff:239.1.2.3]:30000")).Build()
	got := v6.IPMulticastAddresses()
	if len(got) != 2 || got[0].String() != "[ff0e::1]:30000" || got[1].String() != "239.1.2.3:30000" {
		t.Errorf("IPv6 multicast %v", got)
	}
}

func TestParseSpecErrors(t *testing.T) {
	cases := map[string]error{
		"":                         ErrSpecPrefix,
		"g:00":                     ErrSpecPrefix,
		"G:0z":                     ErrSpecHex,
		"G:0":                      ErrSpecHex,
		"G:0101":                   ErrSpecMarker,
		"G:":                       ErrSpecMarker,
		"G:05":                     ErrSpecOption,
		"G:00" + "05":              ErrSpecOption,
		"G:027f02010101000103010c": ErrSpecMarker,
	}
	for in, want := range cases {
		if _, err := ParseSpec(in); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
	}
}
