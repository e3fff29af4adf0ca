package wire

import (
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
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
	case TypeAckBitmap:
		a, err := ParseAckBitmap(v)
		return AckBitmap(a), true, err
	case TypeAckRanges:
		a, err := ParseAckRanges(v)
		return AckRanges(a), true, err
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

var (
	traceMu    sync.Mutex
	traceCache = map[string][]tracefile.Datagram{}
)

// loadTrace loads a recorded scenario once per test binary.
func loadTrace(t testing.TB, scenario string) []tracefile.Datagram {
	t.Helper()
	traceMu.Lock()
	defer traceMu.Unlock()
	if ds, ok := traceCache[scenario]; ok {
		return ds
	}
	ds, err := tracefile.LoadDatagrams(scenario)
	if err != nil {
		t.Fatal(err)
	}
	traceCache[scenario] = ds
	return ds
}
