package group

import (
	"encoding/hex"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Option types of a group init message.
const (
	initOptGroupHex byte = 0x00 // group ID as 64 hex characters
	initOptKey      byte = 0x01 // 32-byte group key
	initOptPeerID   byte = 0x03 // raw peer ID (21 0F ‖ ID) of the recipient
)

// Init is the group handshake a member sends first on the GR 1C flow of a
// P2P session (librtmfp RTMFPWriter::writePeerGroup, GroupStream
// GROUP_INIT; Cumulus Middle.cpp):
//
//	01 | 41 00 <64 hex chars of the group ID> | 21 01 <32-byte key> | 23 03 21 0F <recipient's peer ID>
//
// The receiver checks the group ID, that the peer ID is its own and that
// the key is the one it expects (see ComputeKey).
type Init struct {
	// GroupHex is the group ID as written on the wire (librtmfp writes
	// lowercase; comparisons should ignore case).
	GroupHex string
	Key      Key
	// PeerID is the recipient's peer ID.
	PeerID profile.PeerID
}

// NewInit builds a group init with the group ID in lowercase hex.
func NewInit(id GroupID, key Key, recipient profile.PeerID) Init {
	return Init{GroupHex: id.String(), Key: key, PeerID: recipient}
}

// Type returns TypeInit.
func (Init) Type() byte { return TypeInit }

// GroupID decodes GroupHex.
func (m Init) GroupID() (GroupID, error) { return ParseGroupID(m.GroupHex) }

// Len returns the encoded size (137 with a 64-character GroupHex).
func (m Init) Len() int {
	return 1 + vlu.Option{Type: uint64(initOptGroupHex), Value: []byte(m.GroupHex)}.Len() +
		2 + len(m.Key) + 2 + RawPeerIDLen
}

// Append appends the encoding to b.
func (m Init) Append(b []byte) []byte {
	b = append(b, TypeInit)
	b = vlu.AppendOption(b, uint64(initOptGroupHex), []byte(m.GroupHex))
	b = vlu.AppendOption(b, uint64(initOptKey), m.Key[:])
	raw := RawPeerID(m.PeerID)
	return vlu.AppendOption(b, uint64(initOptPeerID), raw[:])
}

// ParseInit decodes a group init. Like librtmfp it requires the three
// options in this order; unlike librtmfp it also requires them to end the
// message.
func ParseInit(b []byte) (Init, error) {
	if len(b) == 0 {
		return Init{}, ErrTruncated
	}
	if b[0] != TypeInit {
		return Init{}, ErrType
	}
	var m Init
	off := 1
	for _, want := range []byte{initOptGroupHex, initOptKey, initOptPeerID} {
		o, n, marker, err := vlu.ParseOption(b[off:])
		if err != nil {
			return Init{}, ErrTruncated
		}
		if marker || o.Type != uint64(want) {
			return Init{}, ErrFormat
		}
		off += n
		switch want {
		case initOptGroupHex:
			if len(o.Value) != 64 {
				return Init{}, ErrFormat
			}
			if _, err := hex.DecodeString(string(o.Value)); err != nil {
				return Init{}, ErrFormat
			}
			m.GroupHex = string(o.Value)
		case initOptKey:
			if len(o.Value) != len(m.Key) {
				return Init{}, ErrFormat
			}
			m.Key = Key(o.Value)
		case initOptPeerID:
			id, ok := ParseRawPeerID(o.Value)
			if !ok {
				return Init{}, ErrFormat
			}
			m.PeerID = id
		}
	}
	if off != len(b) {
		return Init{}, ErrTrailing
	}
	return m, nil
}

// Data is message 0x02, which librtmfp sends right after a group init and
// before Begin (it writes the AMF "abort" code there); its reader takes an
// optional VLU-length-prefixed string. Its meaning is unknown; Body keeps
// whatever follows the type byte.
type Data struct {
	Body []byte
}

// Type returns TypeData.
func (Data) Type() byte { return TypeData }

// Len returns the encoded size.
func (m Data) Len() int { return 1 + len(m.Body) }

// Append appends the encoding to b.
func (m Data) Append(b []byte) []byte { return append(append(b, TypeData), m.Body...) }

// ParseData decodes message 0x02.
func ParseData(b []byte) (Data, error) {
	if len(b) == 0 {
		return Data{}, ErrTruncated
	}
	if b[0] != TypeData {
		return Data{}, ErrType
	}
	return Data{Body: tail(b, 1)}, nil
}

// Begin is the "group begin" message (0x0E), or 0x0F when the sender's
// NetGroup.receiveMode is NEAREST. On it the receiver sends its first group
// report. Extra keeps any bytes after the type (none seen; librtmfp ignores
// them).
type Begin struct {
	Nearest bool
	Extra   []byte
}

// Type returns TypeBegin or TypeBeginNearest.
func (m Begin) Type() byte {
	if m.Nearest {
		return TypeBeginNearest
	}
	return TypeBegin
}

// Len returns the encoded size.
func (m Begin) Len() int { return 1 + len(m.Extra) }

// Append appends the encoding to b.
func (m Begin) Append(b []byte) []byte { return append(append(b, m.Type()), m.Extra...) }

// ParseBegin decodes message 0x0E or 0x0F.
func ParseBegin(b []byte) (Begin, error) {
	if len(b) == 0 {
		return Begin{}, ErrTruncated
	}
	if b[0] != TypeBegin && b[0] != TypeBeginNearest {
		return Begin{}, ErrType
	}
	return Begin{Nearest: b[0] == TypeBeginNearest, Extra: tail(b, 1)}, nil
}

// AskClose (0x0C) asks the receiver to close the P2P session because the
// sender does not have it in its best list. The receiver accepts when it
// has more peers than its own best list needs and the sender is not in it
// (librtmfp NetGroup _onGroupAskClose). Extra keeps any bytes after the
// type.
type AskClose struct {
	Extra []byte
}

// Type returns TypeAskClose.
func (AskClose) Type() byte { return TypeAskClose }

// Len returns the encoded size.
func (m AskClose) Len() int { return 1 + len(m.Extra) }

// Append appends the encoding to b.
func (m AskClose) Append(b []byte) []byte { return append(append(b, TypeAskClose), m.Extra...) }

// ParseAskClose decodes message 0x0C.
func ParseAskClose(b []byte) (AskClose, error) {
	if len(b) == 0 {
		return AskClose{}, ErrTruncated
	}
	if b[0] != TypeAskClose {
		return AskClose{}, ErrType
	}
	return AskClose{Extra: tail(b, 1)}, nil
}

// tail returns b[off:] capped, or nil when empty, so that decoded values
// compare equal to freshly built ones.
func tail(b []byte, off int) []byte {
	if off >= len(b) {
		return nil
	}
	return b[off:len(b):len(b)]
}
