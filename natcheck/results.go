// Package natcheck is the connectivity check of RFC 7425 clients, in the
// form rtmfp-cpp's conncheck server gives it, so that either end works with
// the other's.
//
// The server probes a connected client to characterize the NATs and
// firewalls between them (RFC 4787 terms): after the client's setPeerInfo
// (RFC 7425 §5.3.3) it sends IHellos naming the client's peer ID from the
// same IP address on another port, and from another address, and asks the
// client (Forwarded IHello, RFC 7016 §2.3.3, §3.5.1.5) to answer a third
// address. Every RHello the client sends back shows a probe got through,
// and the source of the one answering the Forwarded IHello shows whether
// its NAT kept the mapping of the server session. The findings go to the
// client as the status event NetConnection.ConnectivityCheck.Results on its
// NetConnection.
//
// Responder is the server side (rtmfpd's natCheck configuration); Results
// and Infer are what a client reads.
package natcheck

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/rtmfpd/rtmfpd/amf"
)

// StatusResults is the code of the status event carrying Results.
const StatusResults = "NetConnection.ConnectivityCheck.Results"

// Results are the findings of one check, the fields of the status event.
// A nil pointer is a finding the server could not make (the AMF null of
// the event): no addresses announced, or no probe socket for it.
type Results struct {
	// PublicAddress is the client's address as the server sees it.
	PublicAddress netip.AddrPort
	// PublicAddressIsLocal: the public address is one the client
	// announced (no address translation). PublicPortMatchesLocalPort: its
	// port is one the client announced (the NAT kept the port).
	PublicAddressIsLocal, PublicPortMatchesLocalPort *bool
	// ReceiveSameAddressDifferentPortAllowed: a probe from the server's
	// IP address and another port reached the client.
	ReceiveSameAddressDifferentPortAllowed bool
	// ReceiveDifferentAddressDifferentPortAllowed: a probe from another
	// IP address reached the client.
	ReceiveDifferentAddressDifferentPortAllowed *bool
	// SendAfterIntroductionAllowed: the client answered the Forwarded
	// IHello at the third address; PreservesSourceAddress/Port: that
	// answer came from the client's public address (port).
	SendAfterIntroductionAllowed                *bool
	SendAfterIntroductionPreservesSourceAddress *bool
	SendAfterIntroductionPreservesSourcePort    *bool
}

// Field names of the status event (those of rtmfp-cpp's conncheck).
const (
	fieldPublicAddress   = "publicAddress"
	fieldIsLocal         = "publicAddressIsLocal"
	fieldPortMatches     = "publicPortMatchesLocalPort"
	fieldSameAddress     = "receiveSameAddressDifferentPortAllowed"
	fieldOtherAddress    = "receiveDifferentAddressDifferentPortAllowed"
	fieldIntro           = "sendAfterIntroductionAllowed"
	fieldIntroKeepsAddr  = "sendAfterIntroductionPreservesSourceAddress"
	fieldIntroKeepsPort  = "sendAfterIntroductionPreservesSourcePort"
	resultsDescription   = "Connectivity Check results"
	maxAddressTextLength = 64
)

func optional(b *bool) amf.Value {
	if b == nil {
		return nil
	}
	return *b
}

// Info returns the status event's info object.
func (r Results) Info() *amf.Object {
	return amf.NewObject(
		amf.Property{Key: "level", Value: "status"},
		amf.Property{Key: "code", Value: StatusResults},
		amf.Property{Key: "description", Value: resultsDescription},
		amf.Property{Key: fieldPublicAddress, Value: r.PublicAddress.String()},
		amf.Property{Key: fieldIsLocal, Value: optional(r.PublicAddressIsLocal)},
		amf.Property{Key: fieldPortMatches, Value: optional(r.PublicPortMatchesLocalPort)},
		amf.Property{Key: fieldSameAddress, Value: r.ReceiveSameAddressDifferentPortAllowed},
		amf.Property{Key: fieldOtherAddress, Value: optional(r.ReceiveDifferentAddressDifferentPortAllowed)},
		amf.Property{Key: fieldIntro, Value: optional(r.SendAfterIntroductionAllowed)},
		amf.Property{Key: fieldIntroKeepsAddr, Value: optional(r.SendAfterIntroductionPreservesSourceAddress)},
		amf.Property{Key: fieldIntroKeepsPort, Value: optional(r.SendAfterIntroductionPreservesSourcePort)},
	)
}

