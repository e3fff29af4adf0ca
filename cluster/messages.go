package cluster

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Kinds of the messages nodes send each other through the registry.
const (
	// msgForward asks the node holding a peer to send it Forwarded
	// IHellos (RFC 7016 §3.5.1.5): target(32), epd length(1), epd, tag
	// length(1), tag, address count(1), addresses (RFC 7016 §2.3.6
	// encoding, origin included).
	msgForward byte = 1
	// msgTell asks the node holding a group member to tell it about a
	// newcomer: group(32), member(32), newcomer(32).
	msgTell byte = 2
)

// maxForwardAddrs caps the initiator addresses of one forward.
const maxForwardAddrs = 8

var errMalformed = errors.New("cluster: malformed message")

type forwardMsg struct {
	target   profile.PeerID
	epd, tag []byte
	from     []wire.Address
}

func (f forwardMsg) append(b []byte) []byte {
	b = append(b, f.target[:]...)
	b = append(b, byte(len(f.epd)))
	b = append(b, f.epd...)
	b = append(b, byte(len(f.tag)))
	b = append(b, f.tag...)
	n := min(len(f.from), maxForwardAddrs)
	b = append(b, byte(n))
	for _, a := range f.from[:n] {
		b = a.Append(b)
	}
	return b
}

func parseForward(b []byte) (forwardMsg, error) {
	var f forwardMsg
	if len(b) < 33 {
		return f, errMalformed
	}
	copy(f.target[:], b)
	b = b[32:]
	field := func() ([]byte, bool) {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return nil, false
		}
		v := b[1 : 1+int(b[0])]
		b = b[1+int(b[0]):]
		return v, true
	}
	var ok bool
	if f.epd, ok = field(); !ok || len(f.epd) == 0 {
		return f, errMalformed
	}
	if f.tag, ok = field(); !ok {
		return f, errMalformed
	}
	if len(b) < 1 || int(b[0]) > maxForwardAddrs {
		return f, errMalformed
	}
	n := int(b[0])
	b = b[1:]
	for range n {
		a, k, err := wire.ParseAddress(b)
		if err != nil {
			return f, errMalformed
		}
		f.from = append(f.from, a)
		b = b[k:]
	}
	if len(b) != 0 {
		return f, errMalformed
	}
	return f, nil
}

type tellMsg struct {
	group            group.GroupID
	member, newcomer profile.PeerID
}

func (t tellMsg) append(b []byte) []byte {
	b = append(b, t.group[:]...)
	b = append(b, t.member[:]...)
	return append(b, t.newcomer[:]...)
}

func parseTell(b []byte) (tellMsg, error) {
	var t tellMsg
	if len(b) != 96 {
		return t, errMalformed
	}
	copy(t.group[:], b)
	copy(t.member[:], b[32:])
	copy(t.newcomer[:], b[64:])
	return t, nil
}
