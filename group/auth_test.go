package group

import (
	"crypto/sha256"
	"net/netip"
	"testing"
)

// osmfAuthSpec is the password-protected spec of OSMF's multicast plugin
// sample (flash.net.GroupSpecifier output): 01 01 | 21 05 <digest> | 01 0C |
// 16 0E "fms.multicast.example" | 00 | 09 15 "realeyes".
const osmfAuthSpec = "G:01012105f8cd3b377cf93646b30b07f29cf917d68d63c26ac60af46f0563829280d48fc5010c160e666d732e6d756c7469636173742e6578616d706c650009157265616c65796573"

func TestSpecAuthorizations(t *testing.T) {
	sp, err := ParseSpec(osmfAuthSpec)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := sp.PasswordDigest()
	if h := sha256.Sum256([]byte("realeyes")); !ok || string(d) != string(h[:]) {
		t.Fatalf("digest %x, %v: want SHA-256(\"realeyes\")", d, ok)
	}
	if a := sp.Authorizations(); len(a) != 1 || string(a[0]) != "realeyes" || !sp.Authorized() {
		t.Fatalf("authorizations %q, authorized %v", a, sp.Authorized())
	}
	without := sp.WithoutAuthorizations()
	if want := osmfAuthSpec[:len(osmfAuthSpec)-len("09157265616c65796573")]; without != want {
		t.Fatalf("without authorizations %s, want %s", without, want)
	}
	wsp, err := ParseSpec(without)
	if err != nil {
		t.Fatal(err)
	}
	if wsp.GroupID() != sp.GroupID() || wsp.Authorized() || len(wsp.Authorizations()) != 0 {
		t.Fatalf("without authorizations: group %v (want %v), authorized %v", wsp.GroupID(), sp.GroupID(), wsp.Authorized())
	}
	if wsp.WithoutAuthorizations() != without {
		t.Fatal("a spec without authorizations changed")
	}

	// A wrong password is not an authorization; IP multicast addresses
	// stay when the authorizations go; a spec without a password needs none.
	ap := netip.MustParseAddrPort("239.1.2.3:30000")
	wrong := NewSpecBuilder("g").Option(OptPasswordDigest, d).TrailerOption(OptAuthorization, []byte("guess")).IPMulticast(ap).Build()
	if wrong.Authorized() {
		t.Fatal("a wrong authorization accepted")
	}
	ws, _ := ParseSpec(wrong.WithoutAuthorizations())
	if got := ws.IPMulticastAddresses(); len(got) != 1 || got[0] != ap || len(ws.Authorizations()) != 0 {
		t.Fatalf("without authorizations: %s", wrong.WithoutAuthorizations())
	}
	if open := NewSpecBuilder("g").Build(); !open.Authorized() {
		t.Fatal("a spec without password is not authorized")
	}
	short := NewSpecBuilder("g").Option(OptPasswordDigest, []byte{1, 2}).Build()
	if _, ok := short.PasswordDigest(); ok || !short.Authorized() {
		t.Fatal("a short 0x05 value taken for a digest")
	}
}
