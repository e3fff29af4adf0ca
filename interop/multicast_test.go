package interop

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/internal/traceflow"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// mcMessage is one decoded message of a multicast flow (GR 11 or GR 12).
type mcMessage struct {
	traceflow.FlowMessage
	Msg multicast.Message
}

// multicastMessages decodes every message of the GR 11 (stream info,
// fragments map, push, pull) and GR 12 (fragments) flows of a recording,
// and checks that each re-encodes to its bytes.
func multicastMessages(t *testing.T, name string) []mcMessage {
	t.Helper()
	var out []mcMessage
	for _, meta := range [][]byte{group.MetadataGRMediaReport, group.MetadataGRMedia} {
		for _, m := range groupMessages(t, name, meta) {
			var msg multicast.Message
			var err error
			if bytes.Equal(meta, group.MetadataGRMedia) {
				msg, err = multicast.ParseFragment(m.Data)
			} else {
				msg, err = multicast.DecodeReport(m.Data)
			}
			if err != nil {
				t.Fatalf("#%d %s→%s: %v: %x", m.DatagramIndex, m.FromRole, m.ToRole, err, m.Data[:min(len(m.Data), 24)])
			}
			if !bytes.Equal(msg.Append(nil), m.Data) || msg.Len() != len(m.Data) {
				t.Fatalf("#%d: %T re-encodes differently", m.DatagramIndex, msg)
			}
			out = append(out, mcMessage{m, msg})
		}
	}
	slices.SortStableFunc(out, func(a, b mcMessage) int { return a.DatagramIndex - b.DatagramIndex })
	return out
}

// reassemble rebuilds a publisher's stream from the fragments it sent, in
// ID order, giving up on the fragments that never went out.
func reassemble(t *testing.T, frags map[uint64]multicast.Fragment) []media.Message {
	t.Helper()
	ids := slices.Sorted(maps.Keys(frags))
	r := multicast.NewReassembler(multicast.ReassemblerConfig{First: ids[0]})
	for _, id := range ids {
		r.Add(frags[id])
	}
	var out []media.Message
	for {
		_, m, ok := r.Pop()
		if ok {
			out = append(out, m)
			continue
		}
		if n, _ := r.Buffered(); n == 0 {
			return out
		}
		next := r.Next() + 1
		for !r.Has(next) {
			next++
		}
		r.GiveUp(next)
	}
}

// checkAgainstFile matches reassembled messages with test_6s.flv: every
// audio and video message is one of the file's (type, timestamp, payload),
// the frames in the file's order; sequence headers may come again (rtmfpd
// repeats them before each key frame). It returns the number of frames
// (non-header audio and video messages) and the data messages.
func checkAgainstFile(t *testing.T, got []media.Message) (frames map[uint8]int, data []media.Message) {
	t.Helper()
	src := sourceMedia(t)
	frames = map[uint8]int{}
	last := -1
	for k, m := range got {
		if m.IsData() {
			data = append(data, m)
			continue
		}
		at := slices.IndexFunc(src, func(s media.Message) bool { return sameMessage(s, m) })
		if at < 0 && m.IsSequenceHeader() {
			// A repeated header carries the key frame's timestamp.
			at = slices.IndexFunc(src, func(s media.Message) bool { return s.Type == m.Type && bytes.Equal(s.Payload, m.Payload) })
		}
		if at < 0 {
			t.Fatalf("message %d (type %d at %d ms, %d bytes) is not in the file", k, m.Type, m.Timestamp, len(m.Payload))
		}
		if m.IsSequenceHeader() {
			continue
		}
		if at <= last {
			t.Fatalf("message %d (type %d at %d ms) out of the file's order", k, m.Type, m.Timestamp)
		}
		last = at
		frames[m.Type]++
	}
	return frames, data
}

