package traceflow

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

func TestExtractFlowMessages(t *testing.T) {
	// Lower bounds that every scenario must reach; the exact counts are
	// logged.
	for _, s := range tracefile.Scenarios {
		ms, err := ExtractFlowMessages(s)
		if err != nil {
			t.Fatal(err)
		}
		counts := MetadataCounts(ms)
		for _, k := range SortedKeys(counts) {
			t.Logf("%s: %-14q %5d messages", s, k, counts[k])
		}
		if counts["TC 04 00"] == 0 {
			t.Errorf("%s: no NetConnection messages", s)
		}
		last := -1
		for _, m := range ms {
			if m.DatagramIndex < last {
				t.Fatalf("%s: messages out of capture order", s)
			}
			last = m.DatagramIndex
			if m.SessionName == "" || m.FromRole == "" || m.ToRole == "" || m.FromRole == m.ToRole {
				t.Fatalf("%s: bad message %+v", s, m)
			}
		}
	}
}

func TestExtractConnect(t *testing.T) {
	// The first message every client sends on its NetConnection flow is the
	// AMF0 "connect" command: 14, timestamp, 02 00 07 "connect".
	ms, err := ExtractFlowMessages("a_unicast")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if m.ToRole != "server" || seen[m.SessionName] || !bytes.Equal(m.Metadata, []byte("TC\x04\x00")) {
			continue
		}
		seen[m.SessionName] = true
		if m.HasAssociation || m.Seq != 1 || !bytes.HasPrefix(m.Data[5:], []byte("\x02\x00\x07connect")) || m.Data[0] != 0x14 {
			t.Errorf("%s: first NC message %x… (seq %d, assoc %v)", m.SessionName, m.Data[:min(len(m.Data), 20)], m.Seq, m.HasAssociation)
		}
	}
	if len(seen) != 2 {
		t.Errorf("saw %d client sessions, want 2", len(seen))
	}
}

func TestReassemblyOrderAndDuplicates(t *testing.T) {
	// Fragments arriving out of order with a retransmitted middle fragment
	// and an abandoned message.
	st := &flowState{frags: map[uint64]*fragment{}}
	chunks := []struct {
		seq   uint64
		flags byte
		data  string
		want  string
	}{
		{2, 0x30, "b", ""},
		{1, 0x10, "a", ""},
		{2, 0x30, "b", ""}, // duplicate
		{3, 0x20, "c", "abc"},
		{5, 0x20, "e", ""},
		{4, 0x12, "", ""}, // ABN: message 4–5 is lost
		{6, 0x00, "f", "f"},
	}
	for _, c := range chunks {
		got := st.add(udFor(c.seq, c.flags, c.data))
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("seq %d: unexpected message %q", c.seq, got[0].data)
		case c.want != "" && (len(got) != 1 || string(got[0].data) != c.want):
			t.Errorf("seq %d: got %v, want %q", c.seq, got, c.want)
		}
	}
}

func udFor(seq uint64, flags byte, data string) wire.UserData {
	return wire.UserData{Flags: flags, FlowID: 2, Seq: seq, FSNOffset: seq, Data: []byte(data)}
}
