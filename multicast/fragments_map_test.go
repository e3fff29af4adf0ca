package multicast

import (
	"bytes"
	"slices"
	"testing"
)

func TestFragmentsMapHas(t *testing.T) {
	// 22 0a 05 01: last 10; byte 0 = 0b101 → 9 and 7; byte 1 = 0b1 → 10−1−8 = 1.
	m, err := ParseFragmentsMap(unhex(t, "22 0a 05 01"))
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	m.Iterate(func(id uint64) bool { got = append(got, id); return true })
	if want := []uint64{10, 9, 7, 1}; !slices.Equal(got, want) {
		t.Errorf("iterate %v, want %v", got, want)
	}
	for id, want := range map[uint64]bool{0: false, 1: true, 2: false, 7: true, 8: false, 9: true, 10: true, 11: false} {
		if m.Has(id) != want {
			t.Errorf("Has(%d) = %v", id, !want)
		}
	}
	if m.Count() != 4 || m.Oldest() != 1 {
		t.Errorf("count %d oldest %d", m.Count(), m.Oldest())
	}
	// Stopping early.
	n := 0
	m.Iterate(func(uint64) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("iterate did not stop: %d", n)
	}
}

func TestFragmentsMapBuild(t *testing.T) {
	for _, c := range []struct {
		first, last uint64
		want        string
	}{
		{4, 4, "22 04"},
		{1, 4, "22 04 07"},
		{1, 9, "22 09 ff"},
		{1, 10, "22 0a ff 01"},
		{100, 117, "22 75 ff ff 01"},
	} {
		m, err := FullFragmentsMap(c.first, c.last)
		if err != nil || !bytes.Equal(m.Append(nil), unhex(t, c.want)) {
			t.Errorf("FullFragmentsMap(%d, %d) = %x, %v", c.first, c.last, m.Append(nil), err)
		}
		// The same bytes come out of Set.
		s := NewFragmentsMap(c.last)
		for id := c.first; id < c.last; id++ {
			if err := s.Set(id); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(s.Append(nil), m.Append(nil)) {
			t.Errorf("Set: %x", s.Append(nil))
		}
		if m.Count() != int(c.last-c.first+1) {
			t.Errorf("count %d", m.Count())
		}
	}
	s := NewFragmentsMap(1 << 60)
	if s.Set(0) == nil || s.Set(1<<60+1) == nil || s.Set(1) != ErrMapTooLarge || s.Set(1<<60) != nil {
		t.Error("Set bounds")
	}
	if _, err := FullFragmentsMap(1, 1<<60); err != ErrMapTooLarge {
		t.Error("FullFragmentsMap bound")
	}
	dec, _ := ParseFragmentsMap(unhex(t, "22 04 07"))
	c := dec.Clone()
	c.Set(3)
	c.Bitmap[0] = 0
	if dec.Bitmap[0] != 7 {
		t.Error("Clone shares the bitmap")
	}
}

func TestFragmentsMapHugeDoesNotAllocate(t *testing.T) {
	// A map declaring 2^60 fragments with a short bitmap.
	b := (FragmentsMap{Last: 1 << 60, Bitmap: []byte{0xff, 0x01}}).Append(nil)
	allocs := testing.AllocsPerRun(100, func() {
		m, err := ParseFragmentsMap(b)
		if err != nil || !m.Has(1<<60-1) || m.Has(1) || m.Count() != 10 {
			t.Fatal("bad map")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}