// TestGroupMulticastFromLibrtmfp (g): the TestClient publishing in the
// group announced the stream "test" with Flash's default multicast
// parameters; the fragments it sent the other TestClient decode, re-encode
// byte for byte and reassemble into frames of test_6s.flv in order. The
// player subscribed, sent its fragments maps, push masks and pulls, and
// all decode. (The publisher quit at the end of its file, before the
// player had pulled everything: librtmfp pulls a fetch period, 2.5 s,
// after a fragment is announced, and asks one more push bit every 2 s.)
func TestGroupMulticastFromLibrtmfp(t *testing.T) {
	ms := multicastMessages(t, netgroupScenario)
	counts := map[string]int{}
	frags := map[uint64]multicast.Fragment{}
	for _, m := range ms {
		key := fmt.Sprintf("%s→%s %T", m.FromRole, m.ToRole, m.Msg)
		counts[key]++
		switch v := m.Msg.(type) {
		case multicast.StreamInfo:
			if v.Name != "test" || v.Config() != multicast.DefaultConfig() {
				t.Errorf("#%d: stream info %q %+v", m.DatagramIndex, v.Name, v.Config())
			}
		case multicast.Fragment:
			if m.FromRole != rolePeerPublisher {
				t.Fatalf("#%d: fragment from %s", m.DatagramIndex, m.FromRole)
			}
			frags[v.ID] = v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		t.Logf("%-48s %4d", k, counts[k])
	}
	for _, k := range []string{"peer-publisher→peer-player multicast.StreamInfo", "peer-player→peer-publisher multicast.StreamInfo",
		"peer-publisher→peer-player multicast.FragmentsMap", "peer-player→peer-publisher multicast.Push",
		"peer-player→peer-publisher multicast.Pull", "peer-publisher→peer-player multicast.Fragment"} {
		if counts[k] == 0 {
			t.Errorf("no %s", k)
		}
	}
	frames, _ := checkAgainstFile(t, reassemble(t, frags))
	t.Logf("%d fragments reassemble into %d video and %d audio frames of test_6s.flv", len(frags), frames[media.TypeVideo], frames[media.TypeAudio])
	if frames[media.TypeVideo] == 0 || frames[media.TypeAudio] == 0 {
		t.Fatal("no frames")
	}
}

// TestGroupMulticastFromRtmfpd (h): rtmfpd, publishing the stream ffmpeg
// sent it into the group, announced "test" with the default parameters,
// pushed the fragments whose bit the TestClient had asked for (Push mask,
// bit ID mod 8), answered every pull with the fragment — including the
// pulls that came after the end of the stream, which it serves until its
// fragments leave the window — sent fragments maps that claim exactly the
// fragments it had published, and ended the stream with the ID after the
// last fragment. The fragments reassemble into test_6s.flv's frames, with
// ffmpeg's onMetaData and the codec headers again before each key frame.
func TestGroupMulticastFromRtmfpd(t *testing.T) {
	ms := multicastMessages(t, groupPublishScenario)
	var (
		mask      multicast.Push
		pulled    = map[uint64]int{} // pending pulls: datagram index
		published uint64             // highest fragment ID sent so far
		end       *multicast.StreamEnd
		endAt     int
		frags     = map[uint64]multicast.Fragment{}
		counts    = map[string]int{}
		afterEnd  int
	)
	for _, m := range ms {
		counts[fmt.Sprintf("%s→%s %T", m.FromRole, m.ToRole, m.Msg)]++
		switch v := m.Msg.(type) {
		case multicast.StreamInfo:
			if v.Name != "test" || v.Config() != multicast.DefaultConfig() {
				t.Errorf("#%d: stream info %q %+v", m.DatagramIndex, v.Name, v.Config())
			}
		case multicast.Push:
			mask = v
		case multicast.Pull:
			if m.FromRole != rolePeerPlayer {
				t.Fatalf("#%d: pull from %s", m.DatagramIndex, m.FromRole)
			}
			pulled[v.ID] = m.DatagramIndex
			if end != nil {
				afterEnd++
			}
		case multicast.Fragment:
			if m.FromRole != roleServer {
				t.Fatalf("#%d: fragment from %s", m.DatagramIndex, m.FromRole)
			}
			if _, ok := pulled[v.ID]; ok {
				delete(pulled, v.ID)
			} else if !mask.Pushes(v.ID) {
				t.Errorf("#%d: fragment %d pushed, the player's push mask is %#02x", m.DatagramIndex, v.ID, mask.Mask)
			}
			if prev, ok := frags[v.ID]; ok && !bytes.Equal(prev.Append(nil), m.Data) {
				t.Errorf("fragment %d differs between copies", v.ID)
			}
			frags[v.ID] = v
			published = max(published, v.ID)
		case multicast.FragmentsMap:
			if m.FromRole != roleServer {
				continue
			}
			full, err := multicast.FullFragmentsMap(m.Msg.(multicast.FragmentsMap).Oldest(), v.Last)
			if err != nil || !bytes.Equal(full.Append(nil), m.Data) {
				t.Errorf("#%d: rtmfpd's map %x is not a full run", m.DatagramIndex, m.Data)
			}
		case multicast.StreamEnd:
			if m.FromRole == roleServer && end == nil {
				e := v
				end, endAt = &e, m.DatagramIndex
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		t.Logf("%-36s %4d", k, counts[k])
	}
	if len(pulled) > 0 {
		t.Errorf("pulls never answered: %v", slices.Sorted(maps.Keys(pulled)))
	}
	if end == nil || end.LastFragment != published+1 {
		t.Fatalf("end of stream %+v, last fragment sent %d", end, published)
	}
	if afterEnd == 0 {
		t.Error("no pulls after the end of stream: the recording does not show them answered")
	}
	t.Logf("end of stream #%d at fragment %d; %d pulls after it, all answered", endAt, end.LastFragment, afterEnd)

	got := reassemble(t, frags)
	frames, data := checkAgainstFile(t, got)
	t.Logf("%d fragments (IDs %d..%d) reassemble into %d video and %d audio frames of test_6s.flv and %d metadata messages",
		len(frags), slices.Min(slices.Collect(maps.Keys(frags))), published, frames[media.TypeVideo], frames[media.TypeAudio], len(data))
	for _, d := range data {
		vs, err := netstream.DecodeData(d)
		if err != nil || len(vs) < 2 || vs[0] != "onMetaData" {
			t.Fatalf("data message %v, %v", vs, err)
		}
	}
	// Before each key frame (AVC NALU, not the end of sequence):
	// onMetaData, the AVC and the AAC sequence headers, stamped with the
	// key frame's time.
	keys := 0
	for k, m := range got {
		if !m.IsVideo() || !m.IsKeyframe() || len(m.Payload) < 2 || m.Payload[1] != 1 || k < 3 {
			continue
		}
		meta, avc, aac := got[k-3], got[k-2], got[k-1]
		if !meta.IsData() || !avc.IsVideo() || !avc.IsSequenceHeader() || !aac.IsAudio() || !aac.IsSequenceHeader() ||
			meta.Timestamp != m.Timestamp || avc.Timestamp != m.Timestamp || aac.Timestamp != m.Timestamp {
			t.Fatalf("key frame at %d ms not preceded by the metadata and both codec headers", m.Timestamp)
		}
		keys++
	}
	if keys < 4 || frames[media.TypeVideo] < 60 {
		t.Fatalf("%d key frames with headers, %d video frames", keys, frames[media.TypeVideo])
	}
}
