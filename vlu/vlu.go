// Package vlu implements the Variable Length Unsigned integer and the option
// list encodings of RFC 7016 §2.1.2 and §2.1.3.
//
// A VLU is a big-endian base-128 number: the value is split into 7-bit groups,
// most significant group first, and every byte but the last has bit 0x80 set.
//
//	0 → 00    127 → 7f    128 → 81 00    2000001 → fa 89 01
//
// An option is a VLU length L, then (when L > 0) a VLU type and L-len(type)
// bytes of value. An option whose length is 0 is a marker: it carries no type
// and no value and ends an option list. Option lists appear in endpoint
// discriminators, certificates, session key components, user data options,
// group specifiers and NetGroup messages.
//
// The package uses only the standard library and never panics on input.
package vlu

import "errors"

// MaxLen is the longest VLU this package reads or writes: ten bytes hold 70
// bits, enough for any uint64.
const MaxLen = 10

var (
	// ErrTruncated is returned when the input ends inside a VLU or an option.
	ErrTruncated = errors.New("vlu: truncated")
	// ErrOverflow is returned for a VLU longer than MaxLen bytes or one whose
	// value does not fit in 64 bits.
	ErrOverflow = errors.New("vlu: value overflows 64 bits")
)

// Parse reads one VLU from the start of b. It returns the value and the number
// of bytes it used.
func Parse(b []byte) (v uint64, n int, err error) {
	for i := 0; i < len(b); i++ {
		if i == MaxLen {
			return 0, 0, ErrOverflow
		}
		if v>>57 != 0 {
			return 0, 0, ErrOverflow
		}
		c := b[i]
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, ErrTruncated
}

// Len returns the number of bytes Append writes for v.
func Len(v uint64) int {
	n := 1
	for v >>= 7; v != 0; v >>= 7 {
		n++
	}
	return n
}

// Append appends the VLU encoding of v to b.
func Append(b []byte, v uint64) []byte {
	n := Len(v)
	for i := n - 1; i >= 0; i-- {
		c := byte(v>>(7*uint(i))) & 0x7f
		if i != 0 {
			c |= 0x80
		}
		b = append(b, c)
	}
	return b
}
