package wire

import "github.com/rtmfpd/rtmfpd/vlu"

// User Data option types (RFC 7016 §2.3.11.1).
const (
	// OptionMetadata carries the flow's opaque metadata; in the Flash
	// profile a signature such as "TC\x04\x00" (RFC 7425).
	OptionMetadata uint64 = 0x00
	// OptionReturnAssociation names, as a VLU, a flow the sender receives
	// from this peer: the new flow answers that one.
	OptionReturnAssociation uint64 = 0x0A
	// OptionMandatoryCutoff: unknown options with a type below it must make
	// the receiver reject the flow; those at or above it may be ignored.
	OptionMandatoryCutoff uint64 = 0x2000
)

// UserDataOptions is the decoded option list of a User Data chunk (the
// UserData.Options bytes). Each option is VLU length, VLU type, value; a
// zero length (the marker) ends the list:
//
//	05 00 54 43 04 00    metadata "TC\x04\x00"
//	02 0a 02             return association: flow 2
//	00                   marker
type UserDataOptions struct {
	// Metadata is the value of the first metadata option, or nil when there
	// is none. A present but empty metadata is a non-nil empty slice.
	Metadata []byte
	// ReturnAssociation is the flow ID of the first return association
	// option; HasReturnAssociation says whether there was one.
	ReturnAssociation    uint64
	HasReturnAssociation bool
	// UnknownMandatory is set by the parser when the list holds an option of
	// another type below OptionMandatoryCutoff: the flow must be rejected.
	// Append ignores it.
	UnknownMandatory bool
}

// ParseUserDataOptions decodes an option list that ends with its marker and
// has nothing after it, as found in UserData.Options. It does not allocate;
// Metadata aliases list. A return association whose value is not exactly one
// VLU is an error.
func ParseUserDataOptions(list []byte) (UserDataOptions, error) {
	var o UserDataOptions
	it := vlu.NewOptionList(list)
	for it.Next() {
		opt := it.Option()
		switch {
		case opt.Type == OptionMetadata:
			if o.Metadata == nil {
				o.Metadata = opt.Value[:len(opt.Value):len(opt.Value)]
			}
		case opt.Type == OptionReturnAssociation:
			id, n, err := readVLU(opt.Value, 0)
			if err != nil {
				return UserDataOptions{}, err
			}
			if n != len(opt.Value) {
				return UserDataOptions{}, ErrTrailing
			}
			if !o.HasReturnAssociation {
				o.ReturnAssociation, o.HasReturnAssociation = id, true
			}
		case opt.Type < OptionMandatoryCutoff:
			o.UnknownMandatory = true
		}
	}
	if err := it.Err(); err != nil {
		if err == vlu.ErrTruncated {
			return UserDataOptions{}, ErrTruncated
		}
		return UserDataOptions{}, ErrBadVLU
	}
	if !it.Marker() {
		return UserDataOptions{}, ErrMissingMarker
	}
	if it.Consumed() != len(list) {
		return UserDataOptions{}, ErrTrailing
	}
	return o, nil
}

// Len returns the encoded size of the option list, marker included.
func (o UserDataOptions) Len() int {
	n := 1
	if o.Metadata != nil {
		n += vlu.Option{Type: OptionMetadata, Value: o.Metadata}.Len()
	}
	if o.HasReturnAssociation {
		l := uint64(vlu.Len(OptionReturnAssociation) + vlu.Len(o.ReturnAssociation))
		n += vlu.Len(l) + int(l)
	}
	return n
}

// Append appends the option list to b: the metadata option (when Metadata is
// not nil), the return association option (when HasReturnAssociation), then
// the marker. This is the order Flash, MonaServer and rtmfp-cpp use.
func (o UserDataOptions) Append(b []byte) []byte {
	if o.Metadata != nil {
		b = vlu.AppendOption(b, OptionMetadata, o.Metadata)
	}
	if o.HasReturnAssociation {
		l := uint64(vlu.Len(OptionReturnAssociation) + vlu.Len(o.ReturnAssociation))
		b = vlu.Append(b, l)
		b = vlu.Append(b, OptionReturnAssociation)
		b = vlu.Append(b, o.ReturnAssociation)
	}
	return vlu.AppendMarker(b)
}
