package cookie

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestMintVerify(t *testing.T) {
	j := New()
	now := time.Unix(1_800_000_000, 0)
	addr := netip.MustParseAddrPort("127.0.0.1:5000")
	tag := []byte("0123456789abcdef")
	c := j.Mint(nil, now, addr, tag, 1)
	if len(c) != Size {
		t.Fatalf("cookie is %d bytes", len(c))
	}
	// The same IHello a moment later gets the same cookie.
	if c2 := j.Mint(nil, now.Add(time.Second/2), addr, tag, 1); !bytes.Equal(c, c2) {
		t.Fatal("repeated IHello got a different cookie")
	}
	if c3 := j.Mint(nil, now, addr, []byte("another tag....."), 1); bytes.Equal(c, c3) {
		t.Fatal("another tag got the same cookie")
	}
	info, err := j.Verify(c, now.Add(90*time.Second))
	if err != nil || info.Kind != 1 || info.Addr != addr {
		t.Fatalf("verify: %+v %v", info, err)
	}
	if _, err := j.Verify(c, now.Add(Lifetime+2*Granularity)); !errors.Is(err, ErrExpired) {
		t.Fatalf("old cookie: %v", err)
	}
	bad := bytes.Clone(c)
	bad[10] ^= 1
	if _, err := j.Verify(bad, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("tampered cookie: %v", err)
	}
	if _, err := New().Verify(c, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("foreign cookie: %v", err)
	}
	if _, err := j.Verify(c[:63], now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short cookie: %v", err)
	}
	v6 := netip.MustParseAddrPort("[::1]:7")
	info, err = j.Verify(j.Mint(nil, now, v6, tag, 0), now)
	if err != nil || info.Addr != v6 || info.Kind != 0 {
		t.Fatalf("v6: %+v %v", info, err)
	}
}

func BenchmarkMintVerify(b *testing.B) {
	j := New()
	now := time.Unix(1_800_000_000, 0)
	addr := netip.MustParseAddrPort("127.0.0.1:5000")
	tag := []byte("0123456789abcdef")
	buf := make([]byte, 0, Size)
	b.ReportAllocs()
	for b.Loop() {
		c := j.Mint(buf[:0], now, addr, tag, 0)
		if _, err := j.Verify(c, now); err != nil {
			b.Fatal(err)
		}
	}
}
