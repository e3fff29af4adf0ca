package trunk

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
)

// book is the fingerprints the nodes announced (the registry's part).
type book struct {
	mu  sync.Mutex
	fps map[string]string
}

func (b *book) set(node, fp string) {
	b.mu.Lock()
	b.fps[node] = fp
	b.mu.Unlock()
}

func (b *book) nodes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n := range b.fps {
		out = append(out, n)
	}
	return out
}

func (b *book) fp(n string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fps[n]
}

func newTrunk(t *testing.T, node string, id *Identity, bk *book, serve func(from, key string, w *Writer) error) *Trunk {
	t.Helper()
	tr, err := Listen(Config{Node: node, Listen: "127.0.0.1:0", Identity: id, Nodes: bk.nodes, Fingerprint: bk.fp,
		Serve: serve, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func generated(t *testing.T, node string, bk *book) *Identity {
	id, err := GenerateIdentity(node)
	if err != nil {
		t.Fatal(err)
	}
	if bk != nil {
		bk.set(node, id.Fingerprint())
	}
	return id
}

// serveCount publishes n video messages, then ends the stream.
func serveCount(n int) func(from, key string, w *Writer) error {
	return func(from, key string, w *Writer) error {
		if key != "live/_definst_/cam" {
			return w.control(ctlNotFound)
		}
		if err := w.Start(); err != nil {
			return err
		}
		for i := range n {
			if err := w.WriteMedia(context.Background(), media.Message{Type: media.TypeVideo, Timestamp: uint32(i), Payload: []byte{0x17, byte(i)}}); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestTrunkPull(t *testing.T) {
	bk := &book{fps: map[string]string{}}
	a := newTrunk(t, "a", generated(t, "a", bk), bk, serveCount(500))
	b := newTrunk(t, "b", generated(t, "b", bk), bk, serveCount(500))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := b.Pull(ctx, "a", a.Addr().String(), "live/_definst_/cam")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		m, err := r.Read()
		if err != nil || m.Timestamp != uint32(i) || m.Type != media.TypeVideo {
			t.Fatalf("message %d: %+v %v", i, m, err)
		}
	}
	if _, err := r.Read(); !errors.Is(err, ErrEnd) {
		t.Fatalf("after the last message: %v, want ErrEnd", err)
	}
	r.Close()
	if _, err := b.Pull(ctx, "a", a.Addr().String(), "live/_definst_/other"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown stream: %v", err)
	}
	// a pulls from b over the same connection: one per pair.
	r2, err := a.Pull(ctx, "b", b.Addr().String(), "live/_definst_/cam")
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	if sa, sb := a.Stats(), b.Stats(); len(sa.Conns) != 1 || len(sb.Conns) != 1 {
		t.Fatalf("connections: a %+v, b %+v; want one each", sa.Conns, sb.Conns)
	}
}

// TestTrunkBackPressure: a puller that does not read blocks its own
// stream only; another stream of the same connection flows.
func TestTrunkBackPressure(t *testing.T) {
	bk := &book{fps: map[string]string{}}
	blocked := make(chan struct{})
	var once sync.Once
	serve := func(from, key string, w *Writer) error {
		if err := w.Start(); err != nil {
			return err
		}
		if key == "live/_definst_/slow" {
			// Write until the puller's window is full: the write blocks.
			big := make([]byte, 64<<10)
			for i := 0; ; i++ {
				done := make(chan error, 1)
				go func() { done <- w.WriteMedia(context.Background(), media.Message{Type: media.TypeVideo, Payload: big}) }()
				select {
				case err := <-done:
					if err != nil {
						return err
					}
				case <-time.After(500 * time.Millisecond):
					once.Do(func() { close(blocked) })
					return <-done // until the puller leaves
				}
			}
		}
		return serveCount(2000)(from, "live/_definst_/cam", w)
	}
	a := newTrunk(t, "a", generated(t, "a", bk), bk, serve)
	b := newTrunk(t, "b", generated(t, "b", bk), bk, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	slow, err := b.Pull(ctx, "a", a.Addr().String(), "live/_definst_/slow")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	select {
	case <-blocked:
	case <-ctx.Done():
		t.Fatal("the slow stream's writer never blocked")
	}
	fast, err := b.Pull(ctx, "a", a.Addr().String(), "live/_definst_/fast")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := fast.Read(); err != nil {
			t.Fatalf("fast stream message %d while the slow one is blocked: %v", i, err)
		}
	}
	fast.Close()
}

// TestTrunkWrongCertificate: a node whose certificate is not the one it
// announced (generated identities), or not signed by the cluster's
// authority, is refused both ways.
func TestTrunkWrongCertificate(t *testing.T) {
	t.Run("generated", func(t *testing.T) {
		bk := &book{fps: map[string]string{}}
		a := newTrunk(t, "a", generated(t, "a", bk), bk, serveCount(1))
		generated(t, "b", bk)                                  // b's announced certificate...
		b := newTrunk(t, "b", generated(t, "b", nil), bk, nil) // ...is not the one it uses
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := b.Pull(ctx, "a", a.Addr().String(), "live/_definst_/cam"); err == nil {
			t.Fatal("pull over a trunk with a wrong certificate worked")
		}
		if a.Stats().Refused == 0 {
			t.Fatal("a did not count the refusal")
		}
		// And b refuses a's when a's announced fingerprint is wrong.
		bk.set("a", generated(t, "x", nil).Fingerprint())
		if _, err := a.Pull(ctx, "b", b.Addr().String(), "live/_definst_/cam"); err == nil {
			t.Fatal("a dialed b with a certificate b does not know")
		}
	})
	t.Run("authority", func(t *testing.T) {
		dir := t.TempDir()
		ca := newCA(t, "cluster CA")
		other := newCA(t, "someone else")
		idA := ca.identity(t, dir, "a")
		idB := ca.identity(t, dir, "b")
		idEvil := other.identity(t, dir, "b")
		idEvil.ca = idA.ca // it trusts the cluster's authority, which never signed its certificate
		bk := &book{fps: map[string]string{}}
		a := newTrunk(t, "a", idA, bk, serveCount(3))
		b := newTrunk(t, "b", idB, bk, nil)
		evil := newTrunk(t, "b", idEvil, bk, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := b.Pull(ctx, "a", a.Addr().String(), "live/_definst_/cam")
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := evil.Pull(ctx, "a", a.Addr().String(), "live/_definst_/cam"); err == nil {
			t.Fatal("a node of another authority pulled")
		}
		if a.Stats().Refused == 0 {
			t.Fatal("a did not count the refusal")
		}
	})
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// identity issues node's certificate and loads it as an operator would.
func (ca *testCA) identity(t *testing.T, dir, node string) *Identity {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: node}, DNSNames: []string{node},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	base := filepath.Join(dir, ca.cert.Subject.CommonName+"-"+node)
	os.WriteFile(base+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(base+".key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	os.WriteFile(base+".ca", ca.pem, 0o600)
	id, err := LoadIdentity(base+".crt", base+".key", base+".ca")
	if err != nil {
		t.Fatal(err)
	}
	return id
}
