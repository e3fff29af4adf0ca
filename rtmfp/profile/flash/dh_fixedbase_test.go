package flash

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// TestFixedBase: the table gives 2^x mod p exactly as big.Int.Exp for
// exponents of every length it covers, digits of zero and all ones
// included, in every group; longer exponents are left to Exp.
func TestFixedBase(t *testing.T) {
	for id, g := range groups {
		tab := g.fixedBase()
		if tab == nil {
			if id == group2 || id == group5 {
				t.Fatalf("group %d has no table", id)
			}
			continue
		}
		if tab.bits < g.shortBits {
			t.Fatalf("group %d: table covers %d bits, default exponents have %d", id, tab.bits, g.shortBits)
		}
		xs := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(15), big.NewInt(16), big.NewInt(0x10001)}
		allOnes := new(big.Int).Sub(new(big.Int).Lsh(bigOne, uint(tab.bits)), bigOne)
		xs = append(xs, allOnes, new(big.Int).Lsh(bigOne, uint(tab.bits-1)))
		for bits := 1; bits <= tab.bits; bits += 7 {
			x, err := rand.Int(rand.Reader, new(big.Int).Lsh(bigOne, uint(bits)))
			if err != nil {
				t.Fatal(err)
			}
			xs = append(xs, x)
		}
		for _, x := range xs {
			want := new(big.Int).Exp(bigTwo, x, g.p)
			if got := tab.exp(x, g.p); got == nil || got.Cmp(want) != 0 {
				t.Fatalf("group %d: 2^%x: got %v", id, x, got)
			}
		}
		if tab.exp(new(big.Int).Lsh(bigOne, uint(tab.bits)), g.p) != nil {
			t.Fatalf("group %d: an exponent beyond the table was computed", id)
		}
		// Key generation agrees with the generic path.
		k, err := g.generateKey(rand.Reader, 0)
		if err != nil {
			t.Fatal(err)
		}
		if new(big.Int).Exp(bigTwo, k.x, g.p).Cmp(new(big.Int).SetBytes(k.pub)) != 0 {
			t.Fatalf("group %d: generated public key is not 2^x", id)
		}
	}
}

func BenchmarkFixedBase(b *testing.B) {
	g := groups[group2]
	tab := g.fixedBase()
	x, _ := rand.Int(rand.Reader, new(big.Int).Lsh(bigOne, uint(g.shortBits)))
	x.SetBit(x, g.shortBits-1, 1)
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tab.exp(x, g.p)
		}
	})
	b.Run("big.Int.Exp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			new(big.Int).Exp(bigTwo, x, g.p)
		}
	})
}
