package recvbuf

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

type sink struct{ msgs []string }

func (s *sink) add(m []byte) { s.msgs = append(s.msgs, string(m)) }

func TestInOrderAndFragments(t *testing.T) {
	var s sink
	b := New(1<<20, 1<<20, s.add)
	b.Insert(1, 0, 0, []byte("whole"))
	b.Insert(2, 1, fragFirst, []byte("ab"))
	b.Insert(3, 2, fragMiddle, []byte("cd"))
	b.Insert(4, 3, fragLast, []byte("ef"))
	if fmt.Sprint(s.msgs) != "[whole abcdef]" || b.Cumulative() != 4 || b.Held() != 0 {
		t.Fatalf("msgs %q cum %d held %d", s.msgs, b.Cumulative(), b.Held())
	}
}

func TestReorderAndRanges(t *testing.T) {
	var s sink
	b := New(1<<20, 1<<20, s.add)
	b.Insert(1, 0, 0, []byte("1"))
	b.Insert(3, 0, 0, []byte("3"))
	b.Insert(4, 0, 0, []byte("4"))
	b.Insert(6, 0, 0, []byte("6"))
	if got := b.AppendRanges(nil); fmt.Sprint(got) != "[{3 4} {6 6}]" {
		t.Fatalf("ranges %v", got)
	}
	if b.Held() != 3 {
		t.Fatalf("held %d", b.Held())
	}
	if fresh, _ := b.Insert(3, 0, 0, []byte("3")); fresh {
		t.Fatal("duplicate reported fresh")
	}
	b.Insert(2, 0, 0, []byte("2"))
	if fmt.Sprint(s.msgs) != "[1 2 3 4]" || b.Cumulative() != 4 {
		t.Fatalf("msgs %v cum %d", s.msgs, b.Cumulative())
	}
	if got := b.AppendRanges(nil); fmt.Sprint(got) != "[{6 6}]" {
		t.Fatalf("ranges %v", got)
	}
}

func TestForwardSequenceNumberSkips(t *testing.T) {
	var s sink
	b := New(1<<20, 1<<20, s.add)
	b.Insert(1, 0, fragFirst, []byte("a"))
	// 2 (the rest of the message) is abandoned by the sender: 4 arrives
	// with FSN 3.
	b.Insert(4, 3, 0, []byte("next"))
	if fmt.Sprint(s.msgs) != "[next]" || b.Cumulative() != 4 || b.LostMessages() != 1 {
		t.Fatalf("msgs %v cum %d lost %d", s.msgs, b.Cumulative(), b.LostMessages())
	}
	// An abandon notice for an already received number is harmless.
	b.Insert(4, 4, flagAbn, nil)
	// An abandon notice moving FSN past a gap.
	b.Insert(9, 9, flagAbn, nil)
	if b.Cumulative() != 9 || len(s.msgs) != 1 {
		t.Fatalf("cum %d msgs %v", b.Cumulative(), s.msgs)
	}
}

func TestFinal(t *testing.T) {
	var s sink
	b := New(1<<20, 1<<20, s.add)
	b.Insert(2, 0, flagAbn|flagFin, nil)
	if b.Complete() {
		t.Fatal("complete with a gap")
	}
	b.Insert(1, 0, 0, []byte("x"))
	if !b.Complete() || fmt.Sprint(s.msgs) != "[x]" {
		t.Fatalf("complete %v msgs %v", b.Complete(), s.msgs)
	}
}

func TestLimits(t *testing.T) {
	var s sink
	b := New(10, 10, s.add)
	if _, err := b.Insert(1, 0, fragFirst, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Insert(2, 0, fragLast, make([]byte, 8)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err %v", err)
	}
	if _, err := b.Insert(3, 0, 0, make([]byte, 11)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err %v", err)
	}
	// Out-of-order data beyond the held limit is refused.
	if fresh, _ := b.Insert(b.Cumulative()+3, 0, 0, make([]byte, 11)); fresh {
		t.Fatal("accepted beyond the held limit")
	}
	// Too far ahead is refused.
	if fresh, _ := b.Insert(b.Cumulative()+MaxAhead+1, 0, 0, []byte("x")); fresh {
		t.Fatal("accepted beyond the window")
	}
	// FSN beyond seq is nonsense.
	if fresh, _ := b.Insert(100, 200, 0, nil); fresh {
		t.Fatal("accepted fsn > seq")
	}
}

// TestRandomOrder delivers a shuffled, duplicated stream and checks the
// messages come out whole and in order.
func TestRandomOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type frag struct {
		seq   uint64
		flags byte
		data  []byte
	}
	var frags []frag
	var want []string
	seq := uint64(0)
	for m := range 500 {
		msg := bytes.Repeat([]byte{byte(m)}, 1+r.IntN(50))
		want = append(want, string(msg))
		parts := 1 + r.IntN(4)
		step := (len(msg) + parts - 1) / parts
		for i := 0; i*step < len(msg); i++ {
			seq++
			lo, hi := i*step, min((i+1)*step, len(msg))
			var fl byte
			switch {
			case lo == 0 && hi == len(msg):
			case lo == 0:
				fl = fragFirst
			case hi == len(msg):
				fl = fragLast
			default:
				fl = fragMiddle
			}
			frags = append(frags, frag{seq, fl, msg[lo:hi]})
		}
	}
	order := r.Perm(len(frags))
	var s sink
	b := New(1<<20, 1<<20, s.add)
	for _, i := range order {
		f := frags[i]
		b.Insert(f.seq, 0, f.flags, f.data)
		if r.IntN(10) == 0 {
			b.Insert(f.seq, 0, f.flags, f.data)
		}
	}
	if len(s.msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(s.msgs), len(want))
	}
	for i := range want {
		if s.msgs[i] != want[i] {
			t.Fatalf("message %d differs", i)
		}
	}
	if b.Held() != 0 || b.Cumulative() != seq {
		t.Fatalf("held %d cum %d", b.Held(), b.Cumulative())
	}
}

func FuzzInsert(f *testing.F) {
	f.Add([]byte{1, 0, 0x10, 3, 0, 0x20, 2, 0, 0x30, 9, 4, 0x02})
	f.Fuzz(func(t *testing.T, ops []byte) {
		total := 0
		b := New(4096, 4096, func(m []byte) { total += len(m) })
		for i := 0; i+2 < len(ops); i += 3 {
			seq := uint64(ops[i])
			fsn := uint64(ops[i+1])
			b.Insert(seq, fsn, ops[i+2], ops[i:min(len(ops), i+3+int(ops[i]&7))])
			if b.Held() < 0 {
				t.Fatal("negative held")
			}
			b.AppendRanges(nil)
		}
	})
}

func BenchmarkInOrder(b *testing.B) {
	buf := New(1<<20, 1<<20, func([]byte) {})
	data := make([]byte, 1100)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		buf.Insert(seq, seq-1, fragMiddle, data)
	}
}
