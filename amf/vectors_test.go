package amf

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"time"
)

// h decodes hex with optional spaces; it panics on bad test data.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// vector is one known answer: bytes, the values they decode to and the bytes
// encoding those values gives back.
type vector struct {
	name string
	amf3 bool    // a sequence of AMF3 values sharing tables; otherwise AMF0 values (decoded with KeepAVMPlus)
	in   []byte  // input bytes
	want []Value // decoded values; nil means "check the round trip only"
	out  []byte  // re-encoding when it differs from in
}

var (
	date1     = time.UnixMilli(1700000000123).UTC()
	sharedObj = &Object{}
	cyclic    = &Object{}
	cyclic3   = &Object{}
	twoRefs   = &TypedObject{ClassName: "C", Object: Object{Props: []Property{{"x", 1}}}, Sealed: 1}
	emptyArr  = []Value{}
)

func init() {
	cyclic.Props = []Property{{"s", cyclic}}
	cyclic3.Props = []Property{{"s", cyclic3}}
}

func u32p(v uint32) *uint32 { return &v }

func obj(kv ...Property) *Object { return &Object{Props: kv} }

// Real messages from the recorded traces (bodies after the TC type and timestamp).
var (
	// a_unicast #4: librtmfp connect.
	realConnect = h("020007636f6e6e6563740000000000000000000300036170700200046c6976650008666c61736856657202000e57494e2032302c302c302c323836000673776655726c0200000005746355726c02001c72746d66703a2f2f3132372e302e302e313a31393335352f6c6976650004667061640100000c6361706162696c697469657300406d600000000000000b617564696f436f646563730040abee0000000000000b766964656f436f6465637300406f800000000000000d766964656f46756e6374696f6e003ff000000000000000077061676555726c020000000e6f626a656374456e636f64696e67004008000000000000000009")
	// a_unicast #6: MonaTiny _result for connect.
	realResult = h("0200075f726573756c74000000000000000000050300056c6576656c0200067374617475730004636f646502001d4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373000b6465736372697074696f6e020014436f6e6e656374696f6e20737563636565646564000e6f626a656374456e636f64696e67004008000000000000000009")
	// a_unicast #15: librtmfp publish, stream name as an AMF3 string behind the switch marker.
	realPublish = h("0200077075626c6973680000000000000000000511060974657374")
	// d_rtmfpcpp #12: tcserver onStatus NetStream.Publish.Start (priority -Infinity).
	realOnStatus = h("0200086f6e53746174757300000000000000000005030004636f64650200174e657453747265616d2e5075626c6973682e5374617274000b6465736372697074696f6e02000a7075626c697368696e67000664657461696c0200047a7075620008686173686e616d650200477368613235363a6532353862656230663431373831646131623936316336643131386262323238653636326265663932306565616662646162393664313163613930373165353000056c6576656c02000673746174757300087072696f7269747900fff0000000000000000009")
	// a_unicast #20: librtmfp @setDataFrame onMetaData (ECMA array of 13).
	realMetaData = h("02000d40736574446174614672616d6502000a6f6e4d65746144617461080000000d00086475726174696f6e00403e0bc6a7ef9db200057769647468004074000000000000000668656967687400406e000000000000000d766964656f64617461726174650040624f800000000000096672616d657261746500402e000000000000000c766964656f636f646563696400401c000000000000000d617564696f646174617261746500403f400000000000000f617564696f73616d706c65726174650040d5888000000000000f617564696f73616d706c6573697a65004030000000000000000673746572656f0100000c617564696f636f64656369640040240000000000000007656e636f64657202000d4c61766635392e32372e313030000866696c6573697a65004124860400000000000009")
	// d_rtmfpcpp #78: tcconn connect with a strict array (fourCcList).
	realConnectCpp = h("020007636f6e6e656374003ff00000000000000300036170700200046c697665000b617564696f436f646563730040efffe0000000000012617564696f466f75724363496e666f4d61700300012a0040140000000000000000090006636170734578004008000000000000000a666f757243634c6973740a000000010200012a000e6f626a656374456e636f64696e670000000000000000000005746355726c02001c72746d66703a2f2f3132372e302e302e313a31393336352f6c697665000b766964656f436f646563730040efffe0000000000012766964656f466f75724363496e666f4d61700300012a004014000000000000000009000009")
)

