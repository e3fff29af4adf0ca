package amsmulticast

import (
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// p2pSpec is librtmfp's README spec (group "test", multicast).
const p2pSpec = "G:027f0201010103010c050e74657374011b00"

// fusionSpec lists 239.1.2.3:30000 after its marker (OSMF's fusion
// sample, group "fms.multicast.example").
const fusionSpec = "G:010c160e666d732e6d756c746963617374" + "2e6578616d706c6500070aef0102037530"

// authSpec has a password and its authorization (OSMF's plugin sample).
const authSpec = "G:01012105f8cd3b377cf93646b30b07f29cf917d68d63c26ac60af46f0563829280d48fc5010c160e666d732e6d756c7469636173742e6578616d706c650009157265616c65796573"

// streamName is what the configurator wrote: the query of the stream name
// with the groupspec escape()d as ActionScript does (":" as %3A).
func streamName(typ, spec string, extra ...string) url.Values {
	raw := "fms.multicast.type=" + typ + "&fms.multicast.groupspec=" + strings.ReplaceAll(spec, ":", "%3A")
	for _, e := range extra {
		raw += "&" + e
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		panic(err)
	}
	return q
}

func TestParse(t *testing.T) {
	fusion := fixSpec(t, fusionSpec)
	r, err := Parse(streamName("3", p2pSpec))
	if err != nil || r.Type != PeerToPeer || r.Spec.String() != p2pSpec || r.Address != "" || len(r.Ignored) != 0 {
		t.Fatalf("type 3: %+v, %v", r, err)
	}
	// Fusion: the address given, else the groupspec's.
	r, err = Parse(streamName("1", fusion, "fms.multicast.address=224.0.0.254:30000", "fms.multicast.interface=eth1"))
	if err != nil || r.Type != Fusion || r.Address != "224.0.0.254:30000" || r.Interface != "eth1" {
		t.Fatalf("type 1 with address: %+v, %v", r, err)
	}
	r, err = Parse(streamName("2", fusion))
	if err != nil || r.Type != IPMulticast || r.Address != "239.1.2.3:30000" {
		t.Fatalf("type 2, the groupspec's address: %+v, %v", r, err)
	}
	r, err = Parse(streamName("1", p2pSpec, "fms.multicast.address=[ff03::1]", "fms.multicast.port=5000"))
	if err != nil || r.Address != "[ff03::1]:5000" {
		t.Fatalf("IPv6 address and port apart: %+v, %v", r, err)
	}
	// Names without regard to case; properties with or without
	// "multicast"; unknown parameters and a P2P event's address ignored.
	r, err = Parse(streamName("3", authSpec, "FMS.Multicast.WindowDuration=4", "fms.multicast.multicastFetchPeriod=0.5",
		"fms.multicast.pushNeighborLimit=-3", "fms.multicast.availabilitySendToAll=true",
		"fms.multicast.relayMarginDuration=1e12", "fms.multicast.address=239.0.0.1:1", "fms.multicast.future=x", "token=abc"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fms.multicast.address", "fms.multicast.future"}; !slices.Equal(r.Ignored, want) || r.Address != "" {
		t.Fatalf("ignored %q (want %q), address %q", r.Ignored, want, r.Address)
	}
	c := r.Properties.Apply(multicast.DefaultConfig())
	d := multicast.DefaultConfig()
	if c.Window != 4*time.Second || c.FetchPeriod != 500*time.Millisecond || c.PushNeighborLimit != 0 || !c.SendToAll ||
		c.RelayMargin != multicast.MaxPeriod || c.UpdatePeriod != d.UpdatePeriod {
		t.Fatalf("properties %+v", c)
	}
	if !Has(streamName("3", p2pSpec)) || Has(url.Values{"token": {"x"}}) || Has(nil) {
		t.Fatal("Has")
	}
}

func TestParseErrors(t *testing.T) {
	fusion := fixSpec(t, fusionSpec)
	noAuth, _ := group.ParseSpec(authSpec)
	for _, c := range []struct {
		q           url.Values
		param, want string
	}{
		{url.Values{"fms.multicast.groupspec": {p2pSpec}}, ParamType, "required"},
		{streamName("4", p2pSpec), ParamType, "unknown type"},
		{streamName("x", p2pSpec), ParamType, "unknown type"},
		{url.Values{"fms.multicast.type": {"3"}}, ParamGroupspec, "required"},
		{streamName("3", "G:zz"), ParamGroupspec, "malformed"},
		{streamName("3", "livestream"), ParamGroupspec, "malformed"},
		{streamName("3", "G:027f0201"), ParamGroupspec, "malformed"},
		{streamName("3", noAuth.WithoutAuthorizations()), ParamGroupspec, "unauthorised"},
		{streamName("1", p2pSpec), ParamAddress, "required for a fusion event"},
		{streamName("2", p2pSpec), ParamAddress, "required for a IP multicast event"},
		{streamName("1", p2pSpec, "fms.multicast.address=10.0.0.1:3000"), ParamAddress, "not a multicast group address"},
		{streamName("1", p2pSpec, "fms.multicast.address=example.com:3000"), ParamAddress, "invalid address"},
		{streamName("1", p2pSpec, "fms.multicast.address=239.0.0.1"), ParamAddress, "missing port"},
		{streamName("1", p2pSpec, "fms.multicast.address=239.0.0.1:5", "fms.multicast.port=6"), ParamPort, "conflicting"},
		{streamName("1", p2pSpec, "fms.multicast.port=6"), ParamPort, "without"},
		{streamName("1", fusion, "fms.multicast.interface=a/b"), ParamInterface, "not an interface"},
		{streamName("3", p2pSpec, "fms.multicast.windowDuration=long"), "fms.multicast.windowDuration", "not a number"},
		{streamName("3", p2pSpec, "fms.multicast.availabilitySendToAll=maybe"), "fms.multicast.availabilitySendToAll", "want true or false"},
	} {
		_, err := Parse(c.q)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != c.param || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.param) {
			t.Errorf("%v: got %v, want %s: …%s…", c.q, err, c.param, c.want)
		}
	}
}

// fixSpec checks that s parses and returns it.
func fixSpec(t *testing.T, s string) string {
	t.Helper()
	sp, err := group.ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := sp.IPMulticastAddresses(); s == fusionSpec && (len(got) != 1 || got[0] != netip.MustParseAddrPort("239.1.2.3:30000")) {
		t.Fatalf("fusion spec lists %v", got)
	}
	return s
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"fms.multicast.type=3&fms.multicast.groupspec=" + p2pSpec,
		"fms.multicast.type=1&fms.multicast.groupspec=" + fusionSpec + "&fms.multicast.address=224.0.0.1:5&fms.multicast.windowDuration=2",
		"fms.multicast.type=2&fms.multicast.groupspec=" + authSpec + "&FMS.MULTICAST.PORT=5&fms.multicast.availabilitysendtoall=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		r, err := Parse(q)
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) || !strings.HasPrefix(strings.ToLower(err.Error()), Prefix) {
				t.Fatalf("error %v does not name a parameter", err)
			}
			return
		}
		if r.Type < Fusion || r.Type > PeerToPeer || r.Spec == nil || !r.Spec.Authorized() {
			t.Fatalf("accepted %+v", r)
		}
		if r.Type.UsesIPMulticast() != (r.Address != "") {
			t.Fatalf("type %v with address %q", r.Type, r.Address)
		}
		c := r.Properties.Apply(multicast.DefaultConfig())
		if c != c.Clamp() {
			t.Fatalf("properties out of range: %+v", c)
		}
	})
}
