package amsmulticast

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Type is a multicast event's type (main.asc's numbering).
type Type int

// The event types.
const (
	Fusion      Type = 1 // IP multicast and P2P multicast together
	IPMulticast Type = 2 // IP multicast (the groupspec disables P2P for players)
	PeerToPeer  Type = 3 // P2P multicast
)

func (t Type) String() string {
	switch t {
	case Fusion:
		return "fusion"
	case IPMulticast:
		return "IP multicast"
	case PeerToPeer:
		return "peer to peer"
	}
	return "type " + strconv.Itoa(int(t))
}

// UsesIPMulticast reports whether the server publishes the event to IP
// multicast (fusion and IP multicast events).
func (t Type) UsesIPMulticast() bool { return t == Fusion || t == IPMulticast }

// The parameters of the stream name's query.
const (
	Prefix         = "fms.multicast."
	ParamType      = Prefix + "type"
	ParamGroupspec = Prefix + "groupspec"
	ParamAddress   = Prefix + "address"
	ParamPort      = Prefix + "port"
	ParamInterface = Prefix + "interface"
)

// ParamError is a parameter the service cannot use; its text names it.
type ParamError struct {
	Param  string // fms.multicast.type, …
	Value  string // as given ("" when missing)
	Reason string
}

// Error quotes the value clipped as netstream does for any client text
// (its first 64 bytes and its length).
func (e *ParamError) Error() string {
	if e.Value == "" {
		return e.Param + ": " + e.Reason
	}
	return fmt.Sprintf("%s %q: %s", e.Param, netstream.Clip(e.Value), e.Reason)
}

// Request is the multicast event an encoder's stream name describes.
type Request struct {
	Type Type
	// Spec is the groupspec as the encoder gave it (with its
	// authorizations).
	Spec *group.Spec
	// Address is the IP multicast publish address ("224.0.0.254:30000")
	// of a fusion or IP multicast event; "" for peer to peer.
	Address string
	// Interface is the outgoing interface ("" when not given).
	Interface string
	// Properties are the multicast properties the encoder set.
	Properties Properties
	// Ignored lists the fms.multicast.* parameters not understood (and
	// the address parameters of a peer-to-peer event), sorted.
	Ignored []string
}

// Properties are NetStream's multicast properties an event sets; nil:
// Flash's default. Values are coerced as Flash coerces them.
type Properties struct {
	WindowDuration, RelayMarginDuration, FetchPeriod, AvailabilityUpdatePeriod *float64 // seconds
	AvailabilitySendToAll                                                      *bool
	PushNeighborLimit                                                          *float64
}

// Apply returns c with the properties set.
func (p Properties) Apply(c multicast.Config) multicast.Config {
	for _, f := range []struct {
		v   *float64
		set func(float64)
	}{
		{p.WindowDuration, func(v float64) { c.Window = multicast.ClampSeconds(v) }},
		{p.RelayMarginDuration, func(v float64) { c.RelayMargin = multicast.ClampSeconds(v) }},
		{p.FetchPeriod, func(v float64) { c.FetchPeriod = multicast.ClampSeconds(v) }},
		{p.AvailabilityUpdatePeriod, func(v float64) { c.UpdatePeriod = multicast.ClampSeconds(v) }},
		{p.PushNeighborLimit, func(v float64) { c.PushNeighborLimit = multicast.ClampCount(v) }},
	} {
		if f.v != nil {
			f.set(*f.v)
		}
	}
	if p.AvailabilitySendToAll != nil {
		c.SendToAll = *p.AvailabilitySendToAll
	}
	return c.Clamp()
}

// properties maps a property's parameter name (lowercase, after the
// prefix, without "multicast") to where it goes.
var properties = map[string]func(*Properties) **float64{
	"windowduration":           func(p *Properties) **float64 { return &p.WindowDuration },
	"relaymarginduration":      func(p *Properties) **float64 { return &p.RelayMarginDuration },
	"fetchperiod":              func(p *Properties) **float64 { return &p.FetchPeriod },
	"availabilityupdateperiod": func(p *Properties) **float64 { return &p.AvailabilityUpdatePeriod },
	"pushneighborlimit":        func(p *Properties) **float64 { return &p.PushNeighborLimit },
}

