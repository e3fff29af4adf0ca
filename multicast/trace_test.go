package multicast

import (
	"bytes"
	"fmt"
	"math/bits"
	"slices"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

var (
	metaMediaReport = []byte("GR\x11")
	metaMedia       = []byte("GR\x12")
)

// TestTraceMessages decodes and re-encodes every message of the multicast
// flows of c_netgroup.
func TestTraceMessages(t *testing.T) {
	counts := map[string]int{}
	for _, m := range netgroupMessages(t) {
		var dec func([]byte) (Message, error)
		switch {
		case bytes.Equal(m.Metadata, metaMediaReport):
			dec = DecodeReport
		case bytes.Equal(m.Metadata, metaMedia):
			dec = func(b []byte) (Message, error) { return ParseFragment(b) }
		default:
			continue
		}
		msg, err := dec(m.Data)
		if err != nil {
			t.Errorf("#%d: %v: %x", m.DatagramIndex, err, m.Data[:min(len(m.Data), 40)])
			continue
		}
		if got := msg.Append(nil); !bytes.Equal(got, m.Data) || msg.Len() != len(m.Data) {
			t.Errorf("#%d: %T re-encodes differently", m.DatagramIndex, msg)
		}
		name := fmt.Sprintf("%T", msg)
		switch v := msg.(type) {
		case Fragment:
			name = fmt.Sprintf("Fragment %02x", v.Marker)
			if v.NoCount {
				t.Errorf("#%d: fragment %d without count", m.DatagramIndex, v.ID)
			}
		case StreamInfo:
			if v.Name != "test" || v.Config() != DefaultConfig() {
				t.Errorf("#%d: stream info %q %+v", m.DatagramIndex, v.Name, v.Config())
			}
		case FragmentsMap:
			if m.FromRole == "peer-publisher" {
				checkPublisherMap(t, m.DatagramIndex, v)
			}
		}
		counts[name]++
	}
	for _, k := range slices.Sorted(mapsKeys(counts)) {
		t.Logf("%-28s %5d", k, counts[k])
	}
	for _, k := range []string{"multicast.StreamInfo", "multicast.FragmentsMap", "multicast.Push", "multicast.Pull",
		"Fragment 20", "Fragment 30", "Fragment 10", "Fragment 00"} {
		if counts[k] == 0 {
			t.Errorf("no %s in the capture", k)
		}
	}
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkPublisherMap: a publisher holds a contiguous run of fragments and
// sends exactly FullFragmentsMap's bytes.
func checkPublisherMap(t *testing.T, idx int, m FragmentsMap) {
	t.Helper()
	n := 0
	for _, b := range m.Bitmap {
		n += bits.OnesCount8(b)
	}
	full, err := FullFragmentsMap(m.Last-uint64(n), m.Last)
	if err != nil || !bytes.Equal(full.Append(nil), m.Append(nil)) {
		t.Errorf("#%d: publisher map %x, FullFragmentsMap gives %x", idx, m.Append(nil), full.Append(nil))
	}
}

// TestTraceReassembly rebuilds the publisher's stream from every fragment
// seen on any media flow (publisher and relaying players use the
// publisher's IDs), checks that all copies of a fragment agree, counts the
// frames and checks that the Fragmenter cuts each message exactly as the
// publisher did.
func TestTraceReassembly(t *testing.T) {
	byID := map[uint64][]byte{}
	var arrival []Fragment // in capture order, duplicates included
	for _, m := range netgroupMessages(t) {
		if !bytes.Equal(m.Metadata, metaMedia) {
			continue
		}
		f, err := ParseFragment(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := byID[f.ID]; ok && !bytes.Equal(prev, m.Data) {
			t.Errorf("fragment %d differs between copies", f.ID)
		}
		byID[f.ID] = m.Data
		arrival = append(arrival, f)
	}
	ids := slices.Sorted(func(yield func(uint64) bool) {
		for id := range byID {
			if !yield(id) {
				return
			}
		}
	})
	var losses [][2]uint64
	r := NewReassembler(ReassemblerConfig{OnLoss: func(a, b uint64) { losses = append(losses, [2]uint64{a, b}) }})
	for _, id := range ids {
		f, _ := ParseFragment(byID[id])
		r.Add(f)
	}
	type delivered struct {
		id uint64
		m  media.Message
	}
	var out []delivered
	complete := 0 // messages before the first gap
	for {
		id, m, ok := r.Pop()
		if !ok {
			if complete == 0 {
				complete = len(out)
			}
			// The capture ends with fragments the players never got:
			// give up on each gap like a member whose fetch period ran out.
			if n, _ := r.Buffered(); n == 0 {
				break
			}
			next := r.Next() + 1
			for !r.Has(next) {
				next++
			}
			r.GiveUp(next)
			continue
		}
		out = append(out, delivered{id, m})
	}
	// Every fragment present is either delivered or reported lost (as
	// part of a message whose other pieces never came).
	accounted := 0
	for _, l := range losses {
		for id := l[0]; id <= l[1]; id++ {
			if _, ok := byID[id]; ok {
				accounted++
			}
		}
	}
	counts := map[uint8]int{}
	for _, d := range out {
		counts[d.m.Type]++
	}
	var missing []uint64
	for id := ids[0]; id <= ids[len(ids)-1]; id++ {
		if _, ok := byID[id]; !ok {
			missing = append(missing, id)
		}
	}
	t.Logf("%d distinct fragments (IDs %d..%d, %d missing from %d on), %d arrivals", len(ids), ids[0], ids[len(ids)-1], len(missing), missing[0], len(arrival))
	t.Logf("%d messages (%d before the first gap): %d video, %d audio, by type %v; %d loss reports",
		len(out), complete, counts[media.TypeVideo], counts[media.TypeAudio], counts, len(losses))
	if counts[media.TypeVideo] < 183 || counts[media.TypeAudio] < 307 {
		t.Errorf("publisher stream has %d video and %d audio frames; player 1 wrote 183 and 307", counts[media.TypeVideo], counts[media.TypeAudio])
	}
	// Every delivered message, cut again from the ID of its first fragment,
	// gives the publisher's fragments byte for byte.
	for _, d := range out {
		frags, err := NewFragmenter(d.id-1, 0).Fragment(nil, d.m)
		if err != nil {
			t.Fatal(err)
		}
		accounted += len(frags)
		for _, f := range frags {
			if !bytes.Equal(f.Append(nil), byID[f.ID]) {
				t.Errorf("message at %d: fragment %d differs from the wire", d.id, f.ID)
			}
		}
	}
	if accounted != len(ids) {
		t.Errorf("%d fragments delivered or lost, %d present", accounted, len(ids))
	}
	// In capture order (as a member receives them, with duplicates) the
	// same messages come out.
	r2 := NewReassembler(ReassemblerConfig{First: ids[0]})
	var again []media.Message
	for _, f := range arrival {
		r2.Add(f)
		for {
			_, m, ok := r2.Pop()
			if !ok {
				break
			}
			again = append(again, m)
		}
	}
	if len(again) != complete {
		t.Errorf("capture order: %d messages, sorted: %d", len(again), complete)
	}
	for i := range min(len(again), complete) {
		if !bytes.Equal(again[i].Payload, out[i].m.Payload) {
			t.Errorf("capture order: message %d differs", i)
			break
		}
	}
}
