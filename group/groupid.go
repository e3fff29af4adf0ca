package group

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// GroupID identifies a group on the wire: the SHA-256 of the GroupTxt, hashed
// a second time for version-2 specs (librtmfp Invoker::connect2Group; checked
// against the c_netgroup trace).
type GroupID [32]byte

// ComputeGroupID hashes groupTxt ("G:" + hex, up to the marker) once for
// version 1 and twice for version 2.
func ComputeGroupID(groupTxt string, version int) GroupID {
	id := GroupID(sha256.Sum256([]byte(groupTxt)))
	if version >= 2 {
		id = sha256.Sum256(id[:])
	}
	return id
}

// GroupIDFromSpecBytes hashes raw groupspec bytes once, the way servers
// treat the old join form that carries the spec instead of its ID.
func GroupIDFromSpecBytes(spec []byte) GroupID { return sha256.Sum256(spec) }

// String returns the 64 lowercase hex characters used in P2P group init
// messages.
func (g GroupID) String() string { return hex.EncodeToString(g[:]) }

// ParseGroupID parses 64 hex characters of either case.
func ParseGroupID(s string) (GroupID, error) {
	var g GroupID
	if len(s) != 64 {
		return g, errors.New("group: a group ID is 64 hex characters")
	}
	if _, err := hex.Decode(g[:], []byte(s)); err != nil {
		return g, errors.New("group: a group ID is 64 hex characters")
	}
	return g, nil
}
