package flash

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

// BenchmarkSealOpen1200 seals and opens a 1200-byte body (a full packet).
func BenchmarkSealOpen1200(b *testing.B) {
	for _, m := range integrityModes {
		if m.name == "hmac10" || m.name == "hmac32+seq" {
			continue
		}
		b.Run(m.name, func(b *testing.B) {
			s, r := codecPair(b, m.in)
			body := make([]byte, 1200)
			buf := make([]byte, 0, 1300)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				pkt := s.Seal(buf[:0], body)
				if _, err := r.Open(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCBC compares the in-place CBC over the block cipher used by Codec
// with the standard library's CBC BlockMode reset to a zero IV per packet
// (which, holding an IV, could not be shared by concurrent users).
func BenchmarkCBC(b *testing.B) {
	block, _ := aes.NewCipher(testKey)
	p := make([]byte, 1216)
	b.Run("in-place", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			cbcEncrypt(block, p)
			cbcDecrypt(block, p)
		}
	})
	b.Run("BlockMode+SetIV", func(b *testing.B) {
		var iv [16]byte
		enc := cipher.NewCBCEncrypter(block, iv[:])
		dec := cipher.NewCBCDecrypter(block, iv[:])
		type ivSetter interface{ SetIV([]byte) }
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			enc.(ivSetter).SetIV(iv[:])
			enc.CryptBlocks(p, p)
			dec.(ivSetter).SetIV(iv[:])
			dec.CryptBlocks(p, p)
		}
	})
}

// BenchmarkDHGroup2 is one key generation plus one shared secret in group 2:
// the DH work of either side of a handshake.
func BenchmarkDHGroup2(b *testing.B) {
	g := groups[group2]
	peer, _ := g.generateKey(rand.Reader, 0)
	for _, c := range []struct {
		name string
		bits int
	}{{"full-1024", 1024}, {"short-160", 0}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := g.generateKey(rand.Reader, c.bits)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := k.sharedSecret(peer.pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRespond is the server's whole crypto work for one handshake:
// parsing the initiator's certificate and component, a fresh ephemeral key,
// the shared secret, key derivation and the two codecs.
func BenchmarkRespond(b *testing.B) {
	cli := newProfile(b, Config{})
	for _, c := range []struct {
		name string
		cfg  Config
		p2p  bool
	}{
		{"flash-group2-short", Config{}, false},
		{"flash-group2-full", Config{ExponentBits: 1024}, false},
		{"peer-static", Config{}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := newProfile(b, c.cfg)
			rc := srv.ServerCertificate()
			epd := URLEPD("live")
			if c.p2p {
				rc, epd = srv.StaticCertificate(), PeerEPD(srv.PeerID())
			}
			in, _ := cli.NewInitiator(epd)
			icert, skic, err := in.Keying(rc)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := srv.Respond(rc, icert, skic); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
