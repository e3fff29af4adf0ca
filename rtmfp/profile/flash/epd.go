package flash

import (
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// ParseEPD interprets an endpoint discriminator: options 0x00 (hostname),
// 0x0A (the connection URL, or only its path as librtmfp sends it) and
// 0x0F (the 32-byte fingerprint of the wanted peer); see
// profile.ParseOptionEPD.
func ParseEPD(epd []byte) (profile.EPD, error) { return profile.ParseOptionEPD(epd) }

// URLEPD returns the discriminator Flash sends to reach a server:
// the ancillary-data option holding url (a full rtmfp:// URL, or a path).
func URLEPD(url string) []byte {
	return vlu.AppendOption(nil, profile.EPDAncillary, []byte(url))
}

// PeerEPD returns the discriminator that names a peer by its ID:
// 21 0F <peer ID>.
func PeerEPD(id profile.PeerID) []byte {
	return vlu.AppendOption(nil, profile.EPDFingerprint, id[:])
}
