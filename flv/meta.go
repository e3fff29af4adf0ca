package flv

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/rtmfpd/rtmfpd/amf"
)

// EncodeMetadata returns the body of an onMetaData script tag holding props
// as an ECMA array, the form Flash and ffmpeg write.
func EncodeMetadata(props *amf.Object) ([]byte, error) {
	arr := &amf.ECMAArray{}
	if props != nil {
		arr.Props = append(arr.Props, props.Props...)
	}
	return amf.AppendAMF0(nil, "onMetaData", arr)
}

// NumberOffset returns where, in an AMF0 script tag body, the 8-byte value
// of the number property key is (so that a recorder can rewrite a duration
// in place), or -1. It looks for the property's name followed by the number
// marker and checks that the value fits.
func NumberOffset(body []byte, key string) int {
	if len(key) > 0xffff {
		return -1
	}
	pat := make([]byte, 0, 3+len(key))
	pat = binary.BigEndian.AppendUint16(pat, uint16(len(key)))
	pat = append(pat, key...)
	pat = append(pat, 0x00) // number marker
	i := bytes.Index(body, pat)
	if i < 0 || i+len(pat)+8 > len(body) {
		return -1
	}
	return i + len(pat)
}

// PutNumber writes an AMF0 number's 8 bytes.
func PutNumber(b []byte, v float64) { binary.BigEndian.PutUint64(b, math.Float64bits(v)) }
