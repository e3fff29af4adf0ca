package netgroup

import (
	"fmt"
	"strings"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// initMessages returns the three messages a member writes first on its GR
// 1C flow (rtmfp-facts §6.4, librtmfp P2PSession::sendGroupPeerConnect and
// RTMFPWriter::writePeerGroup/writeGroupBegin, checked on every P2P session
// of the c_netgroup trace): the group init, the one-byte 02 message and the
// group begin 0E.
func initMessages(groupTxt string, gid group.GroupID, sc *profile.SessionCrypto, recipient profile.PeerID) [3][]byte {
	send, _ := group.SessionKeys(groupTxt, sc)
	return [3][]byte{
		group.NewInit(gid, send, recipient).Append(nil),
		group.Data{}.Append(nil),
		group.Begin{}.Append(nil),
	}
}

// checkInit decodes a group init and checks it the way librtmfp's
// P2PSession::handleGroupHandshake does: the group ID (hex, any case) is
// ours, the recipient is this endpoint, the key is the one expected on this
// session.
func checkInit(b []byte, gid group.GroupID, self profile.PeerID, expect group.Key) (group.Init, error) {
	in, err := group.ParseInit(b)
	if err != nil {
		return group.Init{}, fmt.Errorf("%w: %v", ErrBadInit, err)
	}
	if !strings.EqualFold(in.GroupHex, gid.String()) {
		return in, fmt.Errorf("%w: group %.16s…", ErrBadInit, in.GroupHex)
	}
	if in.PeerID != self {
		return in, fmt.Errorf("%w: addressed to %s", ErrBadInit, in.PeerID)
	}
	if !in.Key.Equal(expect) {
		return in, fmt.Errorf("%w: wrong key", ErrBadInit)
	}
	return in, nil
}

// initGroup returns the group ID of a group init, to route it to the
// member of that group.
func initGroup(b []byte) (group.GroupID, bool) {
	in, err := group.ParseInit(b)
	if err != nil {
		return group.GroupID{}, false
	}
	id, err := in.GroupID()
	return id, err == nil
}
