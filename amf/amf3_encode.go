package amf

import (
	"encoding/binary"
	"maps"
	"slices"
	"time"
)

// AppendAMF3 appends the AMF3 encoding of vs to b, in order and sharing one
// set of reference tables (the counterpart of [DecodeAMF3All]). Go integers
// in [MinInt29, MaxInt29] are written as AMF3 integers, other numbers as
// doubles. On error the returned slice holds a partial encoding and should
// be discarded.
func AppendAMF3(b []byte, vs ...Value) ([]byte, error) {
	var e encoder
	var err error
	for _, v := range vs {
		if b, err = e.value3(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendU29 writes v (at most MaxU29) as an AMF3 variable-length integer.
func appendU29(b []byte, v uint32) []byte {
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v>>7)|0x80, byte(v)&0x7F)
	case v < 1<<21:
		return append(b, byte(v>>14)|0x80, byte(v>>7)|0x80, byte(v)&0x7F)
	}
	return append(b, byte(v>>22)|0x80, byte(v>>15)|0x80, byte(v>>8)|0x80, byte(v))
}

// appendLen3 writes an inline length header (length<<1 | 1).
func appendLen3(b []byte, n int, what string) ([]byte, error) {
	if n > maxAMF3Length {
		return b, errorf(ErrLimit, "AMF3 %s of %d exceeds %d", what, n, maxAMF3Length)
	}
	return appendU29(b, uint32(n)<<1|1), nil
}

func appendInt3(b []byte, v int64) []byte {
	if v < MinInt29 || v > MaxInt29 {
		return appendF64(append(b, marker3Double), float64(v))
	}
	return appendU29(append(b, marker3Integer), uint32(v)&MaxU29)
}

