package amf

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// render prints a value tree in a canonical form for comparisons in tests.
// Shared nodes are printed once and then as "@n" (their first-visit
// number), so cycles terminate and sharing is visible.
func render(v Value) string {
	r := renderer{seen: map[any]int{}}
	r.value(v)
	return r.String()
}

type renderer struct {
	strings.Builder
	seen map[any]int
}

// shared prints a back-reference and reports true when key was visited.
func (r *renderer) shared(key any) bool {
	if n, ok := r.seen[key]; ok {
		fmt.Fprintf(r, "@%d", n)
		return true
	}
	r.seen[key] = len(r.seen)
	return false
}

func (r *renderer) props(ps []Property) {
	r.WriteString("{")
	for i, p := range ps {
		if i > 0 {
			r.WriteString(", ")
		}
		fmt.Fprintf(r, "%q: ", p.Key)
		r.value(p.Value)
	}
	r.WriteString("}")
}

func (r *renderer) list(vs []Value) {
	r.WriteString("[")
	for i, x := range vs {
		if i > 0 {
			r.WriteString(", ")
		}
		r.value(x)
	}
	r.WriteString("]")
}

func (r *renderer) value(v Value) {
	switch x := v.(type) {
	case nil:
		r.WriteString("null")
	case float64:
		fmt.Fprintf(r, "float64(%v/%#x)", x, math.Float64bits(x))
	case int:
		fmt.Fprintf(r, "int(%d)", x)
	case bool, Undefined, Unsupported:
		fmt.Fprintf(r, "%T(%v)", x, x)
	case string, XML, XMLDocument:
		fmt.Fprintf(r, "%T(%q)", x, x)
	case []byte:
		fmt.Fprintf(r, "bytes(%x)", x)
	case time.Time:
		name, off := x.Zone()
		fmt.Fprintf(r, "date(%s zone=%q%+d)", x.UTC().Format(time.RFC3339Nano), name, off)
	case AVMPlus:
		r.WriteString("avmplus(")
		r.value(x.Value)
		r.WriteString(")")
	case *Object:
		if !r.shared(x) {
			r.props(x.Props)
		}
	case *TypedObject:
		if !r.shared(x) {
			fmt.Fprintf(r, "typed(%q sealed=%d dynamic=%v)", x.ClassName, x.Sealed, x.Dynamic)
			r.props(x.Props)
		}
	case *ECMAArray:
		if !r.shared(x) {
			r.WriteString("ecma")
			if x.Count != nil {
				fmt.Fprintf(r, "(count=%d)", *x.Count)
			}
			r.props(x.Props)
		}
	case *MixedArray:
		if !r.shared(x) {
			r.WriteString("mixed")
			r.props(x.Props)
			r.list(x.Dense)
		}
	case []Value:
		if len(x) > 0 && r.shared(&x[0]) {
			return
		}
		r.list(x)
	case *VectorInt:
		if !r.shared(x) {
			fmt.Fprintf(r, "vint(fixed=%v %v)", x.Fixed, x.Items)
		}
	case *VectorUint:
		if !r.shared(x) {
			fmt.Fprintf(r, "vuint(fixed=%v %v)", x.Fixed, x.Items)
		}
	case *VectorDouble:
		if !r.shared(x) {
			fmt.Fprintf(r, "vdouble(fixed=%v %v)", x.Fixed, x.Items)
		}
	case *VectorObject:
		if !r.shared(x) {
			fmt.Fprintf(r, "vobject(fixed=%v %q)", x.Fixed, x.TypeName)
			r.list(x.Items)
		}
	case *Dictionary:
		if !r.shared(x) {
			fmt.Fprintf(r, "dict(weak=%v){", x.WeakKeys)
			for i, e := range x.Entries {
				if i > 0 {
					r.WriteString(", ")
				}
				r.value(e.Key)
				r.WriteString(": ")
				r.value(e.Value)
			}
			r.WriteString("}")
		}
	default:
		fmt.Fprintf(r, "?%T(%v)", x, x)
	}
}
