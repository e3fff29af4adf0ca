package handshake

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

func readTestdata(t *testing.T, name string, size int) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size {
		t.Fatalf("%s: %d bytes, want %d", name, len(b), size)
	}
	return b
}

// TestRecordedFFmpegC1 validates the digest of a C1 that ffmpeg sent.
func TestRecordedFFmpegC1(t *testing.T) {
	c01 := readTestdata(t, "ffmpeg-c0c1.bin", 1+Size)
	c1 := c01[1:]
	if c01[0] != Version || [4]byte(c1[4:8]) != [4]byte{9, 0, 124, 2} {
		t.Fatalf("C0 %d, version %v", c01[0], c1[4:8])
	}
	d, s, ok := FindDigest(c1, ClientKey)
	if !ok || s != Scheme1 {
		t.Fatalf("ffmpeg's C1 digest not found (ok %v, %v)", ok, s)
	}
	if off := DigestOffset(c1, Scheme1); !bytes.Equal(c1[off:off+DigestSize], d) {
		t.Fatal("digest not at the computed offset")
	}
	if _, _, ok := FindDigest(c1, ServerKey); ok {
		t.Fatal("validated with the server key")
	}
	// Our server answers it with a digest S1 and the S2 derived from it.
	in := append(bytes.Clone(c01), make([]byte, Size)...)
	sc := &scripted{in: bytes.NewReader(in)}
	r, err := Server(sc, ServerOptions{})
	if err != nil || !r.Digest || r.Scheme != Scheme1 {
		t.Fatalf("%+v %v", r, err)
	}
	out := sc.out.Bytes()
	if !checkResponse(out[1+Size:], d, ServerFullKey) {
		t.Fatal("our S2 is not signed from ffmpeg's digest")
	}
}

// TestRecordedNginxReply validates what nginx-rtmp answered to our digest
// C1: the S1 digest with the server key, the S2 signature keyed from our
// digest; and our client accepts the exchange.
func TestRecordedNginxReply(t *testing.T) {
	c01 := readTestdata(t, "nginx-c0c1.bin", 1+Size)
	s012 := readTestdata(t, "nginx-s0s1s2.bin", 1+2*Size)
	ourDigest, s, ok := FindDigest(c01[1:], ClientKey)
	if !ok || s != Scheme1 {
		t.Fatal("recorded C1 has no digest")
	}
	s1, s2 := s012[1:1+Size], s012[1+Size:]
	if s012[0] != Version {
		t.Fatalf("S0 %d", s012[0])
	}
	if _, _, ok := FindDigest(s1, ServerKey); !ok {
		t.Fatal("nginx's S1 digest does not validate")
	}
	if !checkResponse(s2, ourDigest, ServerFullKey) {
		t.Fatal("nginx's S2 signature does not validate")
	}
	// Replay: our client with the recorded C1 random bytes gets the same
	// C1, so the recorded answer must pass its checks.
	rnd := bytes.NewReader(append(bytes.Clone(c01[1:]), make([]byte, Size)...))
	sc := &scripted{in: bytes.NewReader(s012)}
	recorded := binary.BigEndian.Uint32(c01[1:5])
	defer func(f func() uint32) { now = f }(now)
	now = func() uint32 { return recorded }
	res, err := Client(sc, ClientOptions{Digest: true, Scheme: Scheme1, Rand: rnd})
	if err != nil || !res.Digest {
		t.Fatalf("%+v %v", res, err)
	}
	if !bytes.Equal(sc.out.Bytes()[:1+Size], c01) {
		t.Fatal("replayed C0+C1 differs from the recorded one")
	}
}
