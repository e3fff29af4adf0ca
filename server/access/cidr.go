package access

import (
	"fmt"
	"net/netip"
	"strings"
)

// Rule says who may do one thing (connect, publish or play) in an
// application: by address, and whether a token is required.
type Rule struct {
	// Allow lists addresses or CIDR prefixes ("10.0.0.0/8", "::1");
	// empty: every address not denied.
	Allow []string `json:"allow"`
	// Deny lists addresses or prefixes refused, whatever Allow says.
	Deny []string `json:"deny"`
	// Token requires a valid token granting the action (publish or play).
	Token bool `json:"token"`
}

// Policy is a compiled Rule.
type Policy struct {
	allow, deny []netip.Prefix
	Token       bool
}

// Compile parses the rule's addresses; an error names the one at fault.
func (r Rule) Compile() (*Policy, error) {
	p := &Policy{Token: r.Token}
	var err error
	if p.allow, err = prefixes(r.Allow, "allow"); err != nil {
		return nil, err
	}
	if p.deny, err = prefixes(r.Deny, "deny"); err != nil {
		return nil, err
	}
	return p, nil
}

func prefixes(list []string, field string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		var pf netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			pf, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil {
				pf = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q is not an address or a CIDR prefix", field, i, s)
		}
		out = append(out, pf.Masked())
	}
	return out, nil
}

// CheckAddr refuses (an error saying why) an address the policy denies or
// does not allow. IPv4-mapped IPv6 addresses are taken as IPv4. A nil
// policy allows everything.
func (p *Policy) CheckAddr(a netip.Addr) error {
	if p == nil {
		return nil
	}
	a = a.Unmap()
	for _, pf := range p.deny {
		if pf.Contains(a) {
			return fmt.Errorf("address %s is denied (%s)", a, pf)
		}
	}
	if len(p.allow) == 0 {
		return nil
	}
	for _, pf := range p.allow {
		if pf.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("address %s is not in the allowed list", a)
}