// ParseResults reads the info object of a results event. A field that is
// missing or null is a finding not made; one of the wrong type is an error,
// as is a public address that does not parse.
func ParseResults(o *amf.Object) (Results, error) {
	var r Results
	if o == nil {
		return r, errors.New("natcheck: no info object")
	}
	if code, _ := o.GetString("code"); code != StatusResults {
		return r, fmt.Errorf("natcheck: status %q is not %s", code, StatusResults)
	}
	s, ok := o.GetString(fieldPublicAddress)
	if !ok {
		return r, errors.New("natcheck: no publicAddress")
	}
	a, err := ParseAddress(s)
	if err != nil {
		return r, err
	}
	r.PublicAddress = a
	get := func(key string, dst **bool) {
		if err != nil {
			return
		}
		v, ok := o.Get(key)
		if !ok || v == nil {
			return
		}
		b, isBool := v.(bool)
		if !isBool {
			err = fmt.Errorf("natcheck: %s is %T, not a boolean", key, v)
			return
		}
		*dst = &b
	}
	var same *bool
	get(fieldIsLocal, &r.PublicAddressIsLocal)
	get(fieldPortMatches, &r.PublicPortMatchesLocalPort)
	get(fieldSameAddress, &same)
	get(fieldOtherAddress, &r.ReceiveDifferentAddressDifferentPortAllowed)
	get(fieldIntro, &r.SendAfterIntroductionAllowed)
	get(fieldIntroKeepsAddr, &r.SendAfterIntroductionPreservesSourceAddress)
	get(fieldIntroKeepsPort, &r.SendAfterIntroductionPreservesSourcePort)
	if same != nil {
		r.ReceiveSameAddressDifferentPortAllowed = *same
	}
	return r, err
}

// ParseAddress reads an address in the presentation form of setPeerInfo
// and of the results: "192.0.2.1:1935" or "[2001:db8::1]:1935".
func ParseAddress(s string) (netip.AddrPort, error) {
	if len(s) > maxAddressTextLength {
		return netip.AddrPort{}, errors.New("natcheck: address too long")
	}
	a, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("natcheck: address %q: %w", s, err)
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), nil
}

// Behaviour is what Infer concludes, in RFC 4787's terms.
type Behaviour struct {
	// Translated: the public address is not one the client announced
	// (there is a NAT); nil when the client announced none.
	Translated *bool
	// Mapping (RFC 4787 §4.1): "endpoint-independent" when the answer to
	// the introduction left from the public address of the server
	// session, "address and port-dependent" when from another port, ""
	// when the server could not tell.
	Mapping string
	// Filtering (RFC 4787 §5): "endpoint-independent" (a probe from
	// another address got through), "address-dependent" (only one from
	// the server's address on another port), "address and
	// port-dependent" (none), or "" when the server could not tell.
	Filtering string
	// P2P estimates whether direct sessions with other peers can open.
	P2P string
}

// Mapping and filtering behaviours (RFC 4787 §4.1, §5).
const (
	EndpointIndependent          = "endpoint-independent"
	AddressDependent             = "address-dependent"
	AddressAndPortDependent      = "address and port-dependent"
	addressOrPortDependentOrLost = "address or port-dependent (the answer did not arrive)"
)

// Infer reads NAT behaviour from results.
func Infer(r Results) Behaviour {
	var b Behaviour
	if r.PublicAddressIsLocal != nil {
		t := !*r.PublicAddressIsLocal
		b.Translated = &t
	}
	switch {
	case r.SendAfterIntroductionAllowed == nil:
	case !*r.SendAfterIntroductionAllowed:
		b.Mapping = addressOrPortDependentOrLost
	case r.SendAfterIntroductionPreservesSourcePort != nil && *r.SendAfterIntroductionPreservesSourcePort &&
		(r.SendAfterIntroductionPreservesSourceAddress == nil || *r.SendAfterIntroductionPreservesSourceAddress):
		b.Mapping = EndpointIndependent
	default:
		b.Mapping = AddressAndPortDependent
	}
	switch {
	case r.ReceiveDifferentAddressDifferentPortAllowed != nil && *r.ReceiveDifferentAddressDifferentPortAllowed:
		b.Filtering = EndpointIndependent
	case r.ReceiveSameAddressDifferentPortAllowed && r.ReceiveDifferentAddressDifferentPortAllowed != nil:
		b.Filtering = AddressDependent
	case r.ReceiveSameAddressDifferentPortAllowed:
		b.Filtering = "address-dependent or endpoint-independent (the server has no second address)"
	default:
		b.Filtering = AddressAndPortDependent
	}
	switch {
	case b.Translated != nil && !*b.Translated && b.Filtering == EndpointIndependent:
		b.P2P = "reachable directly: no address translation, no filtering"
	case b.Mapping == EndpointIndependent && b.Filtering == EndpointIndependent:
		b.P2P = "direct sessions should open with any peer"
	case b.Mapping == EndpointIndependent:
		b.P2P = "direct sessions should open with peers whose NAT keeps its mapping (hole punching through introductions)"
	case b.Mapping == "":
		b.P2P = "unknown: the server made no introduction probe"
	default:
		b.P2P = "direct sessions will fail with peers behind port-restricted or symmetric NATs"
	}
	return b
}
