package amf

import (
	"errors"
	"fmt"
)

// Hard limits applied by the decoders (and, for depth, by the encoders).
const (
	// MaxDepth is the deepest nesting of containers (objects, arrays,
	// vectors, dictionaries, AMF3 switches) a decoder or encoder accepts.
	MaxDepth = 64

	// MaxElements is the largest number of entries in one container:
	// properties of an object, elements of an array or vector, entries of a
	// dictionary, sealed members of a trait.
	MaxElements = 1 << 20

	// MaxReferences is the largest size of one reference table (the AMF0
	// object table and the AMF3 string, object and trait tables).
	MaxReferences = 1 << 20

	// MaxU29 is the largest value of an AMF3 variable-length unsigned
	// 29-bit integer.
	MaxU29 = 1<<29 - 1

	// MinInt29 and MaxInt29 bound the values that AMF3 encodes with the
	// integer marker; other integers are written as doubles.
	MinInt29 = -1 << 28
	MaxInt29 = 1<<28 - 1

	// maxAMF3Length is the largest string, byte array or element count an
	// AMF3 U29 length field can carry.
	maxAMF3Length = 1<<28 - 1
)

// Errors returned by the decoders and encoders. They are wrapped with
// details; test them with errors.Is.
var (
	// ErrTruncated means the input ended inside a value.
	ErrTruncated = errors.New("amf: unexpected end of input")
	// ErrMalformed means the input is not valid AMF.
	ErrMalformed = errors.New("amf: malformed input")
	// ErrLimit means a value exceeds one of the limits above.
	ErrLimit = errors.New("amf: limit exceeded")
	// ErrUnsupported means a valid marker this package cannot handle
	// (externalizable AMF3 classes, AMF0 movieclip and recordset), or a Go
	// value that has no AMF form.
	ErrUnsupported = errors.New("amf: unsupported")
)

// errorf wraps a sentinel error with a description.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// errAt wraps a sentinel error with a description and the input offset.
func errAt(sentinel error, off int, format string, args ...any) error {
	return fmt.Errorf("%w: %s (at offset %d)", sentinel, fmt.Sprintf(format, args...), off)
}
