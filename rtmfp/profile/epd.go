package profile

import (
	"bytes"
	"errors"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// Endpoint discriminator option types (RFC 7425 §4.4.2), shared by the
// Flash profile and the plain test profile.
const (
	EPDHostname    = 0x00 // required hostname
	EPDAncillary   = 0x0a // ancillary data: the connection URL
	EPDFingerprint = 0x0f // the 32-byte fingerprint (peer ID) of the wanted peer
)

// MaxEPD bounds the discriminators ParseOptionEPD accepts; Flash's URLs
// are far shorter.
const MaxEPD = 1024

// ErrEPD is returned for a discriminator that is not an option list, names
// nothing, or has a fingerprint that is not 32 bytes.
var ErrEPD = errors.New("rtmfp: malformed endpoint discriminator")

// ParseOptionEPD interprets a discriminator written as an option list
// (RFC 7425 §4.4.2): option 0x00 (hostname), 0x0A (ancillary data: the
// connection URL, or only its path as librtmfp sends it) and 0x0F (the
// fingerprint of the wanted peer). Unknown options are skipped; a
// discriminator with none of the three is refused. Raw is a copy of epd.
func ParseOptionEPD(epd []byte) (EPD, error) {
	var e EPD
	if len(epd) == 0 || len(epd) > MaxEPD {
		return e, ErrEPD
	}
	found := false
	it := vlu.NewOptions(epd)
	for it.Next() {
		o := it.Option()
		switch o.Type {
		case EPDHostname:
			e.Hostname, found = string(o.Value), true
		case EPDAncillary:
			e.Ancillary, found = string(o.Value), true
		case EPDFingerprint:
			if len(o.Value) != len(e.PeerID) {
				return EPD{}, ErrEPD
			}
			copy(e.PeerID[:], o.Value)
			e.HasPeerID, found = true, true
		}
	}
	if it.Err() != nil || !found {
		return EPD{}, ErrEPD
	}
	e.Raw = bytes.Clone(epd)
	return e, nil
}
