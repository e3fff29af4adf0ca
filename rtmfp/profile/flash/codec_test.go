package flash

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
)

var testKey = []byte("0123456789abcdef")

// codecModes are the integrity forms, each as a sending and a receiving
// codec with the same keys.
func codecPair(t testing.TB, in Integrity) (send, recv *Codec) {
	t.Helper()
	send, err := NewCodec(testKey, in)
	if err != nil {
		t.Fatal(err)
	}
	recv, err = NewCodec(testKey, in)
	if err != nil {
		t.Fatal(err)
	}
	return send, recv
}

var integrityModes = []struct {
	name string
	in   Integrity
}{
	{"checksum", Integrity{}},
	{"checksum+seq", Integrity{Sequence: true}},
	{"hmac10", Integrity{HMACKey: []byte("k"), HMACLength: 10}},
	{"hmac16+seq", Integrity{HMACKey: []byte("key"), HMACLength: 16, Sequence: true}},
	{"hmac32+seq", Integrity{HMACKey: []byte("key"), HMACLength: 32, Sequence: true}},
}

func TestChecksumKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		want uint16
	}{
		{nil, 0xffff},
		{[]byte{0x01}, 0xfffe}, // an odd final byte counts as low-order
		{[]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0x220d}, // RFC 1071 §3 example
		{bytes.Repeat([]byte{0xff}, 14), 0x0000},
		{[]byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}, 0xb861},
	} {
		if got := checksum(c.in); got != c.want {
			t.Errorf("checksum(%x) = %04x, want %04x", c.in, got, c.want)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, m := range integrityModes {
		t.Run(m.name, func(t *testing.T) {
			s, r := codecPair(t, m.in)
			roundTrip(t, s, r)
		})
	}
}

// TestCodecSealInPlace builds the body where Seal will put it.
func TestCodecSealInPlace(t *testing.T) {
	s, r := codecPair(t, Integrity{})
	buf := make([]byte, 2, 64)
	buf = append(buf, "\x0b\x00\x01hello"...)
	body := buf[2:]
	want := s.Seal(nil, body)
	got := s.Seal(buf[:0], buf[2:])
	if !bytes.Equal(got, want) {
		t.Fatalf("in-place Seal %x, want %x", got, want)
	}
	if b, err := r.Open(got); err != nil || !bytes.HasPrefix(b, []byte("\x0b\x00\x01hello")) {
		t.Fatalf("Open: %x %v", b, err)
	}
}

// TestCodecRejectsTampering flips every bit of a packet in turn: each
// flip must fail, and leave the packet as it was.
func TestCodecRejectsTampering(t *testing.T) {
	for _, m := range integrityModes {
		t.Run(m.name, func(t *testing.T) {
			s, r := codecPair(t, m.in)
			pkt := s.Seal(nil, []byte("\x89\x12\x34\x10\x00\x05abcdefghijklmnopqrstuvwxyz"))
			for i := range len(pkt) * 8 {
				bad := bytes.Clone(pkt)
				bad[i/8] ^= 1 << (i % 8)
				before := bytes.Clone(bad)
				if _, err := r.Open(bad); !errors.Is(err, profile.ErrIntegrity) {
					t.Fatalf("bit %d flipped: %v", i, err)
				}
				if !bytes.Equal(bad, before) {
					t.Fatalf("bit %d flipped: packet modified by a failed Open", i)
				}
			}
			for _, n := range []int{0, 1, 8, 15, len(pkt) - 1, len(pkt) + 1} {
				if n > len(pkt) {
					continue
				}
				if _, err := r.Open(bytes.Clone(pkt[:n])); !errors.Is(err, profile.ErrIntegrity) {
					t.Fatalf("%d-byte prefix: %v", n, err)
				}
			}
			if _, err := r.Open(pkt); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCodecWrongKey(t *testing.T) {
	s, _ := codecPair(t, Integrity{})
	other, _ := NewCodec([]byte(DefaultKey), Integrity{})
	pkt := s.Seal(nil, []byte("\x0b\x00\x00\x30\x00\x02\x01\x02"))
	if _, err := other.Open(pkt); !errors.Is(err, profile.ErrIntegrity) {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestCodecReplay(t *testing.T) {
	for _, m := range integrityModes {
		if !m.in.Sequence {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			s, r := codecPair(t, m.in)
			var pkts [][]byte
			for i := range replayWindowSize + 10 {
				pkts = append(pkts, s.Seal(nil, []byte{0x89, byte(i)}))
			}
			open := func(i int) error {
				_, err := r.Open(bytes.Clone(pkts[i]))
				return err
			}
			// Out of order inside the window: accepted once each.
			for _, i := range []int{5, 3, 4, 0, 1, 2} {
				if err := open(i); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
			}
			for _, i := range []int{0, 3, 5} {
				if err := open(i); !errors.Is(err, profile.ErrReplay) {
					t.Fatalf("packet %d again: %v", i, err)
				}
			}
			// Jump ahead: 6 falls out of the window, 10 stays inside.
			if err := open(replayWindowSize + 7); err != nil {
				t.Fatal(err)
			}
			if err := open(6); !errors.Is(err, profile.ErrReplay) {
				t.Fatalf("packet 6, beyond the window: %v", err)
			}
			if err := open(10); err != nil {
				t.Fatalf("packet 10, inside the window: %v", err)
			}
			if err := open(replayWindowSize + 7); !errors.Is(err, profile.ErrReplay) {
				t.Fatal("newest packet replayed")
			}
			// A replayed packet is left intact.
			p := bytes.Clone(pkts[10])
			if _, err := r.Open(p); !errors.Is(err, profile.ErrReplay) || !bytes.Equal(p, pkts[10]) {
				t.Fatalf("replay: %v, packet changed %v", err, !bytes.Equal(p, pkts[10]))
			}
		})
	}
}

func TestReplayWindowFarJump(t *testing.T) {
	var w replayWindow
	for _, n := range []uint64{1000, 1, 5000, 4999, 5000 - replayWindowSize + 1} {
		if !w.fresh(n) && n != 1 {
			t.Fatalf("%d refused", n)
		}
		if n == 1 {
			if w.fresh(n) {
				t.Fatal("1 accepted after 1000")
			}
			continue
		}
		w.add(n)
	}
	for _, n := range []uint64{1000, 4999, 5000, 5000 - replayWindowSize} {
		if w.fresh(n) {
			t.Fatalf("%d accepted again", n)
		}
	}
	if !w.fresh(4998) || !w.fresh(5001) {
		t.Fatal("fresh numbers refused")
	}
}

// TestCodecOverhead checks Overhead against the largest actual growth.
func TestCodecOverhead(t *testing.T) {
	for _, m := range integrityModes {
		s, _ := codecPair(t, m.in)
		worst := 0
		for n := range 64 {
			worst = max(worst, len(s.Seal(nil, make([]byte, n)))-n)
		}
		if worst > s.Overhead() {
			t.Errorf("%s: Seal added %d bytes, Overhead %d", m.name, worst, s.Overhead())
		}
	}
}

// TestStartupCodecConcurrent uses the stateless startup codec from several
// goroutines (run with -race).
func TestStartupCodecConcurrent(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := p.StartupCodec()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				body := []byte{0x0b, byte(g), byte(i), 0x30, 0x00, 0x01, byte(g + i)}
				got, err := c.Open(c.Seal(nil, body))
				if err != nil || !bytes.HasPrefix(got, body) {
					errs <- errors.New("startup codec round trip failed")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestCodecNoAllocs checks that Seal (into a buffer with room) and Open
// allocate nothing.
func TestCodecNoAllocs(t *testing.T) {
	for _, m := range integrityModes {
		s, r := codecPair(t, m.in)
		body := make([]byte, 1200)
		buf := make([]byte, 0, 1300)
		pkt := make([]byte, 0, 1300)
		allocs := testing.AllocsPerRun(50, func() {
			pkt = s.Seal(buf[:0], body)
			if _, err := r.Open(pkt); err != nil {
				panic(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Seal+Open", m.name, allocs)
		}
	}
}

func TestNewCodecErrors(t *testing.T) {
	for _, c := range []struct {
		key []byte
		in  Integrity
	}{
		{[]byte("short"), Integrity{}},
		{testKey, Integrity{HMACLength: 3}},
		{testKey, Integrity{HMACLength: 33}},
	} {
		if _, err := NewCodec(c.key, c.in); err == nil {
			t.Errorf("NewCodec(%q, %+v) accepted", c.key, c.in)
		}
	}
}
