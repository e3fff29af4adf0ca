package group

import (
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Option types of a join message.
const (
	joinOptGroupID byte = 0x15 // the 32-byte group ID
	joinOptSpec    byte = 0x10 // the groupspec itself (old Flash Players)
)

// Join is the first message a member sends on its GC flow to the server:
//
//	01 | 21 15 <32-byte group ID>               current Flash, librtmfp
//	01 | VLU(1+n) 10 <n bytes of groupspec>     old Flash Players
//
// (an option list without marker). librtmfp RTMFPWriter::writeGroupConnect;
// Cumulus and MonaServer2 accept both forms and hash the second.
type Join struct {
	// GroupID is the group the member joins (form 0x15).
	GroupID GroupID
	// Spec holds the groupspec bytes of the old form (0x10); nil for the
	// current form.
	Spec []byte
}

// Type returns TypeJoin.
func (Join) Type() byte { return TypeJoin }

// ID returns the group ID: GroupID, or for the old form the SHA-256 of the
// carried bytes, as Cumulus and MonaServer2 compute it.
func (j Join) ID() GroupID {
	if j.Spec != nil {
		return GroupIDFromSpecBytes(j.Spec)
	}
	return j.GroupID
}

func (j Join) option() (byte, []byte) {
	if j.Spec != nil {
		return joinOptSpec, j.Spec
	}
	return joinOptGroupID, j.GroupID[:]
}

// Len returns the encoded size.
func (j Join) Len() int {
	t, v := j.option()
	return 1 + vlu.Option{Type: uint64(t), Value: v}.Len()
}

// Append appends the encoding to b.
func (j Join) Append(b []byte) []byte {
	t, v := j.option()
	return vlu.AppendOption(append(b, TypeJoin), uint64(t), v)
}

// ParseJoin decodes a join message.
func ParseJoin(b []byte) (Join, error) {
	if len(b) == 0 {
		return Join{}, ErrTruncated
	}
	if b[0] != TypeJoin {
		return Join{}, ErrType
	}
	o, n, marker, err := vlu.ParseOption(b[1:])
	if err != nil {
		return Join{}, ErrTruncated
	}
	if marker {
		return Join{}, ErrFormat
	}
	if 1+n != len(b) {
		return Join{}, ErrTrailing
	}
	switch {
	case o.Type == uint64(joinOptGroupID) && len(o.Value) == len(GroupID{}):
		return Join{GroupID: GroupID(o.Value)}, nil
	case o.Type == uint64(joinOptSpec):
		return Join{Spec: o.Value[:len(o.Value):len(o.Value)]}, nil
	}
	return Join{}, ErrFormat
}

// Member is the server's introduction of a group member on its GC return
// flow: 0B <32-byte peer ID>. The receiver opens a P2P session to that
// peer through the server. Cumulus Peer::writeId, MonaServer2
// RTMFPWriter::sendMember, librtmfp GroupStream (GROUP_MEMBER).
type Member struct {
	PeerID profile.PeerID
}

// Type returns TypeMember.
func (Member) Type() byte { return TypeMember }

// Len returns the encoded size (33).
func (Member) Len() int { return 1 + len(profile.PeerID{}) }

// Append appends the encoding to b.
func (m Member) Append(b []byte) []byte { return append(append(b, TypeMember), m.PeerID[:]...) }

// ParseMember decodes a member introduction.
func ParseMember(b []byte) (Member, error) {
	switch {
	case len(b) == 0:
		return Member{}, ErrTruncated
	case b[0] != TypeMember:
		return Member{}, ErrType
	case len(b) < 33:
		return Member{}, ErrTruncated
	case len(b) > 33:
		return Member{}, ErrTrailing
	}
	return Member{PeerID: profile.PeerID(b[1:])}, nil
}
