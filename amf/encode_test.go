package amf

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestEncodeServerReply builds MonaTiny's connect reply from Go values and
// gets the recorded bytes.
func TestEncodeServerReply(t *testing.T) {
	info := NewObject().
		Set("level", "status").
		Set("code", "NetConnection.Connect.Success").
		Set("description", "Connection succeeded").
		Set("objectEncoding", 3)
	got, err := AppendAMF0(nil, "_result", 0, nil, info)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, realResult) {
		t.Errorf("got  % x\nwant % x", got, realResult)
	}
	// Appending keeps what the slice held.
	got, err = AppendAMF0([]byte{0x14, 0, 0, 0, 0}, "_result", 0, nil, info)
	if err != nil || !bytes.Equal(got[:5], []byte{0x14, 0, 0, 0, 0}) || !bytes.Equal(got[5:], realResult) {
		t.Errorf("append to a header: % x, %v", got, err)
	}
}

func TestEncodeGoValues(t *testing.T) {
	tests := []struct {
		name string
		amf3 bool
		in   []Value
		want []byte
	}{
		{"integer types as numbers", false, []Value{int8(-1), uint16(2), int64(3), uint(4), float32(0.5)},
			h("00 bff0000000000000 00 4000000000000000 00 4008000000000000 00 4010000000000000 00 3fe0000000000000")},
		{"map with sorted keys", false, []Value{map[string]Value{"b": true, "a": nil}}, h("03 0001 61 05 0001 62 0101 000009")},
		{"nil pointers as null", false, []Value{(*Object)(nil), (*ECMAArray)(nil), (*TypedObject)(nil), (*Dictionary)(nil)}, h("05 05 05 05")},
		{"byte array behind the switch", false, []Value{[]byte{1, 2}}, h("11 0c 05 0102")},
		{"XML behind the switch", false, []Value{XML("<a/>")}, h("11 0b 09 3c612f3e")},
		{"mixed array behind the switch", false, []Value{&MixedArray{Dense: []Value{true}}}, h("11 09 03 01 03")},
		{"AVM+ on request", false, []Value{AVMPlus{Value: 7}}, h("11 04 07")},
		{"typed object without class", false, []Value{&TypedObject{Object: Object{Props: []Property{{"a", nil}}}}},
			h("10 0000 0001 61 05 000009")},
		{"shared object as reference", false, []Value{[]Value{sharedObj, sharedObj}}, h("0a 00000002 03 000009 07 0001")},
		{"zone with a name writes 0", false, []Value{date1.In(time.FixedZone("CET", 3600))}, h("0b 4278bcfe5687b000 0000")},
		{"fixed zone without a name", false, []Value{date1.In(time.FixedZone("", -5*3600))}, h("0b 4278bcfe5687b000 fed4")},
		{"AMF3 integer range", true, []Value{MaxInt29, MaxInt29 + 1, MinInt29, MinInt29 - 1, uint64(math.MaxUint64)},
			h("04 bfffffff 05 41b0000000000000 04 c0808000 05 c1b0000001000000 05 43f0000000000000")},
		{"AMF3 anonymous trait by reference", true, []Value{[]Value{obj(Property{"a", 1}), obj(Property{"a", 2})}},
			h("09 05 01 0a 0b 01 03 61 04 01 01 0a 01 00 04 02 01")},
		{"AMF3 ECMA array as associative array", true, []Value{&ECMAArray{Object: Object{Props: []Property{{"k", false}}}}},
			h("09 01 03 6b 02 01")},
		{"AMF3 unsupported as undefined", true, []Value{Unsupported{}}, h("00")},
		{"AMF3 map", true, []Value{map[string]Value{"b": 1, "a": 2}}, h("0a 0b 01 03 61 04 02 03 62 04 01 01")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodeVector(tt.amf3, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got  % x\nwant % x", got, tt.want)
			}
		})
	}
}

