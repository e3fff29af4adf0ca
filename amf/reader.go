package amf

import (
	"encoding/binary"
	"math"
)

// decoder holds the input, the position and the reference tables of one
// decoding call.
type decoder struct {
	b     []byte
	off   int
	depth int
	keep  bool // return AMF3 values behind the AMF0 switch as AVMPlus

	refs0 []Value // AMF0 object table (objects, typed objects, arrays)

	// scratch is a stack of properties of the objects being decoded; each
	// object takes its own in one exact-size slice when it is complete.
	scratch []Property

	// AMF3 tables, emptied at every AMF0 switch.
	strs   []string
	objs   []Value
	traits []*traits3
}

// traits3 is one entry of the AMF3 trait table.
type traits3 struct {
	class   string
	dynamic bool
	sealed  []string
}

func (d *decoder) rest() int { return len(d.b) - d.off }

// need fails unless n more bytes are available.
func (d *decoder) need(n int) error {
	if n < 0 || n > d.rest() {
		return errAt(ErrTruncated, d.off, "need %d bytes, have %d", n, d.rest())
	}
	return nil
}

func (d *decoder) u8() (byte, error) {
	if d.off >= len(d.b) {
		return 0, errAt(ErrTruncated, d.off, "need 1 byte, have 0")
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *decoder) u16() (uint16, error) {
	if err := d.need(2); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *decoder) u32() (uint32, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) f64() (float64, error) {
	if err := d.need(8); err != nil {
		return 0, err
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v, nil
}

// bytes returns the next n bytes without copying them.
func (d *decoder) bytes(n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return nil, err
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p, nil
}

// str copies the next n bytes into a string (common names are shared).
func (d *decoder) str(n int) (string, error) {
	p, err := d.bytes(n)
	if err != nil {
		return "", err
	}
	return makeString(p), nil
}

// scratchProps is the initial capacity of the property scratch stack.
const scratchProps = 16

// pushProp collects one property of the object being decoded on the scratch
// stack.
func (d *decoder) pushProp(key string, v Value) {
	if d.scratch == nil {
		d.scratch = make([]Property, 0, scratchProps)
	}
	d.scratch = append(d.scratch, Property{Key: key, Value: v})
}

// takeProps returns the properties pushed since mark in a slice of their
// exact size, and pops them.
func (d *decoder) takeProps(mark int) []Property {
	if len(d.scratch) == mark {
		return nil
	}
	p := make([]Property, len(d.scratch)-mark)
	copy(p, d.scratch[mark:])
	clear(d.scratch[mark:])
	d.scratch = d.scratch[:mark]
	return p
}

// enter accounts for one more level of nesting.
func (d *decoder) enter() error {
	if d.depth >= MaxDepth {
		return errAt(ErrLimit, d.off, "nesting deeper than %d", MaxDepth)
	}
	d.depth++
	return nil
}

func (d *decoder) leave() { d.depth-- }

// count checks a declared element count against the limit and against the
// input left, given the smallest encoded size of one element.
func (d *decoder) count(n uint64, minSize int, what string) (int, error) {
	if n > MaxElements {
		return 0, errAt(ErrLimit, d.off, "%s count %d exceeds %d", what, n, MaxElements)
	}
	if n*uint64(minSize) > uint64(d.rest()) {
		return 0, errAt(ErrTruncated, d.off, "%s count %d needs at least %d bytes, have %d", what, n, n*uint64(minSize), d.rest())
	}
	return int(n), nil
}

// grow checks that a container may take one more element.
func (d *decoder) grow(have int, what string) error {
	if have >= MaxElements {
		return errAt(ErrLimit, d.off, "%s has more than %d entries", what, MaxElements)
	}
	return nil
}

// addRef appends v to a reference table, enforcing MaxReferences.
func addRef[T any](d *decoder, table *[]T, v T) error {
	if len(*table) >= MaxReferences {
		return errAt(ErrLimit, d.off, "reference table exceeds %d entries", MaxReferences)
	}
	*table = append(*table, v)
	return nil
}
