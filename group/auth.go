package group

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"github.com/rtmfpd/rtmfpd/vlu"
)

// Password digests and authorizations.
//
// A GroupSpecifier with a password (AS3 setPublishPassword or
// setPostingPassword) carries, before the 00 marker, option 0x05 holding a
// 32-byte digest; groupspecWithAuthorizations() adds, after the marker,
// option 0x15 holding the password in clear, which groupspecWithoutAuthorizations()
// leaves out. The digest is the SHA-256 of the authorization: checked on
// the only public spec that carries both, OSMF's multicast plugin sample
// (group "fms.multicast.example", digest f8cd3b37…, authorization
// "realeyes"). Which of the two passwords 0x05 is, and how a salt
// (setPublishPassword's second argument) enters the digest, no source
// available here says; a salted spec is therefore not recognised as
// authorized.

// PasswordDigest returns the password digest (hashed option 0x05 with a
// 32-byte value), if the spec has one.
func (s *Spec) PasswordDigest() ([]byte, bool) {
	v, ok := s.Find(OptPasswordDigest)
	if !ok || len(v) != sha256.Size {
		return nil, false
	}
	return v, true
}

// Authorizations returns the values of the authorization options (0x15)
// after the marker.
func (s *Spec) Authorizations() [][]byte {
	var out [][]byte
	for _, o := range s.trailer {
		if o.Type == uint64(OptAuthorization) {
			out = append(out, o.Value)
		}
	}
	return out
}

// Authorized reports whether the spec may publish: it has no password
// digest, or it carries an authorization whose SHA-256 is the digest.
func (s *Spec) Authorized() bool {
	d, ok := s.PasswordDigest()
	if !ok {
		return true
	}
	for _, a := range s.Authorizations() {
		h := sha256.Sum256(a)
		if subtle.ConstantTimeCompare(h[:], d) == 1 {
			return true
		}
	}
	return false
}

// WithoutAuthorizations returns the spec as groupspecWithoutAuthorizations()
// gives it: the authorization options (0x15) after the marker are left
// out; the part that identifies the group is kept as given and the other
// options after the marker (IP multicast addresses) in their order, in
// lowercase hex. A spec without authorizations is returned unchanged.
func (s *Spec) WithoutAuthorizations() string {
	if len(s.Authorizations()) == 0 {
		return s.text
	}
	raw := vlu.AppendMarker(nil)
	for _, o := range s.trailer {
		if o.Type != uint64(OptAuthorization) {
			raw = vlu.AppendOption(raw, o.Type, o.Value)
		}
	}
	return s.GroupTxt() + hex.EncodeToString(raw)
}
