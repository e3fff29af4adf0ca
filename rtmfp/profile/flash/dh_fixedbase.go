package flash

import (
	"math/big"
	"math/bits"
	"sync"
)

// Fixed-base exponentiation for key generation.
//
// Every key pair is 2^x mod p with the same base, so the powers of the base
// can be computed once: with table[i][d] = 2^(d·256^i) mod p, g^x is the
// product of table[i][x_i] over the 8-bit digits x_i of x — one modular
// multiplication per nonzero digit and no squarings. For the default 160-bit
// exponent of group 2 that is at most 20 multiplications instead of about
// 200 Montgomery steps in big.Int.Exp: the responder's fresh ephemeral key
// per handshake costs a sixth of what it did (4-bit digits, 40
// multiplications, took a third in a table a sixteenth the size). Like
// big.Int.Exp it is not constant-time. Tables are built on first use for
// the groups Flash clients use (2 and 5: about 1.4 and 1.9 MB) and cover
// exponents of up to combMaxBits; longer exponents and larger groups use
// big.Int.Exp.

// combDigitBits is the digit width; combDigits the values a digit takes.
const (
	combDigitBits = 8
	combDigits    = 1 << combDigitBits
)

// combTable holds the powers of 2 for exponents of up to bits bits.
type combTable struct {
	bits int
	// pow[i][d-1] = 2^(d·256^i) mod p for d in 1..255.
	pow [][combDigits - 1]*big.Int
}

// combMaxBits is the longest exponent the tables cover; combMaxModulus the
// largest modulus (bytes) that gets one.
const (
	combMaxBits    = 256
	combMaxModulus = 192
)

// fixedBase returns g's table, built on first use, or nil for a group
// without one.
func (g *dhGroup) fixedBase() *combTable {
	if g.size > combMaxModulus {
		return nil
	}
	g.combOnce.Do(func() { g.comb = newCombTable(g.p, max(g.shortBits, combMaxBits)) })
	return g.comb
}

func newCombTable(p *big.Int, bits int) *combTable {
	windows := (bits + combDigitBits - 1) / combDigitBits
	t := &combTable{bits: windows * combDigitBits, pow: make([][combDigits - 1]*big.Int, windows)}
	base := big.NewInt(2)
	q := new(big.Int)
	for i := range t.pow {
		t.pow[i][0] = base
		for d := 1; d < combDigits-1; d++ {
			v := new(big.Int).Mul(t.pow[i][d-1], base)
			q.QuoRem(v, p, v)
			t.pow[i][d] = v
		}
		next := new(big.Int).Mul(t.pow[i][combDigits-2], base) // base^256
		q.QuoRem(next, p, next)
		base = next
	}
	return t
}

// exp returns 2^x mod p, or nil when x is longer than the table covers (or
// t is nil).
func (t *combTable) exp(x, p *big.Int) *big.Int {
	if t == nil || x.Sign() < 0 || x.BitLen() > t.bits {
		return nil
	}
	words := x.Bits()
	size := len(p.Bits())
	acc := new(big.Int).SetBits(make([]big.Word, 0, size+1))
	prod := new(big.Int).SetBits(make([]big.Word, 0, 2*size+1))
	q := new(big.Int).SetBits(make([]big.Word, 0, size+2))
	started := false
	for i := range t.pow {
		bit := i * combDigitBits
		w := bit / bits.UintSize
		if w >= len(words) {
			break
		}
		d := uint(words[w]>>(uint(bit)%bits.UintSize)) & (combDigits - 1) // digits never straddle words
		if d == 0 {
			continue
		}
		if !started {
			acc.Set(t.pow[i][d-1])
			started = true
			continue
		}
		prod.Mul(acc, t.pow[i][d-1])
		q.QuoRem(prod, p, acc)
	}
	if !started {
		return big.NewInt(1)
	}
	return acc
}

// combState is embedded in dhGroup.
type combState struct {
	combOnce sync.Once
	comb     *combTable
}
