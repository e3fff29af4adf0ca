package group

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/internal/traceflow"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// TestTraceMessages decodes every message of the GC and GR 1C flows of
// c_netgroup, re-encodes it byte for byte and checks its content against
// the keys file: the group ID, the group keys and the peer IDs.
func TestTraceMessages(t *testing.T) {
	msgs, keys := netgroupTrace(t)
	sp, err := ParseSpec(traceSpec)
	if err != nil {
		t.Fatal(err)
	}
	sessions := map[string]tracefile.Session{}
	peerOf := map[string][32]byte{} // role → peer ID
	for _, s := range keys.Sessions {
		sessions[s.Name] = s
		peerOf[s.Initiator.Role] = [32]byte(s.InitiatorPeerID)
	}
	counts := map[string]int{}
	for _, m := range msgs {
		var dec func([]byte) (Message, error)
		switch {
		case bytes.Equal(m.Metadata, MetadataGC):
			dec = DecodeGC
		case bytes.Equal(m.Metadata, MetadataGRReport):
			dec = DecodeGR
		default:
			continue
		}
		msg, err := dec(m.Data)
		if err != nil {
			t.Errorf("#%d %s→%s: %v: %x", m.DatagramIndex, m.FromRole, m.ToRole, err, m.Data)
			continue
		}
		if got := msg.Append(nil); !bytes.Equal(got, m.Data) || msg.Len() != len(m.Data) {
			t.Errorf("#%d: re-encoded %x\n   wire %x", m.DatagramIndex, got, m.Data)
		}
		counts[fmt.Sprintf("%s %T", traceflow.SignatureString(m.Metadata), msg)]++
		switch v := msg.(type) {
		case Join:
			if v.ID() != sp.GroupID() {
				t.Errorf("#%d: join for %s", m.DatagramIndex, v.ID())
			}
		case Member:
			if v.PeerID == peerOf[m.ToRole] || !knownPeer(peerOf, v.PeerID) {
				t.Errorf("#%d: member %s", m.DatagramIndex, v.PeerID)
			}
		case Init:
			checkInit(t, m, v, sp, sessions[m.SessionName], peerOf)
		case Report:
			for _, e := range v.Peers {
				if id, ok := e.PeerID(); !ok || !knownPeer(peerOf, id) {
					t.Errorf("#%d: report entry %x", m.DatagramIndex, e.Key)
				}
			}
		}
	}
	for k, n := range counts {
		t.Logf("%-22s %3d", k, n)
	}
	want := map[string]int{"GC group.Join": 3, "GC group.Member": 3, "GR 1c group.Init": 6, "GR 1c group.Data": 6, "GR 1c group.Begin": 6}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d messages, want %d", k, counts[k], n)
		}
	}
	if counts["GR 1c group.Report"] < 6 {
		t.Errorf("%d reports, want at least one each way per session", counts["GR 1c group.Report"])
	}
}

func knownPeer(peers map[string][32]byte, id [32]byte) bool {
	for _, p := range peers {
		if p == id {
			return true
		}
	}
	return false
}

// checkInit recomputes the group key from the session's Diffie-Hellman
// values and key components.
func checkInit(t *testing.T, m traceflow.FlowMessage, v Init, sp *Spec, s tracefile.Session, peerOf map[string][32]byte) {
	t.Helper()
	if id, err := v.GroupID(); err != nil || id != sp.GroupID() || v.GroupHex != sp.GroupID().String() {
		t.Errorf("#%d: init group %q", m.DatagramIndex, v.GroupHex)
	}
	if v.PeerID != peerOf[m.ToRole] {
		t.Errorf("#%d: init names %s, not the recipient", m.DatagramIndex, v.PeerID)
	}
	// K = responder public ^ initiator private mod p, unpadded.
	p := new(big.Int).SetBytes(s.DHPrime)
	k := new(big.Int).Exp(new(big.Int).SetBytes(s.ResponderDHPublic), new(big.Int).SetBytes(s.InitiatorDHPrivate), p).Bytes()
	if !bytes.Equal(k, s.SharedSecret) {
		t.Fatalf("%s: recomputed shared secret differs", s.Name)
	}
	// The sender's far component is the other side's.
	far := s.ResponderSessionKeyComponent
	near := s.InitiatorSessionKeyComponent
	if m.FromRole == s.Responder.Role {
		far, near = near, far
	}
	sender := &profile.SessionCrypto{NearNonce: Nonce(k, near), FarNonce: Nonce(k, far)}
	receiver := &profile.SessionCrypto{NearNonce: Nonce(k, far), FarNonce: Nonce(k, near)}
	send, _ := SessionKeys(sp.GroupTxt(), sender)
	_, expect := SessionKeys(sp.GroupTxt(), receiver)
	if v.Key != send || !v.Key.Equal(expect) {
		t.Errorf("#%d %s: key %x, want %x", m.DatagramIndex, m.FromRole, v.Key, send)
	}
	if ComputeKey(sp.GroupTxt(), Nonce(k, near)) == v.Key {
		t.Errorf("#%d: key does not depend on the direction", m.DatagramIndex)
	}
}
