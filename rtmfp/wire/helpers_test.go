package wire

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes hex written with optional spaces and '|' separators.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// encoder is what every chunk struct implements.
type encoder interface {
	Append([]byte) []byte
	Len() int
}

// ackEncoder encodes an Ack as the chunk type it was parsed from.
type ackEncoder struct {
	typ byte
	a   Ack
}

func (e ackEncoder) Append(b []byte) []byte {
	if e.typ == TypeAckBitmap {
		return e.a.AppendBitmap(b)
	}
	return e.a.AppendRanges(b)
}

func (e ackEncoder) Len() int {
	if e.typ == TypeAckBitmap {
		return e.a.BitmapLen()
	}
	return e.a.RangesLen()
}

// parseChunk dispatches on the chunk type. known is false for types this
// package has no struct for.
func parseChunk(typ byte, v []byte) (c encoder, known bool, err error) {
	wrap := func(c encoder, err error) (encoder, bool, error) { return c, true, err }
	switch typ {
	case TypeIHello:
		return wrap(ParseIHello(v))
	case TypeRHello:
		return wrap(ParseRHello(v))
	case TypeRedirect:
		return wrap(ParseRedirect(v))
	case TypeCookieChange:
		return wrap(ParseCookieChange(v))
	case TypeIIKeying:
		return wrap(ParseIIKeying(v))
	case TypeRIKeying:
		return wrap(ParseRIKeying(v))
	case TypeFIHello:
		return wrap(ParseFIHello(v))
	case TypePing:
		return wrap(ParsePing(v))
	case TypePingReply:
		return wrap(ParsePingReply(v))
	case TypeUserData:
		return wrap(ParseUserData(v))
	case TypeNextUserData:
		return wrap(ParseNextUserData(v))
	case TypeAckBitmap, TypeAckRanges:
		a, err := ParseAck(typ, v)
		return ackEncoder{typ, a}, true, err
	case TypeBufferProbe:
		return wrap(ParseBufferProbe(v))
	case TypeFlowException:
		return wrap(ParseFlowException(v))
	case TypeCloseRequest:
		return wrap(ParseCloseRequest(v))
	case TypeCloseAck:
		return wrap(ParseCloseAck(v))
	}
	return nil, false, nil
}

// knownTypes lists every chunk type parseChunk understands.
var knownTypes = []byte{
	TypeIHello, TypeRHello, TypeRedirect, TypeCookieChange, TypeIIKeying, TypeRIKeying,
	TypeFIHello, TypePing, TypePingReply, TypeUserData, TypeNextUserData, TypeAckBitmap,
	TypeAckRanges, TypeBufferProbe, TypeFlowException, TypeCloseRequest, TypeCloseAck,
}

// ackEqual compares two acks, treating nil and empty Ranges alike.
func ackEqual(a, b Ack) bool {
	if a.FlowID != b.FlowID || a.BufferBlocksAvailable != b.BufferBlocksAvailable ||
		a.CumulativeAck != b.CumulativeAck || len(a.Ranges) != len(b.Ranges) {
		return false
	}
	for i := range a.Ranges {
		if a.Ranges[i] != b.Ranges[i] {
			return false
		}
	}
	return true
}
