package amf

import "math"

// Value is any value this package decodes or encodes; the package
// documentation lists the Go types it holds.
type Value = any

// Undefined is the ActionScript undefined value (AMF0 0x06, AMF3 0x00).
type Undefined struct{}

// Unsupported is the AMF0 unsupported marker (0x0D), written by Flash for
// values it cannot serialize. AMF3 has no such marker; it is encoded there as
// undefined.
type Unsupported struct{}

// XMLDocument is the text of a legacy flash.xml.XMLDocument (AMF0 0x0F,
// AMF3 0x07).
type XMLDocument string

// XML is the text of an E4X XML value (AMF3 0x0B). AMF0 has no such marker;
// the AMF0 encoder writes it behind the AMF3 switch.
type XML string

// AVMPlus marks a value encoded as AMF3 inside an AMF0 stream, behind the
// avmplus-object marker (0x11). The AMF0 encoder writes Value that way; a
// [Decoder] with KeepAVMPlus returns switched values wrapped in it. The AMF3
// encoder writes Value directly.
type AVMPlus struct {
	Value Value
}

// TypedObject is an object with a class name (AMF0 0x10) or an AMF3 object
// whose traits are not those of a plain anonymous dynamic object.
type TypedObject struct {
	// ClassName is the registered class alias; it may be empty for an AMF3
	// anonymous object with sealed members.
	ClassName string
	// Object holds the properties: in AMF3, the sealed members first (in
	// trait order), then the dynamic ones.
	Object
	// Sealed is the number of leading properties that are sealed members of
	// the AMF3 traits. AMF0 ignores it.
	Sealed int
	// Dynamic marks AMF3 traits as dynamic. The encoder also sets the
	// dynamic flag when there are properties after the sealed ones.
	Dynamic bool
}

// ECMAArray is an AMF0 ECMA array (0x08): an associative array with a count
// field, used by onMetaData. In AMF3 it is written as an array with only an
// associative part.
type ECMAArray struct {
	Object
	// Count, when not nil, is the value written in the associative-count
	// field instead of len(Props). The decoder sets it only when the field
	// differs from the number of properties that follow it, so that
	// re-encoding reproduces the input while arrays built or changed by
	// callers get the natural count.
	Count *uint32
}

// MixedArray is an AMF3 array with an associative part (in wire order) as
// well as a dense part. In AMF0 it is written behind the AMF3 switch.
type MixedArray struct {
	Object
	Dense []Value
}

// VectorInt is an AMF3 Vector.<int> (0x0D).
type VectorInt struct {
	Fixed bool
	Items []int32
}

// VectorUint is an AMF3 Vector.<uint> (0x0E).
type VectorUint struct {
	Fixed bool
	Items []uint32
}

// VectorDouble is an AMF3 Vector.<Number> (0x0F).
type VectorDouble struct {
	Fixed bool
	Items []float64
}

// VectorObject is an AMF3 Vector.<T> of objects (0x10); TypeName is the
// element class name ("" or "*" for any).
type VectorObject struct {
	Fixed    bool
	TypeName string
	Items    []Value
}

// Dictionary is an AMF3 flash.utils.Dictionary (0x11), with its entries in
// wire order.
type Dictionary struct {
	WeakKeys bool
	Entries  []DictEntry
}

// DictEntry is one key/value pair of a [Dictionary].
type DictEntry struct {
	Key   Value
	Value Value
}

// Number returns v as a float64 when it holds a Go number (as decoded:
// float64 or int; or any other Go integer or float type).
func Number(v Value) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case float32:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uintptr:
		return float64(n), true
	case AVMPlus:
		return Number(n.Value)
	}
	return 0, false
}

// Int returns v as an int when it is a number with an integral value that
// fits an int (for transaction IDs, stream IDs, objectEncoding…).
func Int(v Value) (int, bool) {
	f, ok := Number(v)
	if !ok || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int(f), true
}

// AsObject returns the property list of an object-like value: *Object,
// *TypedObject, *ECMAArray or *MixedArray (its associative part), looking
// through [AVMPlus].
func AsObject(v Value) (*Object, bool) {
	switch o := v.(type) {
	case *Object:
		return o, o != nil
	case *TypedObject:
		if o == nil {
			return nil, false
		}
		return &o.Object, true
	case *ECMAArray:
		if o == nil {
			return nil, false
		}
		return &o.Object, true
	case *MixedArray:
		if o == nil {
			return nil, false
		}
		return &o.Object, true
	case AVMPlus:
		return AsObject(o.Value)
	}
	return nil, false
}
