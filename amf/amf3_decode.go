package amf

import (
	"encoding/binary"
	"math"
)

// AMF3 markers (AMF3 specification §3.1).
const (
	marker3Undefined    = 0x00
	marker3Null         = 0x01
	marker3False        = 0x02
	marker3True         = 0x03
	marker3Integer      = 0x04
	marker3Double       = 0x05
	marker3String       = 0x06
	marker3XMLDocument  = 0x07
	marker3Date         = 0x08
	marker3Array        = 0x09
	marker3Object       = 0x0A
	marker3XML          = 0x0B
	marker3ByteArray    = 0x0C
	marker3VectorInt    = 0x0D
	marker3VectorUint   = 0x0E
	marker3VectorDouble = 0x0F
	marker3VectorObject = 0x10
	marker3Dictionary   = 0x11
)

// DecodeAMF3 decodes one AMF3 value, with empty reference tables, from the
// start of b and returns it with the number of bytes it used.
func DecodeAMF3(b []byte) (Value, int, error) {
	d := decoder{b: b}
	v, err := d.value3()
	if err != nil {
		return nil, d.off, err
	}
	return v, d.off, nil
}

// DecodeAMF3All decodes b as a sequence of AMF3 values sharing one set of
// reference tables (as written by successive ByteArray.writeObject calls),
// until b is used up. On error it also returns the values completed before
// the error.
func DecodeAMF3All(b []byte) ([]Value, error) {
	d := decoder{b: b}
	var out []Value
	for d.rest() > 0 {
		if err := d.grow(len(out), "value sequence"); err != nil {
			return out, err
		}
		v, err := d.value3()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// u29 reads an AMF3 variable-length unsigned 29-bit integer (AMF3 §1.3.1):
// up to three bytes of 7 bits with a continuation bit, then a full byte.
func (d *decoder) u29() (uint32, error) {
	var v uint32
	for range 3 {
		c, err := d.u8()
		if err != nil {
			return 0, err
		}
		if c&0x80 == 0 {
			return v<<7 | uint32(c), nil
		}
		v = v<<7 | uint32(c&0x7F)
	}
	c, err := d.u8()
	if err != nil {
		return 0, err
	}
	return v<<8 | uint32(c), nil
}

// objRef returns the object table entry a U29 header with its low bit clear
// refers to.
func (d *decoder) objRef(h uint32, start int) (Value, error) {
	i := h >> 1
	if uint64(i) >= uint64(len(d.objs)) {
		return nil, errAt(ErrMalformed, start, "AMF3 object reference %d with %d objects decoded", i, len(d.objs))
	}
	return d.objs[i], nil
}

// header3 reads the U29 header of an object-table value: a reference
// (isRef, resolved into ref) or the inline value's header h.
func (d *decoder) header3(start int) (h uint32, ref Value, isRef bool, err error) {
	if h, err = d.u29(); err != nil {
		return 0, nil, false, err
	}
	if h&1 == 0 {
		ref, err = d.objRef(h, start)
		return h, ref, true, err
	}
	return h, nil, false, nil
}

// container3 is header3 for values holding others: an inline one also
// enters one nesting level, which the caller leaves.
func (d *decoder) container3(start int) (h uint32, ref Value, isRef bool, err error) {
	if h, ref, isRef, err = d.header3(start); err != nil || isRef {
		return h, ref, isRef, err
	}
	return h, nil, false, d.enter()
}

// string3 reads an AMF3 string (UTF-8-vr): a reference or an inline string,
// which joins the string table unless it is empty.
func (d *decoder) string3() (string, error) {
	start := d.off
	h, err := d.u29()
	if err != nil {
		return "", err
	}
	if h&1 == 0 {
		i := h >> 1
		if uint64(i) >= uint64(len(d.strs)) {
			return "", errAt(ErrMalformed, start, "AMF3 string reference %d with %d strings decoded", i, len(d.strs))
		}
		return d.strs[i], nil
	}
	s, err := d.str(int(h >> 1))
	if err != nil || s == "" {
		return s, err
	}
	return s, addRef(d, &d.strs, s)
}

func (d *decoder) value3() (Value, error) {
	start := d.off
	m, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch m {
	case marker3Undefined:
		return Undefined{}, nil
	case marker3Null:
		return nil, nil
	case marker3False:
		return false, nil
	case marker3True:
		return true, nil
	case marker3Integer:
		u, err := d.u29()
		if err != nil {
			return nil, err
		}
		// Sign-extend the 29-bit two's complement value.
		return int(int32(u<<3) >> 3), nil
	case marker3Double:
		return d.f64()
	case marker3String:
		return d.string3()
	case marker3XMLDocument, marker3XML, marker3ByteArray, marker3Date:
		return d.flat3(m, start)
	case marker3Array:
		return d.array3(start)
	case marker3Object:
		return d.object3(start)
	case marker3VectorInt, marker3VectorUint, marker3VectorDouble, marker3VectorObject:
		return d.vector3(m, start)
	case marker3Dictionary:
		return d.dictionary3(start)
	}
	return nil, errAt(ErrMalformed, start, "unknown AMF3 marker 0x%02x", m)
}

// flat3 decodes the object-table values that hold no other values: XML
// document, XML, ByteArray and Date.
func (d *decoder) flat3(m byte, start int) (Value, error) {
	h, ref, isRef, err := d.header3(start)
	if err != nil || isRef {
		return ref, err
	}
	var v Value
	switch m {
	case marker3Date:
		ms, err := d.f64()
		if err != nil {
			return nil, err
		}
		t, ok := millisToTime(ms)
		if !ok {
			return nil, errAt(ErrMalformed, start, "date %v ms outside the ECMAScript range", ms)
		}
		v = t
	case marker3ByteArray:
		p, err := d.bytes(int(h >> 1))
		if err != nil {
			return nil, err
		}
		v = append([]byte(nil), p...)
	default:
		s, err := d.str(int(h >> 1))
		if err != nil {
			return nil, err
		}
		if m == marker3XML {
			v = XML(s)
		} else {
			v = XMLDocument(s)
		}
	}
	return v, addRef(d, &d.objs, v)
}

// assoc3 reads AMF3 name/value pairs up to the empty name onto the scratch
// stack; first is the first name, already read, and mark the stack height
// where the container's properties begin.
func (d *decoder) assoc3(mark int, first string, what string) error {
	key := first
	for key != "" {
		if err := d.grow(len(d.scratch)-mark, what); err != nil {
			return err
		}
		v, err := d.value3()
		if err != nil {
			return err
		}
		d.pushProp(key, v)
		if key, err = d.string3(); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) array3(start int) (Value, error) {
	h, ref, isRef, err := d.container3(start)
	if err != nil || isRef {
		return ref, err
	}
	defer d.leave()
	n, err := d.count(uint64(h>>1), 1, "array")
	if err != nil {
		return nil, err
	}
	slot := len(d.objs)
	if err := addRef(d, &d.objs, nil); err != nil {
		return nil, err
	}
	key, err := d.string3()
	if err != nil {
		return nil, err
	}
	var dense []Value
	var result Value
	if key == "" {
		dense = make([]Value, n)
		result = dense
		d.objs[slot] = result
	} else {
		ma := &MixedArray{}
		d.objs[slot] = ma
		mark := len(d.scratch)
		if err := d.assoc3(mark, key, "array"); err != nil {
			return nil, err
		}
		ma.Props = d.takeProps(mark)
		// Check the dense count again: the associative part used input.
		if n, err = d.count(uint64(n), 1, "array"); err != nil {
			return nil, err
		}
		ma.Dense = make([]Value, n)
		dense, result = ma.Dense, ma
	}
	for i := range dense {
		if dense[i], err = d.value3(); err != nil {
			return nil, err
		}
	}
	return result, nil
}

func (d *decoder) object3(start int) (Value, error) {
	h, ref, isRef, err := d.container3(start)
	if err != nil || isRef {
		return ref, err
	}
	defer d.leave()
	var t *traits3
	switch {
	case h&2 == 0: // traits reference
		i := h >> 2
		if uint64(i) >= uint64(len(d.traits)) {
			return nil, errAt(ErrMalformed, start, "AMF3 traits reference %d with %d traits decoded", i, len(d.traits))
		}
		t = d.traits[i]
	case h&4 != 0: // externalizable
		class, err := d.string3()
		if err != nil {
			return nil, err
		}
		return nil, errAt(ErrUnsupported, start, "externalizable AMF3 class %q", class)
	default:
		class, err := d.string3()
		if err != nil {
			return nil, err
		}
		n, err := d.count(uint64(h>>4), 1, "sealed member")
		if err != nil {
			return nil, err
		}
		t = &traits3{class: class, dynamic: h&8 != 0, sealed: make([]string, n)}
		for i := range t.sealed {
			if t.sealed[i], err = d.string3(); err != nil {
				return nil, err
			}
		}
		if err := addRef(d, &d.traits, t); err != nil {
			return nil, err
		}
	}
	// Every sealed member needs at least one byte for its value.
	if _, err := d.count(uint64(len(t.sealed)), 1, "sealed member"); err != nil {
		return nil, err
	}
	var o *Object
	var result Value
	if t.class == "" && t.dynamic && len(t.sealed) == 0 {
		o = &Object{}
		result = o
	} else {
		to := &TypedObject{ClassName: t.class, Sealed: len(t.sealed), Dynamic: t.dynamic}
		o, result = &to.Object, to
	}
	if err := addRef(d, &d.objs, result); err != nil {
		return nil, err
	}
	mark := len(d.scratch)
	for _, name := range t.sealed {
		v, err := d.value3()
		if err != nil {
			return nil, err
		}
		d.pushProp(name, v)
	}
	if t.dynamic {
		key, err := d.string3()
		if err != nil {
			return nil, err
		}
		if err := d.assoc3(mark, key, "object"); err != nil {
			return nil, err
		}
	}
	o.Props = d.takeProps(mark)
	return result, nil
}

func (d *decoder) vector3(m byte, start int) (Value, error) {
	h, ref, isRef, err := d.container3(start)
	if err != nil || isRef {
		return ref, err
	}
	defer d.leave()
	fixed, err := d.u8()
	if err != nil {
		return nil, err
	}
	size := 4
	switch m {
	case marker3VectorDouble:
		size = 8
	case marker3VectorObject:
		size = 1
	}
	n, err := d.count(uint64(h>>1), size, "vector")
	if err != nil {
		return nil, err
	}
	var v Value
	switch m {
	case marker3VectorInt:
		items := make([]int32, n)
		for i := range items {
			items[i] = int32(binary.BigEndian.Uint32(d.b[d.off:]))
			d.off += 4
		}
		v = &VectorInt{Fixed: fixed != 0, Items: items}
	case marker3VectorUint:
		items := make([]uint32, n)
		for i := range items {
			items[i] = binary.BigEndian.Uint32(d.b[d.off:])
			d.off += 4
		}
		v = &VectorUint{Fixed: fixed != 0, Items: items}
	case marker3VectorDouble:
		items := make([]float64, n)
		for i := range items {
			items[i] = math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
			d.off += 8
		}
		v = &VectorDouble{Fixed: fixed != 0, Items: items}
	default:
		vo := &VectorObject{Fixed: fixed != 0}
		if vo.TypeName, err = d.string3(); err != nil {
			return nil, err
		}
		if n, err = d.count(uint64(n), 1, "vector"); err != nil {
			return nil, err
		}
		vo.Items = make([]Value, n)
		if err := addRef(d, &d.objs, Value(vo)); err != nil {
			return nil, err
		}
		for i := range vo.Items {
			if vo.Items[i], err = d.value3(); err != nil {
				return nil, err
			}
		}
		return vo, nil
	}
	return v, addRef(d, &d.objs, v)
}

func (d *decoder) dictionary3(start int) (Value, error) {
	h, ref, isRef, err := d.container3(start)
	if err != nil || isRef {
		return ref, err
	}
	defer d.leave()
	weak, err := d.u8()
	if err != nil {
		return nil, err
	}
	n, err := d.count(uint64(h>>1), 2, "dictionary")
	if err != nil {
		return nil, err
	}
	dict := &Dictionary{WeakKeys: weak != 0, Entries: make([]DictEntry, n)}
	if err := addRef(d, &d.objs, Value(dict)); err != nil {
		return nil, err
	}
	for i := range dict.Entries {
		e := &dict.Entries[i]
		if e.Key, err = d.value3(); err != nil {
			return nil, err
		}
		if e.Value, err = d.value3(); err != nil {
			return nil, err
		}
	}
	return dict, nil
}
