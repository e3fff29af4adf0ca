package vlu

import "errors"

// ErrMissingMarker is returned by ParseOptionList when the input ends before
// the marker that closes the list.
var ErrMissingMarker = errors.New("vlu: option list has no end marker")

// Option is one option of an option list (RFC 7016 §2.1.3). Value aliases the
// buffer it was parsed from.
type Option struct {
	Type  uint64
	Value []byte
}

// Len returns the encoded size of o.
func (o Option) Len() int {
	l := uint64(Len(o.Type) + len(o.Value))
	return Len(l) + int(l)
}

// Append appends the encoding of o to b.
func (o Option) Append(b []byte) []byte {
	return AppendOption(b, o.Type, o.Value)
}

// AppendOption appends an option of the given type and value to b.
func AppendOption(b []byte, typ uint64, value []byte) []byte {
	b = Append(b, uint64(Len(typ)+len(value)))
	b = Append(b, typ)
	return append(b, value...)
}

// AppendMarker appends the zero-length option that ends an option list.
func AppendMarker(b []byte) []byte { return append(b, 0) }

// ParseOption reads one option from the start of b. A marker is reported with
// marker set and a zero Option. n is the number of bytes used.
func ParseOption(b []byte) (o Option, n int, marker bool, err error) {
	l, n, err := Parse(b)
	if err != nil {
		return Option{}, 0, false, err
	}
	if l == 0 {
		return Option{}, n, true, nil
	}
	if l > uint64(len(b)-n) {
		return Option{}, 0, false, ErrTruncated
	}
	body := b[n : n+int(l)]
	t, tn, err := Parse(body)
	if err != nil {
		// The type VLU must fit inside the option's own length.
		if err == ErrTruncated {
			return Option{}, 0, false, ErrTruncated
		}
		return Option{}, 0, false, err
	}
	return Option{Type: t, Value: body[tn:]}, n + int(l), false, nil
}

// OptionList walks an option list without allocating.
//
//	it := vlu.NewOptionList(b)
//	for it.Next() {
//		o := it.Option()
//	}
//	if err := it.Err(); err != nil { ... }
//	rest := b[it.Consumed():]
type OptionList struct {
	b        []byte
	off      int
	cur      Option
	err      error
	done     bool
	sawMark  bool
	stopMark bool
}

// NewOptionList returns an iterator over the option list at the start of b.
// The iteration stops after the marker (which Next does not return) or at the
// end of b. Use Marker to learn whether the list was closed by a marker.
func NewOptionList(b []byte) OptionList {
	return OptionList{b: b, stopMark: true}
}

// NewOptions returns an iterator over every option in b, stepping over
// markers instead of stopping at them. It suits option sequences that are not
// closed by a marker, such as a certificate's non-canonical tail.
func NewOptions(b []byte) OptionList {
	return OptionList{b: b}
}

// Next advances to the next option and reports whether there is one.
func (it *OptionList) Next() bool {
	for !it.done && it.err == nil {
		if it.off >= len(it.b) {
			it.done = true
			return false
		}
		o, n, marker, err := ParseOption(it.b[it.off:])
		if err != nil {
			it.err = err
			return false
		}
		it.off += n
		if marker {
			it.sawMark = true
			if it.stopMark {
				it.done = true
				return false
			}
			continue
		}
		it.cur = o
		return true
	}
	return false
}

// Option returns the current option.
func (it *OptionList) Option() Option { return it.cur }

// Err returns the first decoding error met.
func (it *OptionList) Err() error { return it.err }

// Marker reports whether a marker has been read.
func (it *OptionList) Marker() bool { return it.sawMark }

// Consumed returns how many bytes of the input have been read, including the
// closing marker when one was read.
func (it *OptionList) Consumed() int { return it.off }

// ParseOptionList parses a marker-terminated option list at the start of b and
// returns its options and the bytes used, marker included. It is a convenience
// for cold paths; hot paths use OptionList.
func ParseOptionList(b []byte) ([]Option, int, error) {
	var opts []Option
	it := NewOptionList(b)
	for it.Next() {
		opts = append(opts, it.Option())
	}
	if it.Err() != nil {
		return nil, 0, it.Err()
	}
	if !it.Marker() {
		return nil, 0, ErrMissingMarker
	}
	return opts, it.Consumed(), nil
}

// Find returns the value of the first option of type typ in the option list
// at the start of b (up to its marker).
func Find(b []byte, typ uint64) ([]byte, bool) {
	it := NewOptionList(b)
	for it.Next() {
		if o := it.Option(); o.Type == typ {
			return o.Value, true
		}
	}
	return nil, false
}
