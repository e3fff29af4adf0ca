package flash

import (
	"errors"
	"io"
	"math/big"
)

// The MODP groups of RFC 2409 §6.2 (group 2) and RFC 3526 §2, §3 and §5
// (groups 5, 14 and 16). Every one has generator 2 and a safe prime modulus.
// RFC 7425 §4.2 makes group 2 mandatory; the 77-byte responder certificate
// that Flash and librtmfp expect advertises groups 2, 5 and 14, so those must
// really be computed. Group 16 is computed when an initiator selects it but is
// never advertised.
const (
	group2  = 2
	group5  = 5
	group14 = 14
	group16 = 16
)

// dhGroup is one MODP group.
type dhGroup struct {
	id int
	p  *big.Int
	// pMinus1 is p−1, the exclusive upper bound of a valid public key.
	pMinus1 *big.Int
	// size is the modulus length in bytes.
	size int
	// shortBits is the default private exponent length: twice the
	// group's symmetric strength after RFC 3526 §8, taking the table's
	// larger (conservative) strength estimates: 160 bits for the 1024-bit
	// group 2 (whose 80-bit strength is what a Pollard-lambda search of a
	// 160-bit exponent costs), 240 for group 5, 320 for 14, 480 for 16.
	shortBits int
	combState // fixed-base powers of 2 for key generation
}

var (
	bigOne = big.NewInt(1)
	bigTwo = big.NewInt(2)
)

func newGroup(id, shortBits int, hex string) *dhGroup {
	p, ok := new(big.Int).SetString(hex, 16)
	if !ok {
		panic("flash: bad MODP prime") // constant data, checked by tests
	}
	return &dhGroup{
		id:        id,
		p:         p,
		pMinus1:   new(big.Int).Sub(p, bigOne),
		size:      (p.BitLen() + 7) / 8,
		shortBits: shortBits,
	}
}

// groups holds every group this package computes, by ID.
var groups = map[int]*dhGroup{
	group2: newGroup(group2, 160,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"),
	group5: newGroup(group5, 240,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"),
	group14: newGroup(group14, 320,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"+
			"3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"),
	group16: newGroup(group16, 480,
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
			"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
			"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
			"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"+
			"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"+
			"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"+
			"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"+
			"3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"+
			"A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"+
			"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"+
			"D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"+
			"08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"+
			"88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8"+
			"DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"+
			"233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"+
			"93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF"),
}

// groupStrength orders the groups from strongest to weakest; an initiator
// picks the first one both ends support.
var groupStrength = []int{group16, group14, group5, group2}

// errDHKey is returned for a peer public key outside 1 < y < p−1.
var errDHKey = errors.New("flash: invalid Diffie-Hellman public key")

// errDHGroup is returned for a group this package does not compute.
var errDHGroup = errors.New("flash: unsupported Diffie-Hellman group")

// lookupGroup returns the group with the given ID.
func lookupGroup(id uint64) (*dhGroup, error) {
	if id > 255 {
		return nil, errDHGroup
	}
	g, ok := groups[int(id)]
	if !ok {
		return nil, errDHGroup
	}
	return g, nil
}

// dhKey is a Diffie-Hellman key pair in one group.
type dhKey struct {
	g   *dhGroup
	x   *big.Int
	pub []byte // unpadded big-endian g^x mod p, always g.size bytes long
}

// exponentBits returns the private exponent length to use for g given the
// configured length (0 = the group default). Lengths at or above the
// modulus length select a full-length exponent.
func (g *dhGroup) exponentBits(configured int) int {
	if configured <= 0 {
		return g.shortBits
	}
	if configured >= g.p.BitLen() {
		return g.p.BitLen()
	}
	return configured
}

// generateKey makes a key pair whose private exponent has the given number
// of bits (see exponentBits). A short exponent has its top bit set, as RFC
// 3526 §8 sizes them; a full-length one is uniform in [2, p−2]. Keys whose
// public value would be shorter than the modulus are drawn again, so that a
// public key always has the full length (a group-2 static certificate is
// then always the 132 bytes Flash sends).
func (g *dhGroup) generateKey(rand io.Reader, bits int) (*dhKey, error) {
	bits = g.exponentBits(bits)
	buf := make([]byte, (bits+7)/8)
	for range 64 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, err
		}
		x := new(big.Int)
		if bits >= g.p.BitLen() {
			x.SetBytes(buf)
			x.Mod(x, g.pMinus1)
			if x.Cmp(bigTwo) < 0 {
				continue
			}
		} else {
			if extra := len(buf)*8 - bits; extra > 0 {
				buf[0] &= 0xff >> extra
			}
			x.SetBytes(buf)
			x.SetBit(x, bits-1, 1)
		}
		k, err := g.keyFromPrivate(x)
		if err != nil {
			return nil, err
		}
		if len(k.pub) == g.size {
			return k, nil
		}
	}
	return nil, errors.New("flash: could not generate a Diffie-Hellman key")
}

// keyFromPrivate completes a key pair from its private exponent.
func (g *dhGroup) keyFromPrivate(x *big.Int) (*dhKey, error) {
	if x.Sign() <= 0 || x.Cmp(g.pMinus1) >= 0 {
		return nil, errors.New("flash: Diffie-Hellman private key out of range")
	}
	y := g.fixedBase().exp(x, g.p)
	if y == nil { // a full-length exponent
		y = new(big.Int).Exp(bigTwo, x, g.p)
	}
	return &dhKey{g: g, x: x, pub: y.Bytes()}, nil
}

// parsePublic checks a peer public key: 1 < y < p−1. The values outside
// that range (0, 1, p−1 and anything ≥ p) give a secret an attacker knows.
func (g *dhGroup) parsePublic(b []byte) (*big.Int, error) {
	if len(b) == 0 || len(b) > g.size {
		return nil, errDHKey
	}
	y := new(big.Int).SetBytes(b)
	if y.Cmp(bigOne) <= 0 || y.Cmp(g.pMinus1) >= 0 {
		return nil, errDHKey
	}
	return y, nil
}

// sharedSecret returns far^x mod p, unpadded big-endian: the session key
// derivation of RFC 7425 §4.6 uses the secret as an HMAC key exactly as
// OpenSSL's DH_compute_key leaves it, without leading zero bytes.
func (k *dhKey) sharedSecret(farPublic []byte) ([]byte, error) {
	y, err := k.g.parsePublic(farPublic)
	if err != nil {
		return nil, err
	}
	return y.Exp(y, k.x, k.g.p).Bytes(), nil
}