func TestEncodeLongString(t *testing.T) {
	for _, n := range []int{math.MaxUint16, math.MaxUint16 + 1} {
		s := strings.Repeat("z", n)
		b, err := AppendAMF0(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		wantMarker := byte(marker0String)
		if n > math.MaxUint16 {
			wantMarker = marker0LongString
		}
		if b[0] != wantMarker {
			t.Errorf("%d bytes: marker %#x, want %#x", n, b[0], wantMarker)
		}
		if v, _, err := Decode(b); err != nil || v != s {
			t.Errorf("%d bytes: decode back: %v", n, err)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	loop := map[string]Value{}
	loop["self"] = loop
	tests := []struct {
		name string
		amf3 bool
		v    Value
		want error
	}{
		{"Go type without AMF form", false, make(chan int), ErrUnsupported},
		{"AMF3 Go type without AMF form", true, struct{}{}, ErrUnsupported},
		{"cyclic map", false, loop, ErrLimit},
		{"AMF3 cyclic map", true, loop, ErrLimit},
		{"key too long", false, obj(Property{strings.Repeat("k", 70000), nil}), ErrLimit},
		{"AMF3 empty dynamic key", true, obj(Property{"", 1}), ErrUnsupported},
		{"AMF3 bad sealed count", true, &TypedObject{ClassName: "C", Sealed: 1}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeVector(tt.amf3, []Value{tt.v})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEncodeCycles checks that cyclic pointer graphs are written with
// references and come back with the same shape.
func TestEncodeCycles(t *testing.T) {
	o := NewObject()
	arr := []Value{o, nil}
	o.Set("arr", arr)
	arr[1] = arr // the slice holds itself
	for _, amf3 := range []bool{false, true} {
		b, err := encodeVector(amf3, []Value{o})
		if err != nil {
			t.Fatalf("amf3=%v: %v", amf3, err)
		}
		vs, err := decodeVector(amf3, b)
		if err != nil {
			t.Fatalf("amf3=%v: %v", amf3, err)
		}
		if g, w := render(vs[0]), render(o); g != w {
			t.Errorf("amf3=%v: got %s, want %s", amf3, g, w)
		}
	}
}

func TestObjectHelpers(t *testing.T) {
	o := NewObject(Property{"code", "NetConnection.Connect.Success"}, Property{"objectEncoding", 3.0})
	o.Set("level", "status").Set("fpad", false).Set("n", 7).Set("sub", &ECMAArray{})
	if s, ok := o.GetString("code"); !ok || s != "NetConnection.Connect.Success" {
		t.Errorf("GetString = %q, %v", s, ok)
	}
	if n, ok := o.GetNumber("objectEncoding"); !ok || n != 3 {
		t.Errorf("GetNumber = %v, %v", n, ok)
	}
	if n, ok := o.GetNumber("n"); !ok || n != 7 {
		t.Errorf("GetNumber(int) = %v, %v", n, ok)
	}
	if _, ok := o.GetNumber("code"); ok {
		t.Error("GetNumber accepted a string")
	}
	if b, ok := o.GetBool("fpad"); !ok || b {
		t.Errorf("GetBool = %v, %v", b, ok)
	}
	if sub, ok := o.GetObject("sub"); !ok || sub.Len() != 0 {
		t.Errorf("GetObject(ECMA array) = %v, %v", sub, ok)
	}
	if _, ok := o.GetObject("code"); ok {
		t.Error("GetObject accepted a string")
	}
	o.Set("level", "error")
	if s, _ := o.GetString("level"); s != "error" || o.Len() != 6 {
		t.Errorf("Set did not replace: %q, %d properties", s, o.Len())
	}
	var keys []string
	for k := range o.All() {
		keys = append(keys, k)
	}
	if strings.Join(keys, ",") != "code,objectEncoding,level,fpad,n,sub" {
		t.Errorf("order: %v", keys)
	}
	if !o.Delete("fpad") || o.Has("fpad") || o.Delete("fpad") || o.Len() != 5 {
		t.Error("Delete")
	}
	var nilObj *Object
	if _, ok := nilObj.Get("x"); ok || nilObj.Len() != 0 || nilObj.Has("x") {
		t.Error("nil object accessors")
	}
	for range nilObj.All() {
		t.Error("nil object iterates")
	}
	// Values behind the switch marker are looked through.
	w := NewObject(Property{"name", AVMPlus{"test"}}, Property{"n", AVMPlus{5}})
	if s, ok := w.GetString("name"); !ok || s != "test" {
		t.Errorf("GetString(AVMPlus) = %q, %v", s, ok)
	}
	if n, ok := w.GetNumber("n"); !ok || n != 5 {
		t.Errorf("GetNumber(AVMPlus) = %v, %v", n, ok)
	}
}

func TestInt(t *testing.T) {
	for _, tt := range []struct {
		v    Value
		want int
		ok   bool
	}{
		{3.0, 3, true}, {7, 7, true}, {uint8(2), 2, true}, {2.5, 0, false}, {math.NaN(), 0, false},
		{math.Inf(1), 0, false}, {"1", 0, false}, {1e300, 0, false},
	} {
		if got, ok := Int(tt.v); got != tt.want || ok != tt.ok {
			t.Errorf("Int(%v) = %d, %v", tt.v, got, ok)
		}
	}
}

// TestRealCommandFields reads the fields a server needs from real messages.
func TestRealCommandFields(t *testing.T) {
	vs, err := DecodeAll(realConnect)
	if err != nil {
		t.Fatal(err)
	}
	if vs[0] != "connect" {
		t.Fatalf("name %v", vs[0])
	}
	if txn, ok := Int(vs[1]); !ok || txn != 0 {
		t.Errorf("transaction %v", vs[1])
	}
	cmd, ok := AsObject(vs[2])
	if !ok {
		t.Fatalf("command object %T", vs[2])
	}
	app, _ := cmd.GetString("app")
	tcURL, _ := cmd.GetString("tcUrl")
	enc, _ := cmd.GetNumber("objectEncoding")
	if app != "live" || tcURL != "rtmfp://127.0.0.1:19355/live" || enc != 3 {
		t.Errorf("app %q tcUrl %q objectEncoding %v", app, tcURL, enc)
	}

	vs, err = DecodeAll(realMetaData)
	if err != nil {
		t.Fatal(err)
	}
	md, ok := vs[2].(*ECMAArray)
	if !ok || vs[0] != "@setDataFrame" || vs[1] != "onMetaData" || md.Len() != 13 || md.Count != nil {
		t.Fatalf("metadata %s", render(vs))
	}
	if w, _ := md.GetNumber("width"); w != 320 {
		t.Errorf("width %v", w)
	}

	vs, err = DecodeAll(realOnStatus)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := AsObject(vs[3])
	if code, _ := info.GetString("code"); code != "NetStream.Publish.Start" {
		t.Errorf("code %q", code)
	}
	if p, _ := info.GetNumber("priority"); !math.IsInf(p, -1) {
		t.Errorf("priority %v", p)
	}
}
