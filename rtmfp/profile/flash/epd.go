package flash

import (
	"errors"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Endpoint discriminator option types (RFC 7425 §4.4.2).
const (
	epdHostname    = 0x00
	epdAncillary   = 0x0a
	epdFingerprint = 0x0f
)

// maxEPD bounds the discriminators ParseEPD accepts; Flash's URLs are far
// shorter.
const maxEPD = 1024

// errEPD is returned for a discriminator that is not an option list, names
// nothing this profile understands, or has a fingerprint that is not 32
// bytes.
var errEPD = errors.New("flash: malformed endpoint discriminator")

// ParseEPD interprets an endpoint discriminator: option 0x00 (required
// hostname), 0x0A (ancillary data: the connection URL, or only its path as
// librtmfp sends it) and 0x0F (the 32-byte fingerprint of the wanted
// peer). Unknown options are skipped; a discriminator with none of the
// three is refused. Raw is a copy of epd.
func ParseEPD(epd []byte) (profile.EPD, error) {
	var e profile.EPD
	if len(epd) == 0 || len(epd) > maxEPD {
		return e, errEPD
	}
	found := false
	it := vlu.NewOptions(epd)
	for it.Next() {
		o := it.Option()
		switch o.Type {
		case epdHostname:
			e.Hostname, found = string(o.Value), true
		case epdAncillary:
			e.Ancillary, found = string(o.Value), true
		case epdFingerprint:
			if len(o.Value) != len(e.PeerID) {
				return profile.EPD{}, errEPD
			}
			copy(e.PeerID[:], o.Value)
			e.HasPeerID, found = true, true
		}
	}
	if it.Err() != nil || !found {
		return profile.EPD{}, errEPD
	}
	e.Raw = append([]byte(nil), epd...)
	return e, nil
}

// URLEPD returns the discriminator Flash sends to reach a server:
// the ancillary-data option holding url (a full rtmfp:// URL, or a path).
func URLEPD(url string) []byte {
	return vlu.AppendOption(nil, epdAncillary, []byte(url))
}

// PeerEPD returns the discriminator that names a peer by its ID:
// 21 0F <peer ID>.
func PeerEPD(id profile.PeerID) []byte {
	return vlu.AppendOption(nil, epdFingerprint, id[:])
}
