package amf

// AMF0 markers (AMF0 specification §2.1).
const (
	marker0Number      = 0x00
	marker0Boolean     = 0x01
	marker0String      = 0x02
	marker0Object      = 0x03
	marker0MovieClip   = 0x04 // reserved
	marker0Null        = 0x05
	marker0Undefined   = 0x06
	marker0Reference   = 0x07
	marker0ECMAArray   = 0x08
	marker0ObjectEnd   = 0x09
	marker0StrictArray = 0x0A
	marker0Date        = 0x0B
	marker0LongString  = 0x0C
	marker0Unsupported = 0x0D
	marker0RecordSet   = 0x0E // reserved
	marker0XMLDocument = 0x0F
	marker0TypedObject = 0x10
	marker0AVMPlus     = 0x11
)

// Decoder holds decoding options. The zero value is ready to use; the
// package-level functions use it.
type Decoder struct {
	// KeepAVMPlus makes AMF0 decoding return the values found behind the
	// AMF3 switch marker (0x11) wrapped in AVMPlus, so that encoding them
	// again reproduces the marker.
	KeepAVMPlus bool
}

// Decode decodes one AMF0 value from the start of b and returns it with the
// number of bytes it used.
func Decode(b []byte) (Value, int, error) { return Decoder{}.Decode(b) }

// DecodeAll decodes b as a sequence of AMF0 values (the body of a command or
// data message), sharing one AMF0 reference table, until b is used up. On
// error it also returns the values completed before the error.
func DecodeAll(b []byte) ([]Value, error) { return Decoder{}.DecodeAll(b) }

// Decode decodes one AMF0 value from the start of b and returns it with the
// number of bytes it used.
func (o Decoder) Decode(b []byte) (Value, int, error) {
	d := decoder{b: b, keep: o.KeepAVMPlus}
	v, err := d.value0()
	if err != nil {
		return nil, d.off, err
	}
	return v, d.off, nil
}

// DecodeAll decodes b as a sequence of AMF0 values, sharing one AMF0
// reference table, until b is used up. On error it also returns the values
// completed before the error.
func (o Decoder) DecodeAll(b []byte) ([]Value, error) {
	d := decoder{b: b, keep: o.KeepAVMPlus}
	out := make([]Value, 0, min(d.rest(), 4))
	for d.rest() > 0 {
		if err := d.grow(len(out), "value sequence"); err != nil {
			return out, err
		}
		v, err := d.value0()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) value0() (Value, error) {
	start := d.off
	m, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch m {
	case marker0Number:
		return d.f64()
	case marker0Boolean:
		c, err := d.u8()
		return c != 0, err
	case marker0String:
		n, err := d.u16()
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case marker0LongString:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case marker0XMLDocument:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		s, err := d.str(int(n))
		return XMLDocument(s), err
	case marker0Null:
		return nil, nil
	case marker0Undefined:
		return Undefined{}, nil
	case marker0Unsupported:
		return Unsupported{}, nil
	case marker0Reference:
		i, err := d.u16()
		if err != nil {
			return nil, err
		}
		if int(i) >= len(d.refs0) {
			return nil, errAt(ErrMalformed, start, "AMF0 reference %d with %d objects decoded", i, len(d.refs0))
		}
		return d.refs0[i], nil
	case marker0Date:
		ms, err := d.f64()
		if err != nil {
			return nil, err
		}
		tz, err := d.u16()
		if err != nil {
			return nil, err
		}
		t, ok := millisToTime(ms)
		if !ok {
			return nil, errAt(ErrMalformed, start, "date %v ms outside the ECMAScript range", ms)
		}
		return amf0Zone(t, int16(tz)), nil
	case marker0Object:
		return d.object0()
	case marker0TypedObject:
		return d.typedObject0()
	case marker0ECMAArray:
		return d.ecmaArray0()
	case marker0StrictArray:
		return d.strictArray0()
	case marker0AVMPlus:
		return d.avmplus()
	case marker0ObjectEnd:
		return nil, errAt(ErrMalformed, start, "object-end marker outside an object")
	case marker0MovieClip, marker0RecordSet:
		return nil, errAt(ErrUnsupported, start, "reserved AMF0 marker 0x%02x", m)
	}
	return nil, errAt(ErrMalformed, start, "unknown AMF0 marker 0x%02x", m)
}

// props0 reads AMF0 properties up to and including the end marker
// (an empty key followed by 0x09) and sets them on o.
func (d *decoder) props0(o *Object) error {
	mark := len(d.scratch)
	for {
		n, err := d.u16()
		if err != nil {
			return err
		}
		if n == 0 && d.rest() > 0 && d.b[d.off] == marker0ObjectEnd {
			d.off++
			o.Props = d.takeProps(mark)
			return nil
		}
		if err := d.grow(len(d.scratch)-mark, "object"); err != nil {
			return err
		}
		key, err := d.str(int(n))
		if err != nil {
			return err
		}
		v, err := d.value0()
		if err != nil {
			return err
		}
		d.pushProp(key, v)
	}
}

func (d *decoder) object0() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	o := &Object{}
	if err := addRef(d, &d.refs0, Value(o)); err != nil {
		return nil, err
	}
	return o, d.props0(o)
}

func (d *decoder) typedObject0() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	n, err := d.u16()
	if err != nil {
		return nil, err
	}
	class, err := d.str(int(n))
	if err != nil {
		return nil, err
	}
	o := &TypedObject{ClassName: class}
	if err := addRef(d, &d.refs0, Value(o)); err != nil {
		return nil, err
	}
	return o, d.props0(&o.Object)
}

func (d *decoder) ecmaArray0() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	count, err := d.u32()
	if err != nil {
		return nil, err
	}
	a := &ECMAArray{}
	if err := addRef(d, &d.refs0, Value(a)); err != nil {
		return nil, err
	}
	if err := d.props0(&a.Object); err != nil {
		return nil, err
	}
	if uint64(count) != uint64(len(a.Props)) {
		a.Count = &count
	}
	return a, nil
}

func (d *decoder) strictArray0() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	c, err := d.u32()
	if err != nil {
		return nil, err
	}
	n, err := d.count(uint64(c), 1, "strict array")
	if err != nil {
		return nil, err
	}
	arr := make([]Value, n)
	if err := addRef(d, &d.refs0, Value(arr)); err != nil {
		return nil, err
	}
	for i := range arr {
		if arr[i], err = d.value0(); err != nil {
			return nil, err
		}
	}
	return arr, nil
}

// avmplus decodes one AMF3 value after the AMF0 switch marker, with fresh
// AMF3 reference tables.
func (d *decoder) avmplus() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	d.strs, d.objs, d.traits = d.strs[:0], d.objs[:0], d.traits[:0]
	v, err := d.value3()
	if err != nil {
		return nil, err
	}
	if d.keep {
		return AVMPlus{Value: v}, nil
	}
	return v, nil
}
