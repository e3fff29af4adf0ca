// Package amf encodes and decodes Action Message Format values, AMF0 and
// AMF3, as used by Flash NetConnection and NetStream messages over RTMFP
// (RFC 7425 flows) and RTMP (RTMP specification 1.0 §7.1: message types 20
// AMF0 command, 18 AMF0 data, 17 AMF3 command and 15 AMF3 data; the AMF3
// types put one 0x00 byte before AMF0 values).
//
// The formats are defined by Adobe's "AMF 0 Specification" (2007) and "AMF 3
// Specification" (2013). The AMF0 marker 0x11 (AMF0 §3.1, "AVM+ Type
// Marker"; AMF3 §4.1, "NetConnection and AMF 3") switches to one AMF3 value;
// every switch starts with empty AMF3 reference tables.
//
// # Value model
//
// Decoded values are plain Go values held in [Value] (an alias for any):
//
//	AMF0 number, AMF3 double          float64
//	AMF3 integer                      int
//	boolean, AMF3 true/false          bool
//	string, long string               string
//	null                              nil
//	undefined                         Undefined{}
//	AMF0 unsupported                  Unsupported{}
//	anonymous object                  *Object (ordered properties)
//	AMF0 typed object                 *TypedObject
//	AMF3 object with a class name,    *TypedObject
//	  sealed members or not dynamic
//	AMF0 ECMA array                   *ECMAArray
//	AMF0 strict array, AMF3 array     []Value
//	  with no associative part
//	AMF3 array with associative part  *MixedArray
//	date                              time.Time
//	XML document                      XMLDocument
//	AMF3 XML                          XML
//	AMF3 ByteArray                    []byte
//	AMF3 Vector.<int|uint|Number|*>   *VectorInt, *VectorUint, *VectorDouble, *VectorObject
//	AMF3 Dictionary                   *Dictionary
//
// By default an AMF3 value found behind the AMF0 switch marker is returned
// as is; a [Decoder] with KeepAVMPlus set wraps it in [AVMPlus] instead, so
// that encoding it again reproduces the marker.
//
// The encoders also accept the other Go integer and float types, float32,
// map[string]Value (written as an object with sorted keys) and nil pointers
// (written as null). In AMF0, values that have no AMF0 form ([]byte, XML,
// *MixedArray, vectors, dictionaries) and [AVMPlus] values are written as
// AMF3 behind the switch marker.
//
// # References and round trips
//
// Complex values that come back through a reference share the Go value
// (pointers, or slices with the same backing array), so decoded graphs may
// contain cycles and shared nodes. The encoders write a reference when the
// same pointer (or the same non-empty slice) is met again, in AMF0 as well
// as AMF3; pass distinct values to a peer that does not support AMF0
// references. AMF3 strings and traits are written by reference when they
// repeat, as Flash does.
//
// Decoding then encoding AMF0 reproduces the input bytes for everything
// Flash writes: objects, typed objects, ECMA arrays (with their count field,
// see [ECMAArray]), strict arrays, dates with their time-zone field, long
// strings (used only above 65535 bytes) and switched AMF3 values with
// KeepAVMPlus. AMF3 re-encoding is semantically faithful but not always byte
// for byte: dates, XML and strings referenced by the input are written again
// inline, and references point at the first occurrence of a value. AMF3
// values re-encoded in AMF0 lose AMF3's string references, so the output
// can be much larger than the input.
//
// # Limits
//
// Decoders never panic, never trust a declared length or count beyond what
// the remaining input can hold, and stop at [MaxDepth] levels of nesting,
// [MaxElements] entries in one container and [MaxReferences] entries in one
// reference table. Every string, array or byte array a decoder allocates is
// backed by at least as many input bytes as it has elements.
package amf
