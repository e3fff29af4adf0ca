package amf

import (
	"encoding/binary"
	"math"
)

// encoder holds the reference tables of one encoding call.
type encoder struct {
	depth int

	// AMF0 object table: identity of complex values → index, and the
	// number of complex values written (with or without identity).
	refs0 refTable[identity]
	n0    int

	// AMF3 tables, emptied at every AMF0 switch.
	strs   refTable[string]
	nstr   int
	objs   refTable[identity]
	nobj   int
	traits refTable[string]
	ntrait int
}

// identity names a complex value for references: its pointer, or for a
// non-empty slice the address of its first element and its length.
type identity struct {
	p any
	n int
}

// identityOf returns the identity of v, or false when v has none (values
// that are always written inline).
func identityOf(v Value) (identity, bool) {
	switch x := v.(type) {
	case *Object, *TypedObject, *ECMAArray, *MixedArray, *VectorInt, *VectorUint,
		*VectorDouble, *VectorObject, *Dictionary:
		return identity{p: x}, true
	case []Value:
		if len(x) > 0 {
			return identity{p: &x[0], n: len(x)}, true
		}
	case []byte:
		if len(x) > 0 {
			return identity{p: &x[0], n: len(x)}, true
		}
	}
	return identity{}, false
}

// smallRefs is how many entries a refTable keeps in its array before it
// moves to a map.
const smallRefs = 8

// refTable maps keys to reference indexes. Small tables live in a fixed
// array, so that encoding a typical command does not allocate a map.
type refTable[K comparable] struct {
	keys [smallRefs]K
	idx  [smallRefs]int
	n    int
	m    map[K]int
}

func (t *refTable[K]) get(k K) (int, bool) {
	if t.m != nil {
		i, ok := t.m[k]
		return i, ok
	}
	for j := range t.n {
		if t.keys[j] == k {
			return t.idx[j], true
		}
	}
	return 0, false
}

func (t *refTable[K]) put(k K, i int) {
	if t.m == nil && t.n < smallRefs {
		t.keys[t.n], t.idx[t.n] = k, i
		t.n++
		return
	}
	if t.m == nil {
		t.m = make(map[K]int, 4*smallRefs)
		for j := range t.n {
			t.m[t.keys[j]] = t.idx[j]
		}
	}
	t.m[k] = i
}

func (t *refTable[K]) reset() {
	clear(t.keys[:t.n])
	t.n = 0
	t.m = nil
}

func (e *encoder) enter() error {
	if e.depth >= MaxDepth {
		return errorf(ErrLimit, "nesting deeper than %d (cyclic value?)", MaxDepth)
	}
	e.depth++
	return nil
}

func (e *encoder) leave() { e.depth-- }

// toFloat converts the Go numeric types to float64.
func toFloat(v Value) (float64, bool) {
	switch v.(type) {
	case AVMPlus:
		return 0, false
	}
	return Number(v)
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendF64(b []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
}
