package natcheck

import (
	"net/netip"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
)

func TestResultsRoundTrip(t *testing.T) {
	yes, no := true, false
	r := Results{PublicAddress: netip.MustParseAddrPort("[2001:db8::1]:1935"), PublicAddressIsLocal: &no,
		ReceiveSameAddressDifferentPortAllowed: true, ReceiveDifferentAddressDifferentPortAllowed: &no,
		SendAfterIntroductionAllowed: &yes, SendAfterIntroductionPreservesSourceAddress: &yes, SendAfterIntroductionPreservesSourcePort: &no}
	b, err := amf.AppendAMF0(nil, r.Info())
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := amf.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := amf.AsObject(v)
	got, err := ParseResults(o)
	if err != nil {
		t.Fatal(err)
	}
	if got.PublicAddress != r.PublicAddress || got.PublicPortMatchesLocalPort != nil || *got.PublicAddressIsLocal ||
		!got.ReceiveSameAddressDifferentPortAllowed || *got.ReceiveDifferentAddressDifferentPortAllowed ||
		!*got.SendAfterIntroductionAllowed || *got.SendAfterIntroductionPreservesSourcePort {
		t.Errorf("got %+v", got)
	}
	if b := Infer(got); b.Mapping != AddressAndPortDependent || b.Filtering != AddressDependent || !*b.Translated {
		t.Errorf("inferred %+v", b)
	}
	for _, bad := range []*amf.Object{nil,
		amf.NewObject(amf.Property{Key: "code", Value: "NetConnection.Connect.Success"}),
		amf.NewObject(amf.Property{Key: "code", Value: StatusResults}),
		amf.NewObject(amf.Property{Key: "code", Value: StatusResults}, amf.Property{Key: fieldPublicAddress, Value: "nowhere"}),
		amf.NewObject(amf.Property{Key: "code", Value: StatusResults}, amf.Property{Key: fieldPublicAddress, Value: "1.2.3.4:5"},
			amf.Property{Key: fieldIntro, Value: "yes"}),
	} {
		if _, err := ParseResults(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func FuzzParseResults(f *testing.F) {
	b, _ := amf.AppendAMF0(nil, Results{PublicAddress: netip.MustParseAddrPort("1.2.3.4:5")}.Info())
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, _, err := amf.Decode(b)
		if err != nil {
			return
		}
		o, _ := amf.AsObject(v)
		if r, err := ParseResults(o); err == nil {
			Infer(r)
		}
	})
}
