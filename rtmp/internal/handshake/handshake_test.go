package handshake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"testing"
)

func TestDigestOffsetKnownAnswers(t *testing.T) {
	cases := []struct {
		scheme Scheme
		at     int // where the four offset bytes sit
		bytes  [4]byte
		want   int
	}{
		{Scheme1, 8, [4]byte{0, 0, 0, 0}, 12},
		{Scheme1, 8, [4]byte{1, 2, 3, 4}, 22},
		{Scheme1, 8, [4]byte{200, 200, 200, 128}, 12 + 0},      // 728 % 728
		{Scheme1, 8, [4]byte{255, 255, 255, 255}, 12 + 292},    // 1020 % 728
		{Scheme0, 772, [4]byte{0, 0, 0, 0}, 776},               // digest block at 772
		{Scheme0, 772, [4]byte{100, 100, 100, 100}, 776 + 400}, // 400
		{Scheme0, 772, [4]byte{255, 255, 255, 255}, 776 + 292},
		{Scheme0, 772, [4]byte{255, 255, 217, 0}, 776 + 727}, // largest: ends at byte 1535
	}
	for _, c := range cases {
		p := make([]byte, Size)
		copy(p[c.at:], c.bytes[:])
		if got := DigestOffset(p, c.scheme); got != c.want {
			t.Errorf("%v with %v: offset %d, want %d", c.scheme, c.bytes, got, c.want)
		}
	}
}

func TestKeys(t *testing.T) {
	if len(ClientKey) != 30 || len(ServerKey) != 36 || len(ClientFullKey) != 62 || len(ServerFullKey) != 68 {
		t.Fatalf("key lengths %d %d %d %d", len(ClientKey), len(ServerKey), len(ClientFullKey), len(ServerFullKey))
	}
	if !bytes.HasPrefix(ServerFullKey, ServerKey) || !bytes.HasPrefix(ClientFullKey, ClientKey) {
		t.Fatal("full keys must extend the short ones")
	}
}

// TestSignDigestKnownAnswer checks the digest of an all-zero C1 computed
// independently: HMAC-SHA256 with the client key over 1504 zero bytes.
func TestSignDigestKnownAnswer(t *testing.T) {
	p := make([]byte, Size)
	d := SignDigest(p, Scheme1, ClientKey)
	m := hmac.New(sha256.New, []byte("Genuine Adobe Flash Player 001"))
	m.Write(make([]byte, Size-DigestSize))
	if !bytes.Equal(d, m.Sum(nil)) || !bytes.Equal(p[12:44], d) {
		t.Fatalf("digest %x at offset 12", d)
	}
	got, s, ok := FindDigest(p, ClientKey)
	if !ok || s != Scheme1 || !bytes.Equal(got, d) {
		t.Fatalf("FindDigest: %v %v", s, ok)
	}
	if _, _, ok := FindDigest(p, ServerKey); ok {
		t.Fatal("digest validated with the wrong key")
	}
	p[0] ^= 1
	if _, _, ok := FindDigest(p, ClientKey); ok {
		t.Fatal("digest validated after a change")
	}
}

func run(t *testing.T, co ClientOptions) (Result, Result) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	type out struct {
		r   Result
		err error
	}
	sc := make(chan out, 1)
	go func() {
		r, err := Server(b, ServerOptions{})
		sc <- out{r, err}
	}()
	cr, err := Client(a, co)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	s := <-sc
	if s.err != nil {
		t.Fatalf("server: %v", s.err)
	}
	return cr, s.r
}

func TestClientServer(t *testing.T) {
	for _, co := range []ClientOptions{{}, {Digest: true, Scheme: Scheme0}, {Digest: true, Scheme: Scheme1}} {
		cr, sr := run(t, co)
		if cr.Digest != co.Digest || sr.Digest != co.Digest {
			t.Errorf("%+v: client digest %v, server digest %v", co, cr.Digest, sr.Digest)
		}
		if co.Digest && (cr.Scheme != co.Scheme || sr.Scheme != co.Scheme) {
			t.Errorf("%+v: schemes %v %v", co, cr.Scheme, sr.Scheme)
		}
		if !cr.ResponseOK || !sr.ResponseOK {
			t.Errorf("%+v: responses client %v server %v", co, cr.ResponseOK, sr.ResponseOK)
		}
		wantVersion := [4]byte{}
		if co.Digest {
			wantVersion = ClientVersion
		}
		if sr.PeerVersion != wantVersion {
			t.Errorf("%+v: server saw version %v", co, sr.PeerVersion)
		}
	}
}

// scripted plays the peer's side from a fixed input and records output.
type scripted struct {
	in  io.Reader
	out bytes.Buffer
}

func (s *scripted) Read(p []byte) (int, error)  { return s.in.Read(p) }
func (s *scripted) Write(p []byte) (int, error) { return s.out.Write(p) }

// serverReply makes a valid digest S0+S1+S2 for a client C1, optionally
// corrupting S2.
func serverReply(c1 []byte, badS2 bool) []byte {
	peerDigest, scheme, _ := FindDigest(c1, ClientKey)
	s := make([]byte, 1+2*Size)
	s[0] = Version
	s1, s2 := s[1:1+Size], s[1+Size:]
	for i := range s1 {
		s1[i] = byte(i * 13)
	}
	copy(s1[4:], ServerVersion[:])
	SignDigest(s1, scheme, ServerKey)
	signResponse(s2, peerDigest, ServerFullKey)
	if badS2 {
		s2[100] ^= 0xff
	}
	return s
}

