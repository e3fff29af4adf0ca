package trunk

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"time"
)

// alpn names the trunk protocol in the TLS handshake.
const alpn = "rtmfpd-trunk/1"

// Identity is how nodes prove who they are on the trunks (mutual TLS):
// either certificates an operator's authority signs (each naming its node
// in a DNS subject alternative name), or a certificate each node generates
// and announces by its SHA-256 fingerprint in the registry, which the
// other nodes then require.
type Identity struct {
	cert tls.Certificate
	fp   string         // hex SHA-256 of the leaf certificate
	ca   *x509.CertPool // nil: fingerprints
}

// LoadIdentity reads an operator's certificate, key and authority (PEM
// files).
func LoadIdentity(certFile, keyFile, caFile string) (*Identity, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("trunk certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("trunk ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("trunk ca %s: no certificate", caFile)
	}
	return &Identity{cert: cert, fp: fingerprint(cert.Certificate[0]), ca: pool}, nil
}

// GenerateIdentity makes a self-signed certificate for node.
func GenerateIdentity(node string) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: node},
		DNSNames:     []string{node},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &Identity{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, fp: fingerprint(der)}, nil
}

// Fingerprint is the hex SHA-256 of the node's certificate: announced in
// the registry when the cluster generates certificates.
func (id *Identity) Fingerprint() string { return id.fp }

// Generated reports whether nodes are recognised by fingerprint.
func (id *Identity) Generated() bool { return id.ca == nil }

func fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// errUnknownNode refuses a certificate no node of the cluster announced.
var errUnknownNode = errors.New("trunk: certificate of no known node")

// serverConfig is the TLS configuration of the listener: client
// certificates are required and verified; the node a connection comes
// from is the name its certificate proves.
func (t *Trunk) serverConfig() *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{t.id.cert}, NextProtos: []string{alpn}, MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAnyClientCert}
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if err := t.verifyClient(raw); err != nil {
			t.stats.refused.Add(1)
			t.log.Warn("cluster: trunk connection refused", "reason", err.Error())
			return err
		}
		return nil
	}
	return c
}

// verifyClient checks a connecting node's certificate: signed by the
// operator's authority for client use and naming a node, or one a node
// announced.
func (t *Trunk) verifyClient(raw [][]byte) error {
	if len(raw) == 0 {
		return errUnknownNode
	}
	if t.id.ca == nil {
		if _, ok := t.nodeByFingerprint(fingerprint(raw[0])); !ok {
			return errUnknownNode
		}
		return nil
	}
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return err
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: t.id.ca, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return err
	}
	if _, ok := t.peerNode(certs); !ok {
		return errUnknownNode
	}
	return nil
}

// clientConfig is the TLS configuration for dialing node: its certificate
// must name it (operator's authority) or match the fingerprint it
// announced.
func (t *Trunk) clientConfig(node string) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{t.id.cert}, NextProtos: []string{alpn}, MinVersion: tls.VersionTLS13, ServerName: node}
	if t.id.ca != nil {
		c.RootCAs = t.id.ca
		return c
	}
	want := t.cfg.Fingerprint(node)
	c.InsecureSkipVerify = true // replaced by the fingerprint check below
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 || want == "" || fingerprint(raw[0]) != want {
			return fmt.Errorf("trunk: %s's certificate is not the one it announced", node)
		}
		return nil
	}
	return c
}

// peerNode returns the node a verified connection's certificate names.
func (t *Trunk) peerNode(certs []*x509.Certificate) (string, bool) {
	if len(certs) == 0 {
		return "", false
	}
	if t.id.ca == nil {
		return t.nodeByFingerprint(fingerprint(certs[0].Raw))
	}
	names := certs[0].DNSNames
	if len(names) == 0 && certs[0].Subject.CommonName != "" {
		names = []string{certs[0].Subject.CommonName}
	}
	for _, n := range names {
		if t.cfg.Known == nil || t.cfg.Known(n) {
			return n, true
		}
	}
	return "", false
}

func (t *Trunk) nodeByFingerprint(fp string) (string, bool) {
	if t.cfg.Nodes == nil {
		return "", false
	}
	nodes := t.cfg.Nodes()
	i := slices.IndexFunc(nodes, func(n string) bool { return t.cfg.Fingerprint(n) == fp })
	if i < 0 {
		return "", false
	}
	return nodes[i], true
}
