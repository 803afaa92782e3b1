package forwardproxy

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Leaf certificates live a day and are minted again an hour before they
// expire; a client that pins nothing sees a fresh one at most daily.
const (
	leafLifetime = 24 * time.Hour
	leafRenew    = time.Hour
	// leafCacheSize bounds the minted certificates kept (one per host).
	leafCacheSize = 1024
)

// CA mints leaf certificates for intercepted hosts from a CA certificate
// and key. Safe for concurrent use.
type CA struct {
	cert *x509.Certificate
	key  crypto.Signer
	now  func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element // host -> *leaf in order
	order *list.List               // most recently used first
}

type leaf struct {
	host string
	cert *tls.Certificate
}

// LoadCA reads a PEM CA certificate and its PEM key (EC, RSA or Ed25519;
// PKCS#8, SEC 1 or PKCS#1). now is the clock; nil means time.Now.
func LoadCA(certFile, keyFile string, now func() time.Time) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("forward_proxy CA %s and %s: %w", certFile, keyFile, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("forward_proxy.ca_cert_file %s: %w", certFile, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("forward_proxy.ca_cert_file %s is not a CA certificate (basic constraints CA and key usage cert sign): make one with signway ca init", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("forward_proxy.ca_key_file %s: the key cannot sign", keyFile)
	}
	if now == nil {
		now = time.Now
	}
	if t := now(); t.After(cert.NotAfter) {
		return nil, fmt.Errorf("forward_proxy.ca_cert_file %s expired on %s: make a new CA with signway ca init", certFile, cert.NotAfter.Format(time.DateOnly))
	}
	return &CA{cert: cert, key: key, now: now, byKey: map[string]*list.Element{}, order: list.New()}, nil
}

// Certificate returns a leaf for host (a DNS name or an IP address),
// minted on first use and kept until it is close to expiry.
func (ca *CA) Certificate(host string) (*tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return nil, errors.New("no host name to make a certificate for")
	}
	now := ca.now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if e, ok := ca.byKey[host]; ok {
		l := e.Value.(*leaf)
		if now.Before(l.cert.Leaf.NotAfter.Add(-leafRenew)) {
			ca.order.MoveToFront(e)
			return l.cert, nil
		}
		ca.order.Remove(e)
		delete(ca.byKey, host)
	}
	c, err := ca.mint(host, now)
	if err != nil {
		return nil, err
	}
	ca.byKey[host] = ca.order.PushFront(&leaf{host: host, cert: c})
	for ca.order.Len() > leafCacheSize {
		old := ca.order.Remove(ca.order.Back()).(*leaf)
		delete(ca.byKey, old.host)
	}
	return c, nil
}

// mint makes an ECDSA P-256 leaf for host, valid from an hour ago (clock
// skew) for leafLifetime, never past the CA's own expiry.
func (ca *CA) mint(host string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"signway forward proxy"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("minting a certificate for %s: %w", host, err)
	}
	parsed, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: parsed}, nil
}

// InitCA writes a new CA for the forward proxy: DIR/ca.pem (to give the
// clients, e.g. AWS_CA_BUNDLE) and DIR/ca-key.pem, readable by its owner
// only. It refuses to overwrite an existing key.
func InitCA(dir string, now time.Time) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if _, err := os.Stat(keyFile); err == nil {
		return "", "", fmt.Errorf("%s exists: remove it first to make a new CA (clients trusting the old one must be given the new ca.pem)", keyFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "signway forward proxy CA", Organization: []string{"signway"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	// The key first, created owner-only, so no reader ever sees it wider.
	kf, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", err
	}
	if err := errors.Join(pem.Encode(kf, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), kf.Close()); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
