package amf

import "iter"

// Property is one named value of an [Object].
type Property struct {
	Key   string
	Value Value
}

// Object is an anonymous ActionScript object: properties in insertion (wire)
// order. Order is kept because peers echo it and metadata consumers may
// depend on it. Decoding keeps duplicate keys as they came; the accessors
// see the first one. The zero value is an empty object; the accessors are
// safe on a nil *Object.
type Object struct {
	Props []Property
}

// NewObject returns an object holding props in order.
func NewObject(props ...Property) *Object {
	return &Object{Props: props}
}

// Len returns the number of properties.
func (o *Object) Len() int {
	if o == nil {
		return 0
	}
	return len(o.Props)
}

func (o *Object) index(key string) int {
	if o == nil {
		return -1
	}
	for i := range o.Props {
		if o.Props[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of the first property named key.
func (o *Object) Get(key string) (Value, bool) {
	if i := o.index(key); i >= 0 {
		return o.Props[i].Value, true
	}
	return nil, false
}

// Has reports whether a property named key exists.
func (o *Object) Has(key string) bool { return o.index(key) >= 0 }

// Set replaces the value of the first property named key, or appends the
// property; it returns o so that calls can be chained.
func (o *Object) Set(key string, v Value) *Object {
	if i := o.index(key); i >= 0 {
		o.Props[i].Value = v
	} else {
		o.Props = append(o.Props, Property{Key: key, Value: v})
	}
	return o
}

// Delete removes every property named key and reports whether there was one.
func (o *Object) Delete(key string) bool {
	if o.index(key) < 0 {
		return false
	}
	kept := o.Props[:0]
	for _, p := range o.Props {
		if p.Key != key {
			kept = append(kept, p)
		}
	}
	clear(o.Props[len(kept):])
	o.Props = kept
	return true
}

// All iterates over the properties in order.
func (o *Object) All() iter.Seq2[string, Value] {
	return func(yield func(string, Value) bool) {
		if o == nil {
			return
		}
		for _, p := range o.Props {
			if !yield(p.Key, p.Value) {
				return
			}
		}
	}
}

// GetString returns the property named key if it is a string.
func (o *Object) GetString(key string) (string, bool) {
	v, _ := o.Get(key)
	s, ok := unwrap(v).(string)
	return s, ok
}

// GetNumber returns the property named key if it is a number (see [Number]).
func (o *Object) GetNumber(key string) (float64, bool) {
	v, _ := o.Get(key)
	return Number(unwrap(v))
}

// GetBool returns the property named key if it is a boolean.
func (o *Object) GetBool(key string) (bool, bool) {
	v, _ := o.Get(key)
	b, ok := unwrap(v).(bool)
	return b, ok
}

// GetObject returns the property named key if it is object-like (see
// [AsObject]).
func (o *Object) GetObject(key string) (*Object, bool) {
	v, _ := o.Get(key)
	return AsObject(v)
}

// unwrap looks through an AVMPlus wrapper.
func unwrap(v Value) Value {
	if a, ok := v.(AVMPlus); ok {
		return a.Value
	}
	return v
}