// pipeClient runs Client against a responder function that sees C0+C1.
func pipeClient(t *testing.T, co ClientOptions, reply func(c01 []byte) []byte) (Result, error) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		defer b.Close()
		c01 := make([]byte, 1+Size)
		if _, err := io.ReadFull(b, c01); err != nil {
			return
		}
		out := reply(c01)
		if _, err := b.Write(out); err != nil || len(out) < 1+2*Size {
			return
		}
		io.ReadFull(b, c01[:Size]) // C2
	}()
	return Client(a, co)
}

func TestClientRejects(t *testing.T) {
	_, err := pipeClient(t, ClientOptions{Digest: true}, func(c01 []byte) []byte { return serverReply(c01[1:], true) })
	if !errors.Is(err, ErrSignature) {
		t.Errorf("bad S2: %v", err)
	}
	_, err = pipeClient(t, ClientOptions{}, func(c01 []byte) []byte { return append([]byte{6}, make([]byte, 2*Size)...) })
	if !errors.Is(err, ErrVersion) {
		t.Errorf("S0 6: %v", err)
	}
	_, err = pipeClient(t, ClientOptions{}, func(c01 []byte) []byte { return []byte{3, 1, 2} })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short S1: %v", err)
	}
	// A plain server answering a digest client: the client falls back.
	r, err := pipeClient(t, ClientOptions{Digest: true}, func(c01 []byte) []byte {
		return append(append([]byte{3}, make([]byte, Size)...), c01[1:]...)
	})
	if err != nil || r.Digest || !r.ResponseOK {
		t.Errorf("plain server: %+v %v", r, err)
	}
}

func TestServerRejects(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"HTTP", []byte("GET / HTTP/1.1\r\n\r\n"), ErrVersion},
		{"RTMPE", append([]byte{6}, make([]byte, Size)...), ErrVersion},
		{"short C1", append([]byte{3}, make([]byte, 100)...), io.ErrUnexpectedEOF},
		{"no C2", append([]byte{3}, make([]byte, Size)...), io.EOF},
		{"short C2", append([]byte{3}, make([]byte, Size+10)...), io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		s := &scripted{in: bytes.NewReader(c.in)}
		if _, err := Server(s, ServerOptions{}); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestServerDigestReply checks what the server sends to a digest C1 with
// an independent verifier: S1 digest keyed with the server key, S2
// signature keyed from the client's digest.
func TestServerDigestReply(t *testing.T) {
	c1 := make([]byte, Size)
	for i := range c1 {
		c1[i] = byte(i * 7)
	}
	copy(c1[4:], ClientVersion[:])
	cd := append([]byte(nil), SignDigest(c1, Scheme0, ClientKey)...)
	in := append(append([]byte{3}, c1...), make([]byte, Size)...)
	s := &scripted{in: bytes.NewReader(in)}
	r, err := Server(s, ServerOptions{})
	if err != nil || !r.Digest || r.Scheme != Scheme0 || r.ResponseOK {
		t.Fatalf("%+v %v (a zero C2 must not pass)", r, err)
	}
	out := s.out.Bytes()
	if len(out) != 1+2*Size || out[0] != 3 {
		t.Fatalf("reply of %d bytes", len(out))
	}
	s1, s2 := out[1:1+Size], out[1+Size:]
	if _, sc, ok := FindDigest(s1, ServerKey); !ok || sc != Scheme0 {
		t.Fatal("S1 digest does not validate")
	}
	m := hmac.New(sha256.New, ServerFullKey)
	m.Write(cd)
	m2 := hmac.New(sha256.New, m.Sum(nil))
	m2.Write(s2[:Size-32])
	if !bytes.Equal(m2.Sum(nil), s2[Size-32:]) {
		t.Fatal("S2 signature")
	}
}

// FuzzServer feeds arbitrary client bytes to the server side. It must not
// panic; when it accepts a digest C1, its S1 must carry a valid digest.
func FuzzServer(f *testing.F) {
	c1 := make([]byte, Size)
	copy(c1[4:], ClientVersion[:])
	SignDigest(c1, Scheme1, ClientKey)
	f.Add(append(append([]byte{3}, c1...), make([]byte, Size)...))
	f.Add(append([]byte{3}, make([]byte, 2*Size)...))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	if b, err := os.ReadFile("testdata/ffmpeg-c0c1.bin"); err == nil {
		f.Add(append(b, make([]byte, Size)...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &scripted{in: bytes.NewReader(in)}
		r, err := Server(s, ServerOptions{})
		if err != nil {
			return
		}
		out := s.out.Bytes()
		if len(out) != 1+2*Size {
			t.Fatalf("reply of %d bytes", len(out))
		}
		if r.Digest {
			if _, _, ok := FindDigest(out[1:1+Size], ServerKey); !ok {
				t.Fatal("S1 digest invalid")
			}
		} else if !bytes.Equal(out[1+Size+8:], in[1+8:1+Size]) {
			t.Fatal("plain S2 does not echo C1")
		}
	})
}

// FuzzClient feeds arbitrary server bytes to a digest client.
func FuzzClient(f *testing.F) {
	f.Add(append([]byte{3}, make([]byte, 2*Size)...))
	f.Add([]byte{3, 0})
	if b, err := os.ReadFile("testdata/nginx-s0s1s2.bin"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &scripted{in: bytes.NewReader(in)}
		r, err := Client(s, ClientOptions{Digest: true})
		if err != nil {
			return
		}
		// Random server bytes cannot carry a valid digest S1.
		if r.Digest {
			t.Fatal("digest accepted from arbitrary bytes")
		}
		if s.out.Len() != 1+2*Size {
			t.Fatalf("client wrote %d bytes", s.out.Len())
		}
	})
}