func vectors() []vector {
	long := strings.Repeat("x", 70000)
	return []vector{
		// AMF0, hand-built.
		{name: "number", in: h("00 3ff0000000000000"), want: []Value{1.0}},
		{name: "negative zero", in: h("00 8000000000000000"), want: []Value{math.Copysign(0, -1)}},
		{name: "booleans", in: h("0101 0100"), want: []Value{true, false}},
		{name: "strings", in: h("02 0003 616263 02 0000"), want: []Value{"abc", ""}},
		{name: "null undefined unsupported", in: h("05 06 0d"), want: []Value{nil, Undefined{}, Unsupported{}}},
		{name: "object", in: h("03 0001 61 00 3ff0000000000000 0001 62 02 0001 63 000009"),
			want: []Value{obj(Property{"a", 1.0}, Property{"b", "c"})}},
		{name: "object with an empty key", in: h("03 0000 05 000009"), want: []Value{obj(Property{"", nil})}},
		{name: "typed object", in: h("10 0001 43 0001 78 0101 000009"),
			want: []Value{&TypedObject{ClassName: "C", Object: Object{Props: []Property{{"x", true}}}}}},
		{name: "ECMA array", in: h("08 00000001 0001 78 0101 000009"),
			want: []Value{&ECMAArray{Object: Object{Props: []Property{{"x", true}}}}}},
		{name: "ECMA array with count 0", in: h("08 00000000 0001 78 0101 000009"),
			want: []Value{&ECMAArray{Object: Object{Props: []Property{{"x", true}}}, Count: u32p(0)}}},
		{name: "strict array", in: h("0a 00000002 00 3ff8000000000000 02 0001 61"), want: []Value{[]Value{1.5, "a"}}},
		{name: "date", in: h("0b 4278bcfe5687b000 0000"), want: []Value{date1}},
		{name: "date with time zone", in: h("0b 4278bcfe5687b000 003c 0b 4278bcfe5687b000 ffc4"),
			want: []Value{date1.In(time.FixedZone("", 3600)), date1.In(time.FixedZone("", -3600))}},
		{name: "long string", in: cat(h("0c 00011170"), []byte(long)), want: []Value{long}},
		{name: "XML document", in: h("0f 00000004 3c612f3e"), want: []Value{XMLDocument("<a/>")}},
		{name: "reference", in: h("0a 00000002 03 000009 07 0001"), want: []Value{[]Value{sharedObj, sharedObj}}},
		{name: "self reference", in: h("03 0001 73 07 0000 000009"), want: []Value{cyclic}},
		{name: "AVM+ string", in: h("11 06 09 74657374"), want: []Value{AVMPlus{"test"}}},
		{name: "AVM+ object", in: h("11 0a 0b 01 03 61 04 01 01"), want: []Value{AVMPlus{obj(Property{"a", 1})}}},
		{name: "AVM+ resets AMF3 tables", in: h("11 06 03 61 11 06 03 61"), want: []Value{AVMPlus{"a"}, AVMPlus{"a"}}},

		// AMF0, real messages.
		{name: "real connect", in: realConnect},
		{name: "real _result", in: realResult},
		{name: "real publish (AVM+ string)", in: realPublish, want: []Value{"publish", 0.0, nil, AVMPlus{"test"}}},
		{name: "real onStatus", in: realOnStatus},
		{name: "real onMetaData", in: realMetaData},
		{name: "real rtmfp-cpp connect", in: realConnectCpp},

		// AMF3.
		{name: "AMF3 constants", amf3: true, in: h("00 01 02 03"), want: []Value{Undefined{}, nil, false, true}},
		{name: "AMF3 integers", amf3: true, in: h("04 00 04 7f 04 8100 04 ffff7f 04 bfffffff 04 c0808000 04 ffffffff"),
			want: []Value{0, 127, 128, 1<<21 - 1, MaxInt29, MinInt29, -1}},
		{name: "AMF3 double", amf3: true, in: h("05 400921fb54442d18"), want: []Value{math.Pi}},
		{name: "AMF3 strings and references", amf3: true, in: h("06 03 61 06 00 06 01 06 05 6263 06 02"),
			want: []Value{"a", "a", "", "bc", "bc"}},
		{name: "AMF3 XML", amf3: true, in: h("07 09 3c612f3e 0b 09 3c622f3e"), want: []Value{XMLDocument("<a/>"), XML("<b/>")}},
		{name: "AMF3 date", amf3: true, in: h("08 01 4278bcfe5687b000"), want: []Value{date1}},
		{name: "AMF3 dense array", amf3: true, in: h("09 05 01 04 01 06 03 61"), want: []Value{[]Value{1, "a"}}},
		{name: "AMF3 mixed array", amf3: true, in: h("09 03 03 6b 04 01 01 04 02"),
			want: []Value{&MixedArray{Object: Object{Props: []Property{{"k", 1}}}, Dense: []Value{2}}}},
		{name: "AMF3 anonymous object", amf3: true, in: h("0a 0b 01 03 61 04 01 01"), want: []Value{obj(Property{"a", 1})}},
		{name: "AMF3 sealed object", amf3: true, in: h("0a 13 03 43 03 78 04 05"),
			want: []Value{&TypedObject{ClassName: "C", Object: Object{Props: []Property{{"x", 5}}}, Sealed: 1}}},
		{name: "AMF3 sealed dynamic object", amf3: true, in: h("0a 1b 03 43 03 78 04 05 03 79 04 06 01"),
			want: []Value{&TypedObject{ClassName: "C", Object: Object{Props: []Property{{"x", 5}, {"y", 6}}}, Sealed: 1, Dynamic: true}}},
		{name: "AMF3 anonymous sealed object", amf3: true, in: h("0a 13 01 03 78 04 05"),
			want: []Value{&TypedObject{Object: Object{Props: []Property{{"x", 5}}}, Sealed: 1}}},
		{name: "AMF3 trait and object references", amf3: true, in: h("09 07 01 0a 13 03 43 03 78 04 01 0a 01 04 02 0a 02"),
			want: []Value{[]Value{twoRefs, &TypedObject{ClassName: "C", Object: Object{Props: []Property{{"x", 2}}}, Sealed: 1}, twoRefs}}},
		{name: "AMF3 self reference", amf3: true, in: h("0a 0b 01 03 73 0a 00 01"), want: []Value{cyclic3}},
		{name: "AMF3 byte array", amf3: true, in: h("0c 07 010203"), want: []Value{[]byte{1, 2, 3}}},
		{name: "AMF3 vectors", amf3: true,
			in: h("0d 05 00 00000001 ffffffff 0e 03 01 ffffffff 0f 03 00 3ff0000000000000 10 03 00 03 2a 04 05"),
			want: []Value{
				&VectorInt{Items: []int32{1, -1}},
				&VectorUint{Fixed: true, Items: []uint32{math.MaxUint32}},
				&VectorDouble{Items: []float64{1}},
				&VectorObject{TypeName: "*", Items: []Value{5}},
			}},
		{name: "AMF3 dictionary", amf3: true, in: h("11 03 01 06 03 6b 04 01"),
			want: []Value{&Dictionary{WeakKeys: true, Entries: []DictEntry{{"k", 1}}}}},
		{name: "AMF3 date reference", amf3: true, in: h("09 05 01 08 01 4278bcfe5687b000 08 02"),
			want: []Value{[]Value{date1, date1}},
			out:  h("09 05 01 08 01 4278bcfe5687b000 08 01 4278bcfe5687b000")},
		{name: "AMF3 empty array reference", amf3: true, in: h("09 05 01 09 01 01 09 02"),
			want: []Value{[]Value{emptyArr, emptyArr}},
			out:  h("09 05 01 09 01 01 09 01 01")},
	}
}