// Has reports whether q carries a multicast service parameter.
func Has(q url.Values) bool {
	for k := range q {
		if hasPrefixFold(k, Prefix) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// Parse reads the multicast event of a stream name's query. It needs
// fms.multicast.type and fms.multicast.groupspec; a fusion or IP
// multicast event needs an IP multicast address, given or listed in its
// groupspec. A groupspec with a password needs its authorization
// (groupspecWithAuthorizations()). Errors are *ParamError.
func Parse(q url.Values) (*Request, error) {
	params := map[string]string{} // lowercase name → first value
	names := map[string]string{}  // lowercase name → as given
	var keys []string
	for k, vs := range q {
		if !hasPrefixFold(k, Prefix) {
			continue
		}
		keys = append(keys, k)
		lk := strings.ToLower(k)
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		// Of keys differing only in case, the first in sorted order wins,
		// so that the result does not depend on map order.
		if old, ok := names[lk]; !ok || k < old {
			params[lk], names[lk] = v, k
		}
	}
	sort.Strings(keys)
	r := &Request{}
	used := map[string]bool{}
	get := func(name string) (string, bool) {
		used[name] = true
		v, ok := params[name]
		return v, ok
	}

	t, ok := get(ParamType)
	if !ok {
		return nil, &ParamError{Param: ParamType, Reason: "required: 1 (fusion), 2 (IP multicast) or 3 (peer to peer)"}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 1 || n > 3 {
		return nil, &ParamError{Param: ParamType, Value: t, Reason: "unknown type: want 1 (fusion), 2 (IP multicast) or 3 (peer to peer)"}
	}
	r.Type = Type(n)

	gs, ok := get(ParamGroupspec)
	if !ok || gs == "" {
		return nil, &ParamError{Param: ParamGroupspec, Reason: "required: the event's groupspecWithAuthorizations()"}
	}
	if r.Spec, err = group.ParseSpec(gs); err != nil {
		return nil, &ParamError{Param: ParamGroupspec, Value: gs, Reason: "malformed: " + strings.TrimPrefix(err.Error(), "group: ")}
	}
	if !r.Spec.Authorized() {
		return nil, &ParamError{Param: ParamGroupspec, Value: gs,
			Reason: "unauthorised: the group has a password and the groupspec carries no authorization for it (give groupspecWithAuthorizations())"}
	}

	if err := r.readAddress(get); err != nil {
		return nil, err
	}
	if err := r.Properties.read(params, names, used); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if !used[strings.ToLower(k)] {
			r.Ignored = append(r.Ignored, k)
		}
	}
	return r, nil
}

// readAddress reads the IP multicast address and interface.
func (r *Request) readAddress(get func(string) (string, bool)) error {
	addr, hasAddr := get(ParamAddress)
	port, hasPort := get(ParamPort)
	iface, _ := get(ParamInterface)
	if !r.Type.UsesIPMulticast() {
		// Peer to peer (with or without discovery over IP multicast):
		// nothing is published to IP multicast.
		for name, given := range map[string]bool{ParamAddress: hasAddr, ParamPort: hasPort, ParamInterface: iface != ""} {
			if given {
				r.Ignored = append(r.Ignored, name)
			}
		}
		sort.Strings(r.Ignored)
		return nil
	}
	if addr == "" {
		if port != "" {
			return &ParamError{Param: ParamPort, Value: port, Reason: "given without " + ParamAddress}
		}
		listed := r.Spec.IPMulticastAddresses()
		if len(listed) == 0 {
			return &ParamError{Param: ParamAddress, Reason: "required for a " + r.Type.String() +
				" event: an IP multicast address such as 239.0.0.1:30000 (the groupspec lists none)"}
		}
		addr = listed[0].String()
	}
	g, err := ipmulticast.ParsePublishAddress(addr, port)
	if err != nil {
		p := ParamAddress
		if errors.Is(err, ipmulticast.ErrConflictingPort) || errors.Is(err, ipmulticast.ErrInvalidPort) && port != "" {
			p = ParamPort
		}
		return &ParamError{Param: p, Value: addr, Reason: strings.TrimPrefix(err.Error(), "ipmulticast: ")}
	}
	r.Address = g.String()
	if strings.ContainsAny(iface, "/\x00") || len(iface) > 64 {
		return &ParamError{Param: ParamInterface, Value: iface, Reason: "not an interface name"}
	}
	r.Interface = iface
	return nil
}

// read reads the multicast properties from params (lowercase names;
// names holds them as given), marking the ones it used.
func (p *Properties) read(params, names map[string]string, used map[string]bool) error {
	lower := make([]string, 0, len(params))
	for name := range params {
		lower = append(lower, name)
	}
	sort.Strings(lower)
	for _, name := range lower {
		v := params[name]
		prop := strings.TrimPrefix(strings.TrimPrefix(name, Prefix), "multicast")
		if prop == "availabilitysendtoall" {
			used[name] = true
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return &ParamError{Param: names[name], Value: v, Reason: "want true or false"}
			}
			p.AvailabilitySendToAll = &b
			continue
		}
		field, ok := properties[prop]
		if !ok {
			continue
		}
		used[name] = true
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return &ParamError{Param: names[name], Value: v, Reason: "not a number (seconds, or the push limit)"}
		}
		*field(p) = &f
	}
	return nil
}
