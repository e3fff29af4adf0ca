package multicast

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
)

// stream cuts messages of the given sizes into fragments (MaxPayload 4).
func stream(t *testing.T, sizes ...int) ([]media.Message, []Fragment) {
	t.Helper()
	f := &Fragmenter{MaxPayload: 4}
	var msgs []media.Message
	var frags []Fragment
	for i, n := range sizes {
		m := media.Message{Type: media.TypeAudio, Timestamp: uint32(i), Payload: bytes.Repeat([]byte{byte(i)}, n)}
		msgs = append(msgs, m)
		var err error
		if frags, err = f.Fragment(frags, m); err != nil {
			t.Fatal(err)
		}
	}
	return msgs, frags
}

type lossLog []string

func (l *lossLog) hook(first, last uint64) { *l = append(*l, fmt.Sprintf("%d-%d", first, last)) }

func popAll(r *Reassembler) (ids []uint64, msgs []media.Message) {
	for {
		id, m, ok := r.Pop()
		if !ok {
			return
		}
		ids = append(ids, id)
		msgs = append(msgs, m)
	}
}

func sameMessages(a, b []media.Message) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Timestamp != b[i].Timestamp || !bytes.Equal(a[i].Payload, b[i].Payload) {
			return false
		}
	}
	return true
}

func TestReassemblerShuffledWithDuplicates(t *testing.T) {
	msgs, frags := stream(t, 3, 9, 1, 4, 17, 2)
	rnd := rand.New(rand.NewPCG(1, 1))
	in := append(append([]Fragment{}, frags...), frags[3], frags[0], frags[7])
	rnd.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
	var losses lossLog
	r := NewReassembler(ReassemblerConfig{OnLoss: losses.hook})
	// Start from the first fragment (as a subscriber that pulled it).
	r.Add(frags[0])
	var got []media.Message
	for _, f := range in {
		r.Add(f)
		_, ms := popAll(r)
		got = append(got, ms...)
	}
	if !sameMessages(got, msgs) || len(losses) != 0 {
		t.Errorf("got %d messages, losses %v", len(got), losses)
	}
	if n, b := r.Buffered(); n != 0 || b != 0 {
		t.Errorf("left %d fragments, %d bytes", n, b)
	}
	if r.Add(frags[2]) {
		t.Error("old fragment accepted")
	}
}

func TestReassemblerGapsAndGiveUp(t *testing.T) {
	msgs, frags := stream(t, 2, 9, 2, 2) // ids 1 | 2 3 4 | 5 | 6
	var losses lossLog
	r := NewReassembler(ReassemblerConfig{OnLoss: losses.hook})
	for _, f := range frags {
		if f.ID != 3 {
			r.Add(f)
		}
	}
	ids, got := popAll(r)
	if len(got) != 1 || ids[0] != 1 || r.Next() != 2 {
		t.Fatalf("before give-up: %v next %d", ids, r.Next())
	}
	if !r.Has(1) || !r.Has(4) || r.Has(3) {
		t.Error("Has")
	}
	r.GiveUp(5) // the fetch period for fragment 3 has passed
	ids, got = popAll(r)
	if !sameMessages(got, msgs[2:]) || fmt.Sprint(ids) != "[5 6]" || fmt.Sprint(losses) != "[2-4]" {
		t.Errorf("after give-up: ids %v losses %v", ids, losses)
	}
	if n, _ := r.Buffered(); n != 0 {
		t.Errorf("%d fragments left", n)
	}
}

func TestReassemblerJoinMidMessage(t *testing.T) {
	msgs, frags := stream(t, 9, 2) // ids 1 2 3 | 4
	var losses lossLog
	r := NewReassembler(ReassemblerConfig{OnLoss: losses.hook})
	r.Add(frags[1])
	r.Add(frags[2])
	r.Add(frags[3])
	_, got := popAll(r)
	if !sameMessages(got, msgs[1:]) || fmt.Sprint(losses) != "[2-2 3-3]" {
		t.Errorf("got %d, losses %v", len(got), losses)
	}
}

func TestReassemblerBrokenChains(t *testing.T) {
	var losses lossLog
	r := NewReassembler(ReassemblerConfig{OnLoss: losses.hook})
	add := func(fs ...Fragment) {
		for _, f := range fs {
			r.Add(f)
		}
	}
	add(Fragment{Marker: TypeFragmentFirst, ID: 1, Count: 2, MediaType: 9, Payload: []byte("a")},
		Fragment{Marker: TypeFragmentLast, ID: 2, Payload: []byte("b")}, // ends one early
		Fragment{Marker: TypeFragmentWhole, ID: 3, MediaType: 8, Payload: []byte("c")},
		Fragment{Marker: TypeFragmentFirst, ID: 4, NoCount: true, MediaType: 9, Payload: []byte("d")},
		Fragment{Marker: TypeFragmentNext, ID: 5, Count: 7, Payload: []byte("e")},
		Fragment{Marker: TypeFragmentLast, ID: 6, Payload: []byte("f")},
		Fragment{Marker: TypeFragmentFirst, ID: 7, Count: 0, MediaType: 9, Payload: []byte("g")},
		Fragment{Marker: TypeFragmentWhole, ID: 8, MediaType: 8, Payload: []byte("h")})
	ids, got := popAll(r)
	var payloads []string
	for _, m := range got {
		payloads = append(payloads, string(m.Payload))
	}
	if fmt.Sprint(ids) != "[3 4 8]" || fmt.Sprint(payloads) != "[c def h]" || fmt.Sprint(losses) != "[1-1 2-2 7-7]" {
		t.Errorf("ids %v payloads %v losses %v", ids, payloads, losses)
	}
	if n, b := r.Buffered(); n != 0 || b != 0 {
		t.Errorf("left %d fragments, %d bytes", n, b)
	}
}

func TestReassemblerBounds(t *testing.T) {
	_, frags := stream(t, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2) // ids 1..10
	var losses lossLog
	r := NewReassembler(ReassemblerConfig{MaxFragments: 4, OnLoss: losses.hook})
	r.Add(frags[0])
	r.Add(frags[9]) // forces the window to [7, 11)
	if r.Next() != 7 || fmt.Sprint(losses) != "[1-6]" {
		t.Errorf("window: next %d losses %v", r.Next(), losses)
	}
	losses = nil
	r = NewReassembler(ReassemblerConfig{MaxBytes: 5, OnLoss: losses.hook})
	for _, f := range frags[1:5] { // ids 2..5, 2 bytes each
		r.Add(f)
	}
	if _, b := r.Buffered(); b > 5 {
		t.Errorf("%d bytes buffered", b)
	}
	ids, _ := popAll(r)
	if fmt.Sprint(ids) != "[4 5]" || fmt.Sprint(losses) != "[2-2 3-3]" {
		t.Errorf("bytes bound: ids %v losses %v", ids, losses)
	}
}