// errVector is input that must fail with the given error.
type errVector struct {
	name string
	amf3 bool
	in   []byte
	want error
}

func nested(open string, n int) []byte { return h(strings.Repeat(open, n)) }

func errVectors() []errVector {
	return []errVector{
		{"unknown marker", false, h("ff"), ErrMalformed},
		{"object end as a value", false, h("09"), ErrMalformed},
		{"movieclip", false, h("04"), ErrUnsupported},
		{"recordset", false, h("0e"), ErrUnsupported},
		{"reference to nothing", false, h("07 0000"), ErrMalformed},
		{"strict array count over the limit", false, h("0a ffffffff 05"), ErrLimit},
		{"strict array count beyond input", false, h("0a 000fffff 05"), ErrTruncated},
		{"NaN date", false, h("0b 7ff8000000000000 0000"), ErrMalformed},
		{"date out of range", false, h("0b 7ff0000000000000 0000"), ErrMalformed},
		{"AMF0 nesting", false, cat(nested("0a00000001", MaxDepth+1), h("05")), ErrLimit},
		{"AVM+ unknown marker", false, h("11 ff"), ErrMalformed},
		{"string beyond input", false, h("02 0005 6162"), ErrTruncated},
		{"long string beyond input", false, h("0c ffffffff 61"), ErrTruncated},

		{"AMF3 externalizable", true, h("0a 07 03 43"), ErrUnsupported},
		{"AMF3 bad string reference", true, h("06 02"), ErrMalformed},
		{"AMF3 bad traits reference", true, h("0a 01"), ErrMalformed},
		{"AMF3 bad object reference", true, h("09 00"), ErrMalformed},
		{"AMF3 array count over the limit", true, h("09 ffffffff"), ErrLimit},
		{"AMF3 array count beyond input", true, h("09 ffff7f 01"), ErrTruncated},
		{"AMF3 mixed array count beyond input", true, h("09 07 03 6b 04 01 01 04 01"), ErrTruncated},
		{"AMF3 int vector beyond input", true, h("0d 8101 00"), ErrTruncated},
		{"AMF3 sealed count beyond input", true, h("0a bfff73 01"), ErrTruncated},
		{"AMF3 dictionary beyond input", true, h("11 ffff7f 00 01"), ErrTruncated},
		{"AMF3 nesting", true, cat(nested("090301", MaxDepth+1), h("01")), ErrLimit},
		{"AMF3 truncated integer", true, h("04 ffffff"), ErrTruncated},
		{"AMF3 unknown marker", true, h("12"), ErrMalformed},
		{"AMF3 NaN date", true, h("08 01 7ff8000000000000"), ErrMalformed},
	}
}
