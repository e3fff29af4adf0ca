package netgroup

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

// traceSeeds adds every GR 1C message of c_netgroup to a fuzz corpus.
func traceSeeds(f *testing.F) {
	msgs, _ := netgroupTrace(f)
	for _, m := range msgs {
		if bytes.Equal(m.Metadata, group.MetadataGRReport) {
			f.Add(m.Data)
		}
	}
}

// FuzzInit feeds arbitrary group inits to the checks a member runs on the
// first message of a GR 1C flow: they never panic, and an init they accept
// names the member's group and peer ID and carries the expected key.
func FuzzInit(f *testing.F) {
	traceSeeds(f)
	spec, _ := group.ParseSpec(traceSpec)
	var self profile.PeerID
	self[0] = 1
	sc := &profile.SessionCrypto{NearNonce: []byte("near"), FarNonce: []byte("far")}
	_, expect := group.SessionKeys(spec.GroupTxt(), &profile.SessionCrypto{NearNonce: sc.FarNonce, FarNonce: sc.NearNonce})
	good := initMessages(spec.GroupTxt(), spec.GroupID(), sc, self)[0]
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		gid, routed := initGroup(b)
		in, err := checkInit(b, spec.GroupID(), self, expect)
		if err != nil {
			return
		}
		if !routed || gid != spec.GroupID() || in.PeerID != self || in.Key != expect {
			t.Fatalf("accepted %x", b)
		}
	})
}

// FuzzNeighborMessage feeds arbitrary messages of a neighbour's GR 1C flow
// to a member: it never panics, its heard list stays bounded and free of
// itself, every address it keeps is usable, and the report it then writes
// for the neighbour decodes and lists only peers it knows.
func FuzzNeighborMessage(f *testing.F) {
	traceSeeds(f)
	f.Add([]byte{0x0c})
	f.Add([]byte{0x0e})
	var self, far profile.PeerID
	self[0], far[0] = 1, 2
	f.Fuzz(func(t *testing.T, b []byte) {
		m := bareMember(self)
		m.cfg.MaxHeard = 8
		n := &Neighbor{m: m, id: far, addr: group.AddressOf(far), done: make(chan struct{})}
		m.neighbors[far] = n
		m.hearLocked(far, time.Now())
		// Twice: the second pass updates what the first learned.
		m.handleMessage(n, b)
		m.handleMessage(n, b)
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.heard) > m.cfg.MaxHeard || m.heard[self] != nil || m.heard[far] == nil {
			t.Fatalf("heard list: %d entries, self %v", len(m.heard), m.heard[self] != nil)
		}
		if len(m.myAddrs) > maxAddresses {
			t.Fatalf("%d own addresses", len(m.myAddrs))
		}
		for _, h := range m.heard {
			if len(h.addrs) > maxAddresses {
				t.Fatalf("%d addresses kept", len(h.addrs))
			}
			for _, a := range h.reportAddresses() {
				if !usable(a.AddrPort) {
					t.Fatalf("kept %v", a)
				}
			}
		}
		out := m.reportForLocked(far, netip.MustParseAddrPort("192.0.2.1:1935"), time.Now())
		msg, err := group.DecodeGR(out)
		if err != nil {
			t.Fatalf("own report %x: %v", out, err)
		}
		for _, e := range msg.(group.Report).Peers {
			id, ok := e.PeerID()
			if !ok || id == far || id == self || m.heard[id] == nil {
				t.Fatalf("report lists %x", e.Key)
			}
		}
	})
}
