package amf

import (
	"maps"
	"math"
	"slices"
	"time"
)

// AppendAMF0 appends the AMF0 encoding of vs to b, in order and sharing one
// AMF0 reference table (a whole command: name, transaction ID, command
// object, arguments). Values that AMF0 cannot express, and AVMPlus values,
// are written as AMF3 behind the switch marker. On error the returned slice
// holds a partial encoding and should be discarded.
func AppendAMF0(b []byte, vs ...Value) ([]byte, error) {
	var e encoder
	var err error
	for _, v := range vs {
		if b, err = e.value0(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (e *encoder) value0(b []byte, v Value) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, marker0Null), nil
	case float64:
		return appendF64(append(b, marker0Number), x), nil
	case bool:
		c := byte(0)
		if x {
			c = 1
		}
		return append(b, marker0Boolean, c), nil
	case string:
		if len(x) <= math.MaxUint16 {
			return append(appendU16(append(b, marker0String), uint16(len(x))), x...), nil
		}
		if uint64(len(x)) > math.MaxUint32 {
			return b, errorf(ErrLimit, "string of %d bytes", len(x))
		}
		return append(appendU32(append(b, marker0LongString), uint32(len(x))), x...), nil
	case XMLDocument:
		if uint64(len(x)) > math.MaxUint32 {
			return b, errorf(ErrLimit, "XML document of %d bytes", len(x))
		}
		return append(appendU32(append(b, marker0XMLDocument), uint32(len(x))), x...), nil
	case Undefined:
		return append(b, marker0Undefined), nil
	case Unsupported:
		return append(b, marker0Unsupported), nil
	case time.Time:
		b = appendF64(append(b, marker0Date), timeToMillis(x))
		return appendU16(b, uint16(amf0ZoneField(x))), nil
	case *Object:
		if x == nil {
			return append(b, marker0Null), nil
		}
		return e.object0(b, v, marker0Object, "", x.Props)
	case *TypedObject:
		if x == nil {
			return append(b, marker0Null), nil
		}
		return e.object0(b, v, marker0TypedObject, x.ClassName, x.Props)
	case *ECMAArray:
		if x == nil {
			return append(b, marker0Null), nil
		}
		return e.ecmaArray0(b, x)
	case map[string]Value:
		if x == nil {
			return append(b, marker0Null), nil
		}
		props := make([]Property, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			props = append(props, Property{Key: k, Value: x[k]})
		}
		return e.object0(b, v, marker0Object, "", props)
	case []Value:
		return e.strictArray0(b, x)
	case AVMPlus:
		return e.avmplus(b, x.Value)
	case *MixedArray, *VectorInt, *VectorUint, *VectorDouble, *VectorObject, *Dictionary:
		if isNilPointer(v) {
			return append(b, marker0Null), nil
		}
		return e.avmplus(b, v)
	case XML, []byte:
		return e.avmplus(b, v)
	}
	if f, ok := toFloat(v); ok {
		return appendF64(append(b, marker0Number), f), nil
	}
	return b, errorf(ErrUnsupported, "cannot encode Go type %T", v)
}

// ref0 writes an AMF0 reference when v was written before and reports it;
// otherwise it gives v the next index of the object table.
func (e *encoder) ref0(b []byte, v Value) ([]byte, bool, error) {
	id, ok := identityOf(v)
	if ok {
		if i, found := e.refs0.get(id); found && i <= math.MaxUint16 {
			return appendU16(append(b, marker0Reference), uint16(i)), true, nil
		}
	}
	if e.n0 >= MaxReferences {
		return b, false, errorf(ErrLimit, "more than %d complex values", MaxReferences)
	}
	if ok {
		e.refs0.put(id, e.n0)
	}
	e.n0++
	return b, false, nil
}

// object0 writes an anonymous or typed object (marker 0x03 or 0x10).
func (e *encoder) object0(b []byte, v Value, marker byte, class string, props []Property) ([]byte, error) {
	b, done, err := e.ref0(b, v)
	if done || err != nil {
		return b, err
	}
	b = append(b, marker)
	if marker == marker0TypedObject {
		if b, err = appendKey0(b, class); err != nil {
			return b, err
		}
	}
	return e.props0(b, props)
}

// props0 writes properties and the object end (00 00 09).
func (e *encoder) props0(b []byte, props []Property) ([]byte, error) {
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	var err error
	for _, p := range props {
		if b, err = appendKey0(b, p.Key); err != nil {
			return b, err
		}
		if b, err = e.value0(b, p.Value); err != nil {
			return b, err
		}
	}
	return append(b, 0, 0, marker0ObjectEnd), nil
}

// appendKey0 writes a UTF-8 string with a 16-bit length (property names,
// class names).
func appendKey0(b []byte, s string) ([]byte, error) {
	if len(s) > math.MaxUint16 {
		return b, errorf(ErrLimit, "name of %d bytes exceeds 65535", len(s))
	}
	return append(appendU16(b, uint16(len(s))), s...), nil
}

func (e *encoder) ecmaArray0(b []byte, a *ECMAArray) ([]byte, error) {
	b, done, err := e.ref0(b, a)
	if done || err != nil {
		return b, err
	}
	count := uint32(min(len(a.Props), math.MaxUint32))
	if a.Count != nil {
		count = *a.Count
	}
	return e.props0(appendU32(append(b, marker0ECMAArray), count), a.Props)
}

func (e *encoder) strictArray0(b []byte, arr []Value) ([]byte, error) {
	b, done, err := e.ref0(b, arr)
	if done || err != nil {
		return b, err
	}
	if uint64(len(arr)) > math.MaxUint32 {
		return b, errorf(ErrLimit, "strict array of %d elements", len(arr))
	}
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	b = appendU32(append(b, marker0StrictArray), uint32(len(arr)))
	for _, v := range arr {
		if b, err = e.value0(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

// avmplus writes the switch marker and v in AMF3, with fresh AMF3 tables.
func (e *encoder) avmplus(b []byte, v Value) ([]byte, error) {
	if err := e.enter(); err != nil {
		return b, err
	}
	defer e.leave()
	e.strs.reset()
	e.objs.reset()
	e.traits.reset()
	e.nstr, e.nobj, e.ntrait = 0, 0, 0
	return e.value3(append(b, marker0AVMPlus), v)
}

// isNilPointer reports whether v holds a nil pointer of one of the value
// types.
func isNilPointer(v Value) bool {
	switch x := v.(type) {
	case *Object:
		return x == nil
	case *TypedObject:
		return x == nil
	case *ECMAArray:
		return x == nil
	case *MixedArray:
		return x == nil
	case *VectorInt:
		return x == nil
	case *VectorUint:
		return x == nil
	case *VectorDouble:
		return x == nil
	case *VectorObject:
		return x == nil
	case *Dictionary:
		return x == nil
	}
	return false
}