func (e *encoder) value3(b []byte, v Value) ([]byte, error) {
	if isNilPointer(v) {
		return append(b, marker3Null), nil
	}
	switch x := v.(type) {
	case nil:
		return append(b, marker3Null), nil
	case Undefined, Unsupported:
		return append(b, marker3Undefined), nil
	case bool:
		if x {
			return append(b, marker3True), nil
		}
		return append(b, marker3False), nil
	case int:
		return appendInt3(b, int64(x)), nil
	case int8:
		return appendInt3(b, int64(x)), nil
	case int16:
		return appendInt3(b, int64(x)), nil
	case int32:
		return appendInt3(b, int64(x)), nil
	case int64:
		return appendInt3(b, x), nil
	case uint8:
		return appendInt3(b, int64(x)), nil
	case uint16:
		return appendInt3(b, int64(x)), nil
	case uint32:
		return appendInt3(b, int64(x)), nil
	case uint:
		if uint64(x) <= MaxInt29 {
			return appendInt3(b, int64(x)), nil
		}
		return appendF64(append(b, marker3Double), float64(x)), nil
	case uint64:
		if x <= MaxInt29 {
			return appendInt3(b, int64(x)), nil
		}
		return appendF64(append(b, marker3Double), float64(x)), nil
	case float64:
		return appendF64(append(b, marker3Double), x), nil
	case float32:
		return appendF64(append(b, marker3Double), float64(x)), nil
	case string:
		return e.string3(append(b, marker3String), x)
	case XMLDocument:
		return e.text3(b, marker3XMLDocument, string(x))
	case XML:
		return e.text3(b, marker3XML, string(x))
	case time.Time:
		b, err := e.newObject3(b, marker3Date)
		if err != nil {
			return b, err
		}
		return appendF64(append(b, 0x01), timeToMillis(x)), nil
	case []byte:
		b, done, err := e.ref3(b, marker3ByteArray, v)
		if done || err != nil {
			return b, err
		}
		if b, err = appendLen3(b, len(x), "byte array"); err != nil {
			return b, err
		}
		return append(b, x...), nil
	case []Value:
		return e.array3(b, v, nil, x)
	case *MixedArray:
		return e.array3(b, v, x.Props, x.Dense)
	case *ECMAArray:
		return e.array3(b, v, x.Props, nil)
	case *Object:
		return e.object3(b, v, "", 0, true, x.Props)
	case map[string]Value:
		props := make([]Property, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			props = append(props, Property{Key: k, Value: x[k]})
		}
		return e.object3(b, v, "", 0, true, props)
	case *TypedObject:
		if x.Sealed < 0 || x.Sealed > len(x.Props) {
			return b, errorf(ErrMalformed, "typed object %q: Sealed=%d with %d properties", x.ClassName, x.Sealed, len(x.Props))
		}
		return e.object3(b, v, x.ClassName, x.Sealed, x.Dynamic || len(x.Props) > x.Sealed, x.Props)
	case *VectorInt:
		b, done, err := e.vectorHead3(b, marker3VectorInt, v, len(x.Items), x.Fixed)
		if err != nil || done {
			return b, err
		}
		for _, n := range x.Items {
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
		return b, nil
	case *VectorUint:
		b, done, err := e.vectorHead3(b, marker3VectorUint, v, len(x.Items), x.Fixed)
		if err != nil || done {
			return b, err
		}
		for _, n := range x.Items {
			b = binary.BigEndian.AppendUint32(b, n)
		}
		return b, nil
	case *VectorDouble:
		b, done, err := e.vectorHead3(b, marker3VectorDouble, v, len(x.Items), x.Fixed)
		if err != nil || done {
			return b, err
		}
		for _, f := range x.Items {
			b = appendF64(b, f)
		}
		return b, nil
	case *VectorObject:
		return e.vectorObject3(b, x)
	case *Dictionary:
		return e.dictionary3(b, x)
	case AVMPlus:
		return e.value3(b, x.Value)
	}
	if f, ok := toFloat(v); ok {
		return appendF64(append(b, marker3Double), f), nil
	}
	return b, errorf(ErrUnsupported, "cannot encode Go type %T", v)
}

// string3 writes an AMF3 string (UTF-8-vr) without marker, by reference
// when it was written before.
func (e *encoder) string3(b []byte, s string) ([]byte, error) {
	if s == "" {
		return append(b, 0x01), nil
	}
	if i, ok := e.strs.get(s); ok {
		return appendU29(b, uint32(i)<<1), nil
	}
	b, err := appendLen3(b, len(s), "string")
	if err != nil {
		return b, err
	}
	if e.nstr >= MaxReferences {
		return b, errorf(ErrLimit, "more than %d distinct strings", MaxReferences)
	}
	e.strs.put(s, e.nstr)
	e.nstr++
	return append(b, s...), nil
}

// newObject3 writes marker and gives the value that follows the next index
// of the object table.
func (e *encoder) newObject3(b []byte, marker byte) ([]byte, error) {
	if e.nobj >= MaxReferences {
		return b, errorf(ErrLimit, "more than %d complex values", MaxReferences)
	}
	e.nobj++
	return append(b, marker), nil
}

// ref3 writes marker and either a reference to v, when v was written before
// (reported by done), or nothing, giving v the next index of the object
// table.
func (e *encoder) ref3(b []byte, marker byte, v Value) (_ []byte, done bool, _ error) {
	id, ok := identityOf(v)
	if ok {
		if i, found := e.objs.get(id); found {
			return appendU29(append(b, marker), uint32(i)<<1), true, nil
		}
		e.objs.put(id, e.nobj)
	}
	b, err := e.newObject3(b, marker)
	return b, false, err
}

// text3 writes an XML document or XML value.
func (e *encoder) text3(b []byte, marker byte, s string) ([]byte, error) {
	b, err := e.newObject3(b, marker)
	if err != nil {
		return b, err
	}
	if b, err = appendLen3(b, len(s), "XML text"); err != nil {
		return b, err
	}
	return append(b, s...), nil
}

// assoc3 writes name/value pairs and the closing empty name.
func (e *encoder) assoc3(b []byte, props []Property) ([]byte, error) {
	var err error
	for _, p := range props {
		if p.Key == "" {
			return b, errorf(ErrUnsupported, "AMF3 cannot carry an empty property name in a dynamic or associative part")
		}
		if b, err = e.string3(b, p.Key); err != nil {
			return b, err
		}
		if b, err = e.value3(b, p.Value); err != nil {
			return b, err
		}
	}
	return append(b, 0x01), nil
}

func (e *encoder) array3(b []byte, v Value, assoc []Property, dense []Value) ([]byte, error) {
	b, done, err := e.ref3(b, marker3Array, v)
	if done || err != nil {
		return b, err
	}
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	if b, err = appendLen3(b, len(dense), "array"); err != nil {
		return b, err
	}
	if b, err = e.assoc3(b, assoc); err != nil {
		return b, err
	}
	for _, x := range dense {
		if b, err = e.value3(b, x); err != nil {
			return b, err
		}
	}
	return b, nil
}

// traitsKey names a trait for the trait table: class, dynamic flag and
// sealed names, each length-prefixed so that no two traits collide. The
// anonymous dynamic trait with no sealed member has the key "".
func traitsKey(class string, dynamic bool, sealed []Property) string {
	if class == "" && dynamic && len(sealed) == 0 {
		return ""
	}
	k := binary.AppendUvarint(nil, uint64(len(class)))
	k = append(k, class...)
	if dynamic {
		k = append(k, 1)
	} else {
		k = append(k, 0)
	}
	for _, p := range sealed {
		k = binary.AppendUvarint(k, uint64(len(p.Key)))
		k = append(k, p.Key...)
	}
	return string(k)
}

func (e *encoder) object3(b []byte, v Value, class string, sealed int, dynamic bool, props []Property) ([]byte, error) {
	b, done, err := e.ref3(b, marker3Object, v)
	if done || err != nil {
		return b, err
	}
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	key := traitsKey(class, dynamic, props[:sealed])
	if i, ok := e.traits.get(key); ok {
		b = appendU29(b, uint32(i)<<2|0x01)
	} else {
		if sealed > MaxU29>>4 {
			return b, errorf(ErrLimit, "%d sealed members", sealed)
		}
		if e.ntrait >= MaxReferences {
			return b, errorf(ErrLimit, "more than %d traits", MaxReferences)
		}
		e.traits.put(key, e.ntrait)
		e.ntrait++
		h := uint32(sealed)<<4 | 0x03
		if dynamic {
			h |= 0x08
		}
		if b, err = e.string3(appendU29(b, h), class); err != nil {
			return b, err
		}
		for _, p := range props[:sealed] {
			if b, err = e.string3(b, p.Key); err != nil {
				return b, err
			}
		}
	}
	for _, p := range props[:sealed] {
		if b, err = e.value3(b, p.Value); err != nil {
			return b, err
		}
	}
	if dynamic {
		return e.assoc3(b, props[sealed:])
	}
	return b, nil
}

// vectorHead3 writes the marker and either a reference (reported by done)
// or the length and fixed flag of a vector.
func (e *encoder) vectorHead3(b []byte, marker byte, v Value, n int, fixed bool) (_ []byte, done bool, _ error) {
	b, done, err := e.ref3(b, marker, v)
	if done || err != nil {
		return b, done, err
	}
	if b, err = appendLen3(b, n, "vector"); err != nil {
		return b, false, err
	}
	c := byte(0)
	if fixed {
		c = 1
	}
	return append(b, c), false, nil
}

func (e *encoder) vectorObject3(b []byte, x *VectorObject) ([]byte, error) {
	b, done, err := e.vectorHead3(b, marker3VectorObject, x, len(x.Items), x.Fixed)
	if err != nil || done {
		return b, err
	}
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	if b, err = e.string3(b, x.TypeName); err != nil {
		return b, err
	}
	for _, v := range x.Items {
		if b, err = e.value3(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (e *encoder) dictionary3(b []byte, x *Dictionary) ([]byte, error) {
	b, done, err := e.ref3(b, marker3Dictionary, x)
	if done || err != nil {
		return b, err
	}
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	if b, err = appendLen3(b, len(x.Entries), "dictionary"); err != nil {
		return b, err
	}
	weak := byte(0)
	if x.WeakKeys {
		weak = 1
	}
	b = append(b, weak)
	for _, en := range x.Entries {
		if b, err = e.value3(b, en.Key); err != nil {
			return b, err
		}
		if b, err = e.value3(b, en.Value); err != nil {
			return b, err
		}
	}
	return b, nil
}
