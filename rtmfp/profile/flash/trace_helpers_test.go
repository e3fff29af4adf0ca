package flash

import (
	"bytes"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

var traceCache struct {
	sync.Mutex
	keys map[string]*tracefile.Keys
	dgs  map[string][]tracefile.Datagram
}

func traceKeys(t testing.TB, scenario string) *tracefile.Keys {
	t.Helper()
	traceCache.Lock()
	defer traceCache.Unlock()
	if k, ok := traceCache.keys[scenario]; ok {
		return k
	}
	k, err := tracefile.LoadKeys(scenario)
	if err != nil {
		t.Fatal(err)
	}
	if traceCache.keys == nil {
		traceCache.keys = map[string]*tracefile.Keys{}
	}
	traceCache.keys[scenario] = k
	return k
}

func traceDatagrams(t testing.TB, scenario string) []tracefile.Datagram {
	t.Helper()
	traceCache.Lock()
	defer traceCache.Unlock()
	if d, ok := traceCache.dgs[scenario]; ok {
		return d
	}
	d, err := tracefile.LoadDatagrams(scenario)
	if err != nil {
		t.Fatal(err)
	}
	if traceCache.dgs == nil {
		traceCache.dgs = map[string][]tracefile.Datagram{}
	}
	traceCache.dgs[scenario] = d
	return d
}

// allSessions returns every recorded session of every scenario.
func allSessions(t testing.TB) []tracefile.Session {
	var out []tracefile.Session
	for _, s := range tracefile.Scenarios {
		out = append(out, traceKeys(t, s).Sessions...)
	}
	return out
}

// sessionIntegrity returns the integrity form of the direction that key
// protects in session s.
func sessionIntegrity(s *tracefile.Session, key []byte) (Integrity, bool) {
	var dir string
	switch {
	case bytes.Equal(key, s.InitiatorToResponderKey):
		dir = "initiator_to_responder"
	case bytes.Equal(key, s.ResponderToInitiatorKey):
		dir = "responder_to_initiator"
	default:
		return Integrity{}, false
	}
	m, ok := s.IntegrityModes[dir]
	if !ok || m.Mode != "hmac-sha256" {
		return Integrity{Sequence: ok && m.SSeq}, true
	}
	return Integrity{HMACKey: m.HMACKey, HMACLength: m.HMACLength, Sequence: m.SSeq}, true
}

// datagramCodec builds the codec that protects a recorded datagram.
func datagramCodec(t testing.TB, sessions []tracefile.Session, d *tracefile.Datagram) *Codec {
	t.Helper()
	in := Integrity{}
	if d.KeyKind == "session" {
		found := false
		for i := range sessions {
			if m, ok := sessionIntegrity(&sessions[i], d.Key); ok {
				in, found = m, true
				break
			}
		}
		if !found {
			t.Fatalf("datagram %d: no session has its key", d.Index)
		}
	}
	if (in.HMACLength > 0) != (d.Integrity == "hmac-sha256") || in.Sequence != (d.SSeq != nil) {
		t.Fatalf("datagram %d: integrity %q sseq %v but session says %+v", d.Index, d.Integrity, d.SSeq, in)
	}
	c, err := NewCodec(d.Key, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// prefixLen returns the length of the sequence number and checksum at the
// start of a recorded plaintext.
func prefixLen(d *tracefile.Datagram) int {
	n := 0
	if d.SSeq != nil {
		n += vlu.Len(*d.SSeq)
	}
	if d.Integrity == "checksum" {
		n += 2
	}
	return n
}

// fixedReader returns the given bytes, then fails.
func fixedReader(parts ...[]byte) *bytes.Reader {
	return bytes.NewReader(bytes.Join(parts, nil))
}
