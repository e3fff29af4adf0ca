package amf

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// decodeVector decodes v.in as its format prescribes.
func decodeVector(amf3 bool, in []byte) ([]Value, error) {
	if amf3 {
		return DecodeAMF3All(in)
	}
	return Decoder{KeepAVMPlus: true}.DecodeAll(in)
}

func encodeVector(amf3 bool, vs []Value) ([]byte, error) {
	if amf3 {
		return AppendAMF3(nil, vs...)
	}
	return AppendAMF0(nil, vs...)
}

func TestVectors(t *testing.T) {
	for _, v := range vectors() {
		t.Run(v.name, func(t *testing.T) {
			got, err := decodeVector(v.amf3, v.in)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if v.want != nil {
				if g, w := render(got), render(v.want); g != w {
					t.Errorf("decoded\n got %s\nwant %s", g, w)
				}
			}
			out, err := encodeVector(v.amf3, got)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			want := v.out
			if want == nil {
				want = v.in
			}
			if !bytes.Equal(out, want) {
				t.Errorf("re-encoded\n got % x\nwant % x", out, want)
			}
			if v.want != nil {
				// Encoding the expected values gives the same bytes.
				out2, err := encodeVector(v.amf3, v.want)
				if err != nil || !bytes.Equal(out2, want) {
					t.Errorf("encoding want: %v\n got % x\nwant % x", err, out2, want)
				}
			}
		})
	}
}

// TestPrefixes checks that every strict prefix of a known value either
// decodes to fewer whole values or fails with ErrTruncated.
func TestPrefixes(t *testing.T) {
	for _, v := range vectors() {
		full, err := decodeVector(v.amf3, v.in)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		for i := range len(v.in) {
			got, err := decodeVector(v.amf3, v.in[:i])
			switch {
			case err == nil && len(got) >= len(full):
				t.Errorf("%s: prefix of %d bytes decoded to %d values", v.name, i, len(got))
			case err != nil && !errors.Is(err, ErrTruncated):
				t.Errorf("%s: prefix of %d bytes: %v, want ErrTruncated", v.name, i, err)
			}
		}
	}
}

func TestSingleValueDecode(t *testing.T) {
	v, n, err := Decode(realConnect)
	if err != nil || v != "connect" || n != 10 {
		t.Fatalf("Decode = %v, %d, %v", v, n, err)
	}
	v, n, err = DecodeAMF3(h("06 03 61 ff"))
	if err != nil || v != "a" || n != 3 {
		t.Fatalf("DecodeAMF3 = %v, %d, %v", v, n, err)
	}
	if _, _, err := Decode(nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("Decode(nil): %v", err)
	}
	if _, _, err := DecodeAMF3(nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("DecodeAMF3(nil): %v", err)
	}
	if vs, err := DecodeAll(nil); err != nil || len(vs) != 0 {
		t.Errorf("DecodeAll(nil) = %v, %v", vs, err)
	}
	// By default the switch marker is looked through.
	vs, err := DecodeAll(realPublish)
	if err != nil || len(vs) != 4 || vs[3] != "test" {
		t.Fatalf("DecodeAll(publish) = %v, %v", vs, err)
	}
}

func TestErrors(t *testing.T) {
	for _, v := range errVectors() {
		t.Run(v.name, func(t *testing.T) {
			got, err := decodeVector(v.amf3, v.in)
			if !errors.Is(err, v.want) {
				t.Fatalf("got %v (values %s), want %v", err, render(got), v.want)
			}
			if len(err.Error()) < len("amf: ") || err.Error()[:5] != "amf: " {
				t.Errorf("error %q lacks the amf: prefix", err)
			}
		})
	}
}

func TestReferencesShareValues(t *testing.T) {
	vs, err := DecodeAll(h("0a 00000002 03 000009 07 0001"))
	if err != nil {
		t.Fatal(err)
	}
	arr := vs[0].([]Value)
	if arr[0].(*Object) != arr[1].(*Object) {
		t.Error("AMF0 reference decoded to a different object")
	}
	v, _, err := DecodeAMF3(h("0a 0b 01 03 73 0a 00 01"))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(*Object)
	if s, _ := o.Get("s"); s.(*Object) != o {
		t.Error("AMF3 self reference is not the object itself")
	}
}

// TestHostileCountsDoNotAllocate checks that declared counts are not trusted:
// each input declares up to a million elements and has a few bytes.
func TestHostileCountsDoNotAllocate(t *testing.T) {
	inputs := []struct {
		amf3 bool
		in   []byte
	}{
		{false, h("0a 000fffff 05")},
		{false, h("08 ffffffff 0001 61 05")},
		{true, h("09 ffff7f 01")},
		{true, h("0d ffff7f 00 00000001")},
		{true, h("0f ffff7f 00 00000001")},
		{true, h("10 ffff7f 00 01 01")},
		{true, h("11 ffff7f 00 01 01")},
		{true, h("0a bfff73 01")},
		{true, h("0c ffff7f 00")},
		{true, h("06 ffffff7f 00")},
	}
	for _, in := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			if _, err := decodeVector(in.amf3, in.in); err == nil {
				t.Fatalf("% x decoded", in.in)
			}
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Errorf("% x: %d bytes allocated for 10 decodes", in.in, d)
		}
	}
}
