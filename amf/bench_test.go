package amf

import "testing"

// benchRoundTrip decodes a recorded message and encodes it again into a
// reused buffer.
func benchRoundTrip(b *testing.B, msg []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		vs, err := DecodeAll(msg)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = AppendAMF0(buf[:0], vs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect is a librtmfp connect command (a_unicast #4).
func BenchmarkConnect(b *testing.B) { benchRoundTrip(b, realConnect) }

// BenchmarkOnStatus is an rtmfp-cpp onStatus command (d_rtmfpcpp #12).
func BenchmarkOnStatus(b *testing.B) { benchRoundTrip(b, realOnStatus) }

// BenchmarkMetaData is @setDataFrame with a 13-entry ECMA array.
func BenchmarkMetaData(b *testing.B) { benchRoundTrip(b, realMetaData) }

// BenchmarkDecodeConnect decodes only.
func BenchmarkDecodeConnect(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAll(realConnect); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeOnStatus builds a server onStatus reply from Go values, as
// command handlers do.
func BenchmarkEncodeOnStatus(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		info := NewObject(
			Property{"level", "status"},
			Property{"code", "NetStream.Play.Start"},
			Property{"description", "Started playing test"},
		)
		var err error
		if buf, err = AppendAMF0(buf[:0], "onStatus", 0, nil, info); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeConnect re-encodes a decoded connect command.
func BenchmarkEncodeConnect(b *testing.B) {
	vs, err := DecodeAll(realConnect)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		if buf, err = AppendAMF0(buf[:0], vs...); err != nil {
			b.Fatal(err)
		}
	}
}
