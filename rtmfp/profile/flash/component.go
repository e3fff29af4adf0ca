package flash

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// Session key component option types (RFC 7425 §4.6).
const (
	compEphemeralKey    = 0x0d // VLU group ‖ public key
	compExtraRandomness = 0x0e
	compHMAC            = 0x1a // flags ‖ VLU HMAC length
	compGroupSelect     = 0x1d // VLU group: the initiator's certificate key
	compSequence        = 0x1e // flags
)

// Negotiation flags of options 0x1A and 0x1E (RFC 7425 §4.6).
const (
	flagSendAlways    = 0x04
	flagSendOnRequest = 0x02
	flagRequest       = 0x01
)

// maxComponent bounds a session key component; a group-16 key component is
// about 530 bytes.
const maxComponent = 2048

var errComponent = errors.New("flash: malformed session key component")

// component is a parsed session key component (initiator's or
// responder's). Slices alias the component.
type component struct {
	hasGroupSelect bool
	groupSelect    uint64

	ephemeral []staticKey // option 0x0D, in order (normally one)

	hasHMAC   bool
	hmacFlags byte
	hmacLen   uint64

	hasSeq   bool
	seqFlags byte
}

// parseComponent reads a session key component: options up to a marker or
// the end. The first occurrence of each negotiation option counts.
func parseComponent(b []byte) (*component, error) {
	if len(b) == 0 || len(b) > maxComponent {
		return nil, errComponent
	}
	c := &component{}
	it := vlu.NewOptionList(b)
	for it.Next() {
		o := it.Option()
		switch o.Type {
		case compGroupSelect:
			g, n, err := vlu.Parse(o.Value)
			if err != nil || n != len(o.Value) {
				return nil, errComponent
			}
			if !c.hasGroupSelect {
				c.groupSelect, c.hasGroupSelect = g, true
			}
		case compEphemeralKey:
			g, n, err := vlu.Parse(o.Value)
			if err != nil || n == len(o.Value) {
				return nil, errComponent
			}
			if len(c.ephemeral) < maxCertKeys {
				c.ephemeral = append(c.ephemeral, staticKey{group: g, pub: o.Value[n:]})
			}
		case compHMAC:
			if c.hasHMAC {
				continue
			}
			if len(o.Value) == 0 {
				return nil, errComponent
			}
			c.hasHMAC, c.hmacFlags = true, o.Value[0]
			if len(o.Value) > 1 {
				l, n, err := vlu.Parse(o.Value[1:])
				if err != nil || 1+n != len(o.Value) {
					return nil, errComponent
				}
				c.hmacLen = l
			}
		case compSequence:
			if c.hasSeq {
				continue
			}
			if len(o.Value) == 0 {
				return nil, errComponent
			}
			c.hasSeq, c.seqFlags = true, o.Value[0]
		}
	}
	if it.Err() != nil {
		return nil, errComponent
	}
	return c, nil
}

// ephemeralKey returns the component's ephemeral public key for group g.
func (c *component) ephemeralKey(g uint64) ([]byte, bool) {
	for _, k := range c.ephemeral {
		if k.group == g {
			return k.pub, true
		}
	}
	return nil, false
}

// policy is the part of Config that drives the negotiation of HMAC and
// session sequence numbers; Config documents the rule.
type policy struct {
	requestHMAC, requestSequence bool
	sendHMAC, sendSequence       bool // send always (flag 0x04)
	hmacLen                      int  // 4 to 32
}

const defaultHMACLength = 10

// negotiated is the outcome of the negotiation for one session.
type negotiated struct {
	hmacSend, hmacRecv bool
	hmacRecvLen        int
	seqSend, seqRecv   bool
}

var errNegotiation = errors.New("flash: the far end cannot provide the requested packet protection")

// negotiateOne applies the rule of Config to one option.
func negotiateOne(farFlags byte, weRequest, weSendAlways bool) (send, recv bool, err error) {
	offers := farFlags&(flagSendAlways|flagSendOnRequest) != 0
	if weRequest && !offers {
		return false, false, errNegotiation
	}
	send = farFlags&flagRequest != 0 || weSendAlways
	recv = farFlags&flagSendAlways != 0 || weRequest
	return send, recv, nil
}

// negotiate computes the session's protections from the far component.
func (p policy) negotiate(far *component) (negotiated, error) {
	var n negotiated
	var err error
	if n.hmacSend, n.hmacRecv, err = negotiateOne(far.hmacFlags, p.requestHMAC, p.sendHMAC); err != nil {
		return n, err
	}
	if n.hmacRecv {
		if far.hmacLen < MinHMACLength || far.hmacLen > MaxHMACLength {
			return n, errNegotiation
		}
		n.hmacRecvLen = int(far.hmacLen)
	}
	if n.seqSend, n.seqRecv, err = negotiateOne(far.seqFlags, p.requestSequence, p.sendSequence); err != nil {
		return n, err
	}
	return n, nil
}

// appendInitiatorOptions appends the initiator's 0x1A and 0x1E options.
func (p policy) appendInitiatorOptions(b []byte) []byte {
	hf, sf := byte(flagSendOnRequest), byte(flagSendOnRequest)
	if p.requestHMAC {
		hf |= flagRequest
	}
	if p.requestSequence {
		sf |= flagRequest
	}
	if p.sendHMAC {
		hf |= flagSendAlways
	}
	if p.sendSequence {
		sf |= flagSendAlways
	}
	b = vlu.AppendOption(b, compHMAC, vlu.Append([]byte{hf}, uint64(p.hmacLen)))
	return vlu.AppendOption(b, compSequence, []byte{sf})
}

// appendResponderOptions appends the responder's 0x1A and 0x1E options for
// the negotiated outcome.
func (p policy) appendResponderOptions(b []byte, n negotiated) []byte {
	if !n.hmacSend && !n.hmacRecv {
		b = vlu.AppendOption(b, compHMAC, []byte{0, 0})
	} else {
		b = vlu.AppendOption(b, compHMAC, vlu.Append([]byte{responderFlags(n.hmacSend, n.hmacRecv)}, uint64(p.hmacLen)))
	}
	var sf byte
	if n.seqSend || n.seqRecv {
		sf = responderFlags(n.seqSend, n.seqRecv)
	}
	return vlu.AppendOption(b, compSequence, []byte{sf})
}

func responderFlags(send, recv bool) byte {
	f := byte(flagSendOnRequest)
	if send {
		f |= flagSendAlways
	}
	if recv {
		f |= flagRequest
	}
	return f
}
