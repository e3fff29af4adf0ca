package registry

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// The registry's messages on NATS. A delta or a snapshot chunk is a header
// followed by operations, each a kind byte and its fields:
//
//	header  version(1)=1, instance(8), seq(8), flags(1)
//	peer+   32-byte peer ID, count(1), addresses: family(1)=4|6, IP(4|16), port(2)
//	peer-   32-byte peer ID
//	join    32-byte group ID, 32-byte peer ID
//	leave   32-byte group ID, 32-byte peer ID
//	stream+ length(2), key (app/instance/name)
//	stream- length(2), key
//
// Integers are big-endian. Nothing here is trusted: a decoder stops at the
// first malformed operation and reports it.
const (
	wireVersion = 1
	headerLen   = 18

	opPeerUp     = 1
	opPeerDown   = 2
	opJoin       = 3
	opLeave      = 4
	opStreamUp   = 5
	opStreamDown = 6

	// flagLast marks the last chunk of a snapshot.
	flagLast = 1

	// MaxAddresses caps the addresses kept per peer.
	MaxAddresses = 8
	// MaxKey caps a stream key.
	MaxKey = 1024
)

var errMalformed = errors.New("registry: malformed message")

// op is one registry operation.
type op struct {
	kind   byte
	peer   profile.PeerID
	group  group.GroupID
	addrs  []netip.AddrPort
	stream string
}

// header starts every delta and snapshot chunk.
type header struct {
	instance, seq uint64
	flags         byte
}

func appendHeader(b []byte, h header) []byte {
	b = append(b, wireVersion)
	b = binary.BigEndian.AppendUint64(b, h.instance)
	b = binary.BigEndian.AppendUint64(b, h.seq)
	return append(b, h.flags)
}

func parseHeader(b []byte) (header, []byte, error) {
	if len(b) < headerLen || b[0] != wireVersion {
		return header{}, nil, errMalformed
	}
	return header{instance: binary.BigEndian.Uint64(b[1:]), seq: binary.BigEndian.Uint64(b[9:]), flags: b[17]}, b[headerLen:], nil
}

// appendOp appends o; addresses beyond MaxAddresses and keys beyond MaxKey
// are cut.
func appendOp(b []byte, o op) []byte {
	b = append(b, o.kind)
	switch o.kind {
	case opPeerUp:
		b = append(b, o.peer[:]...)
		n := min(len(o.addrs), MaxAddresses)
		b = append(b, byte(n))
		for _, a := range o.addrs[:n] {
			b = appendAddr(b, a)
		}
	case opPeerDown:
		b = append(b, o.peer[:]...)
	case opJoin, opLeave:
		b = append(b, o.group[:]...)
		b = append(b, o.peer[:]...)
	case opStreamUp, opStreamDown:
		k := o.stream
		if len(k) > MaxKey {
			k = k[:MaxKey]
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
	}
	return b
}

func appendAddr(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		b = append(b, 4)
		v := ip.As4()
		b = append(b, v[:]...)
	} else {
		b = append(b, 6)
		v := ip.As16()
		b = append(b, v[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port())
}

func parseAddr(b []byte) (netip.AddrPort, []byte, error) {
	if len(b) < 1 {
		return netip.AddrPort{}, nil, errMalformed
	}
	var n int
	switch b[0] {
	case 4:
		n = 4
	case 6:
		n = 16
	default:
		return netip.AddrPort{}, nil, errMalformed
	}
	if len(b) < 1+n+2 {
		return netip.AddrPort{}, nil, errMalformed
	}
	ip, _ := netip.AddrFromSlice(b[1 : 1+n])
	port := binary.BigEndian.Uint16(b[1+n:])
	return netip.AddrPortFrom(ip, port), b[1+n+2:], nil
}

// parseOps calls fn for each operation of b, stopping at the first
// malformed one.
func parseOps(b []byte, fn func(op)) error {
	for len(b) > 0 {
		var o op
		o.kind = b[0]
		b = b[1:]
		switch o.kind {
		case opPeerUp:
			if len(b) < 33 {
				return errMalformed
			}
			copy(o.peer[:], b)
			n := int(b[32])
			b = b[33:]
			if n > MaxAddresses {
				return errMalformed
			}
			o.addrs = make([]netip.AddrPort, 0, n)
			for range n {
				a, rest, err := parseAddr(b)
				if err != nil {
					return err
				}
				o.addrs = append(o.addrs, a)
				b = rest
			}
		case opPeerDown:
			if len(b) < 32 {
				return errMalformed
			}
			copy(o.peer[:], b)
			b = b[32:]
		case opJoin, opLeave:
			if len(b) < 64 {
				return errMalformed
			}
			copy(o.group[:], b)
			copy(o.peer[:], b[32:])
			b = b[64:]
		case opStreamUp, opStreamDown:
			if len(b) < 2 {
				return errMalformed
			}
			n := int(binary.BigEndian.Uint16(b))
			if n > MaxKey || len(b) < 2+n {
				return errMalformed
			}
			o.stream = string(b[2 : 2+n])
			b = b[2+n:]
		default:
			return errMalformed
		}
		fn(o)
	}
	return nil
}

// Messages between nodes (Registry.Send): kind(1), sender length(1),
// sender name, body.
func appendMessage(b []byte, kind byte, from string, body []byte) []byte {
	b = append(b, kind, byte(len(from)))
	b = append(b, from...)
	return append(b, body...)
}

func parseMessage(b []byte) (kind byte, from string, body []byte, err error) {
	if len(b) < 2 || len(b) < 2+int(b[1]) {
		return 0, "", nil, errMalformed
	}
	return b[0], string(b[2 : 2+int(b[1])]), b[2+int(b[1]):], nil
}
