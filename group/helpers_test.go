package group

import (
	"encoding/hex"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/internal/traceflow"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// Peer IDs of the c_netgroup trace (initiator_peer_id in its keys file).
var (
	tracePublisher = mustPeerID("f1b9603fff754c2c69e93d772e5480526dd9dc6897d7f3fa3ad98e7eceb7df8b")
	tracePlayer1   = mustPeerID("9d361aaf9d716f21b06178cba342319c2602dcc5dc552ef5a7bdf7fd784c30e2")
	tracePlayer2   = mustPeerID("362bb5d1c8716067cf8a0f3994717ebd1951ea8c61736097c30c5e2ddd34706e")
)

const traceSpec = "G:027f0201010103010c050e74657374011b00"

func mustPeerID(s string) profile.PeerID {
	id, err := profile.ParsePeerID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var traceCache struct {
	once sync.Once
	msgs []traceflow.FlowMessage
	keys *tracefile.Keys
	err  error
}

// netgroupTrace loads the reassembled flow messages and the keys of the
// c_netgroup capture once per test binary.
func netgroupTrace(t testing.TB) ([]traceflow.FlowMessage, *tracefile.Keys) {
	t.Helper()
	traceCache.once.Do(func() {
		traceCache.msgs, traceCache.err = traceflow.ExtractFlowMessages("c_netgroup")
		if traceCache.err == nil {
			traceCache.keys, traceCache.err = tracefile.LoadKeys("c_netgroup")
		}
	})
	if traceCache.err != nil {
		t.Fatal(traceCache.err)
	}
	return traceCache.msgs, traceCache.keys
}
