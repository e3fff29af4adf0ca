package flash

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
)

// TestGroupsAreSafePrimes guards the prime constants against typos: each
// must be a safe prime of the right size with the RFC 2409/3526 shape (64
// one-bits at both ends).
func TestGroupsAreSafePrimes(t *testing.T) {
	sizes := map[int]int{group2: 1024, group5: 1536, group14: 2048, group16: 4096}
	for id, bits := range sizes {
		g := groups[id]
		if g == nil || g.id != id || g.p.BitLen() != bits || g.size != bits/8 {
			t.Fatalf("group %d: wrong size", id)
		}
		b := g.p.Bytes()
		if !bytes.Equal(b[:8], bytes.Repeat([]byte{0xff}, 8)) || !bytes.Equal(b[len(b)-8:], bytes.Repeat([]byte{0xff}, 8)) {
			t.Errorf("group %d: not of the MODP shape", id)
		}
		q := new(big.Int).Rsh(g.p, 1)
		if !g.p.ProbablyPrime(8) || !q.ProbablyPrime(8) {
			t.Errorf("group %d: not a safe prime", id)
		}
	}
	if len(groups) != len(sizes) {
		t.Errorf("%d groups", len(groups))
	}
}

func TestExponentLengths(t *testing.T) {
	for _, c := range []struct {
		group, configured, want int
	}{
		{group2, 0, 160}, {group5, 0, 240}, {group14, 0, 320}, {group16, 0, 480},
		{group2, 300, 300}, {group2, 1024, 1024}, {group2, 5000, 1024},
	} {
		g := groups[c.group]
		if got := g.exponentBits(c.configured); got != c.want {
			t.Errorf("group %d, configured %d: %d bits, want %d", c.group, c.configured, got, c.want)
		}
		k, err := g.generateKey(rand.Reader, c.configured)
		if err != nil {
			t.Fatal(err)
		}
		if k.x.BitLen() > c.want || (c.want < g.p.BitLen() && k.x.BitLen() != c.want) {
			t.Errorf("group %d: %d-bit exponent, want %d", c.group, k.x.BitLen(), c.want)
		}
		if len(k.pub) != g.size {
			t.Errorf("group %d: %d-byte public key", c.group, len(k.pub))
		}
	}
}

func TestDHAgreement(t *testing.T) {
	for _, id := range groupStrength {
		g := groups[id]
		a, err := g.generateKey(rand.Reader, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := g.generateKey(rand.Reader, 0)
		if err != nil {
			t.Fatal(err)
		}
		ka, err := a.sharedSecret(b.pub)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := b.sharedSecret(a.pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ka, kb) || len(ka) == 0 || ka[0] == 0 {
			t.Errorf("group %d: secrets differ or are padded", id)
		}
	}
}

func TestDHRejectsBadPublicKeys(t *testing.T) {
	g := groups[group2]
	k, err := g.generateKey(rand.Reader, 0)
	if err != nil {
		t.Fatal(err)
	}
	pm1 := new(big.Int).Sub(g.p, bigOne).Bytes()
	for _, bad := range [][]byte{nil, {0}, {1}, pm1, g.p.Bytes(), append([]byte{1}, g.p.Bytes()...), bytes.Repeat([]byte{0xff}, 128)} {
		if _, err := k.sharedSecret(bad); !errors.Is(err, errDHKey) {
			t.Errorf("public key %x… accepted", bad[:min(len(bad), 4)])
		}
	}
	if _, err := k.sharedSecret([]byte{2}); err != nil {
		t.Errorf("y = 2 refused: %v", err)
	}
}

func TestGenerateKeyShortRandom(t *testing.T) {
	if _, err := groups[group2].generateKey(bytes.NewReader(make([]byte, 10)), 0); err == nil {
		t.Fatal("key generated from 10 bytes")
	}
}
