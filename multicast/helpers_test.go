package multicast

import (
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/traceflow"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var traceCache struct {
	once sync.Once
	msgs []traceflow.FlowMessage
	err  error
}

// netgroupMessages loads the reassembled flow messages of c_netgroup once.
func netgroupMessages(t testing.TB) []traceflow.FlowMessage {
	t.Helper()
	traceCache.once.Do(func() {
		traceCache.msgs, traceCache.err = traceflow.ExtractFlowMessages("c_netgroup")
	})
	if traceCache.err != nil {
		t.Fatal(traceCache.err)
	}
	return traceCache.msgs
}

// Messages from the c_netgroup capture (fragments with their payload cut
// short) and synthetic ones for forms the capture lacks.
var vectors = []struct {
	name string
	hex  string
}{
	{"stream-info", "21 05 0074657374 2101 2b3c0fba2e16b2ad2cd08be2e29d2d0132e6db2de45ada0eb2f62baa8a63a3c3 0102 0303be40 040492a760 020564 03079344"},
	{"stream-info-send-all", "21 05 0074657374 2101 2b3c0fba2e16b2ad2cd08be2e29d2d0132e6db2de45ada0eb2f62baa8a63a3c3 0102 0106 0303be40 040492a760 020564 03079344"},
	{"stream-end", "21 8123"},
	{"map-publisher", "22 04 07"},
	{"map-single", "22 01"},
	{"map-player", "22 8225 828282020202020202020202020202020202020202c2ffffffffffffffffffffffffffff00"},
	{"push", "23 08"},
	{"pull", "2b 8103"},
	{"whole", "20 03 08 00000000 af00138856e500"},
	{"first", "30 43 01 09 000005a6 27010000"},
	{"first-data", "30 44 02 12 00000000 0200"},
	{"first-nocount", "30 05 09 00000000 27"},
	{"next", "10 8123 01 d3b79054"},
	{"last", "00 7b f74a277401bad560"},
	{"last-empty", "00 7b"},
}
