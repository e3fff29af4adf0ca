package multicast

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

func seedVectors(f *testing.F, types ...byte) {
	for _, v := range vectors {
		b, _ := hex.DecodeString(strings.ReplaceAll(v.hex, " ", ""))
		if len(types) == 0 || bytes.IndexByte(types, b[0]) >= 0 {
			f.Add(b)
		}
	}
}

// roundTrip checks the codec invariants: Len matches the encoding, the
// encoding decodes again and re-encodes to itself.
func roundTrip(t *testing.T, in []byte, dec func([]byte) (Message, error)) Message {
	m, err := dec(in)
	if err != nil {
		return nil
	}
	out := m.Append(nil)
	if len(out) != m.Len() || m.Type() != in[0] {
		t.Fatalf("%T: Len %d, encoded %d bytes, type %x", m, m.Len(), len(out), m.Type())
	}
	m2, err := dec(out)
	if err != nil {
		t.Fatalf("%T: %x does not decode again: %v", m, out, err)
	}
	if out2 := m2.Append(nil); !bytes.Equal(out, out2) {
		t.Fatalf("%T: unstable encoding %x then %x", m, out, out2)
	}
	return m
}

func FuzzDecode(f *testing.F) {
	seedVectors(f)
	f.Fuzz(func(t *testing.T, b []byte) { roundTrip(t, b, Decode) })
}

func FuzzStreamInfo(f *testing.F) {
	seedVectors(f, TypeStreamInfo)
	f.Fuzz(func(t *testing.T, b []byte) {
		if m := roundTrip(t, b, DecodeReport); m != nil {
			if s, ok := m.(StreamInfo); ok {
				_ = s.Config()
			}
		}
	})
}

func FuzzFragment(f *testing.F) {
	seedVectors(f, TypeFragmentWhole, TypeFragmentFirst, TypeFragmentNext, TypeFragmentLast)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, func(b []byte) (Message, error) { return ParseFragment(b) })
	})
}

func FuzzFragmentsMap(f *testing.F) {
	seedVectors(f, TypeFragmentsMap)
	f.Add(FragmentsMap{Last: 1 << 60, Bitmap: []byte{0xff, 0x80}}.Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := roundTrip(t, b, func(b []byte) (Message, error) { return ParseFragmentsMap(b) })
		if m == nil {
			return
		}
		fm := m.(FragmentsMap)
		n, prev := 0, uint64(0)
		fm.Iterate(func(id uint64) bool {
			if !fm.Has(id) || (n > 0 && id >= prev) || id < fm.Oldest() {
				t.Fatalf("iterated %d (prev %d), Has %v, oldest %d", id, prev, fm.Has(id), fm.Oldest())
			}
			n, prev = n+1, id
			return true
		})
		if n > 1+8*len(fm.Bitmap) {
			t.Fatalf("%d ids from %d bytes", n, len(fm.Bitmap))
		}
		// Rebuilding the map with Set gives the same answers.
		if len(fm.Bitmap) <= MaxFragmentsMapBytes {
			re := NewFragmentsMap(fm.Last)
			fm.Iterate(func(id uint64) bool {
				if err := re.Set(id); err != nil {
					t.Fatalf("Set(%d): %v", id, err)
				}
				return true
			})
			if re.Count() != n {
				t.Fatalf("rebuilt map has %d ids, want %d", re.Count(), n)
			}
		}
	})
}

// FuzzReassembler cuts messages, delivers the fragments in a fuzzed order
// with fuzzed drops and duplicates, and checks that what comes out is a
// subsequence of what went in, in order, and that nothing stays buffered.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{5, 9, 1, 0, 3}, []byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{20, 2, 2}, []byte{7, 6, 5, 4, 3, 2, 1, 0, 0x80, 0x81})
	f.Fuzz(func(t *testing.T, sizes, order []byte) {
		if len(sizes) > 64 {
			sizes = sizes[:64]
		}
		fr := &Fragmenter{MaxPayload: 3}
		var msgs []media.Message
		var frags []Fragment
		for i, s := range sizes {
			m := media.Message{Type: media.TypeVideo, Timestamp: uint32(i), Payload: bytes.Repeat([]byte{byte(i)}, int(s))}
			var err error
			if frags, err = fr.Fragment(frags, m); err != nil {
				t.Fatal(err)
			}
			if s > 0 {
				msgs = append(msgs, m)
			}
		}
		if len(frags) == 0 {
			return
		}
		byFirst := map[uint64]media.Message{}
		k := 0
		for _, f := range frags {
			if f.Marker == TypeFragmentWhole || f.Marker == TypeFragmentFirst {
				byFirst[f.ID] = msgs[k]
				k++
			}
		}
		lost := 0
		r := NewReassembler(ReassemblerConfig{First: 1, MaxFragments: 16, MaxBytes: 40,
			OnLoss: func(a, b uint64) { lost += int(b - a + 1) }})
		delivered, lastID := 0, uint64(0)
		pop := func() {
			for {
				id, m, ok := r.Pop()
				if !ok {
					return
				}
				if id <= lastID {
					t.Fatalf("message %d after %d", id, lastID)
				}
				lastID = id
				want, ok := byFirst[id]
				if !ok || !bytes.Equal(m.Payload, want.Payload) || m.Timestamp != want.Timestamp {
					t.Fatalf("message at %d is not the one sent", id)
				}
				delivered++
			}
		}
		// Each order byte picks a fragment (high bit: drop instead).
		for _, o := range order {
			i := int(o&0x7F) % len(frags)
			if o&0x80 == 0 {
				r.Add(frags[i])
			}
			pop()
		}
		for _, f := range frags {
			r.Add(f)
			pop()
		}
		r.GiveUp(frags[len(frags)-1].ID + 1)
		pop()
		if n, b := r.Buffered(); n != 0 || b != 0 {
			t.Fatalf("%d fragments, %d bytes left", n, b)
		}
		if delivered > len(msgs) {
			t.Fatalf("%d messages from %d", delivered, len(msgs))
		}
	})
}
