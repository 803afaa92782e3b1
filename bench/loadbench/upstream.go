package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// upstream is one kind of origin the proxies are measured against. AWS is
// always reached over TLS, and many of its endpoints speak HTTP/2, so the
// plain-HTTP origin alone would flatter whichever proxy handles TLS worse.
type upstream struct {
	name string // plain, tls-h2 or tls-h1
	tls  bool
	h2   bool // the origin offers h2 in ALPN
}

var upstreamKinds = map[string]upstream{
	"plain":  {name: "plain"},
	"tls-h2": {name: "tls-h2", tls: true, h2: true},
	"tls-h1": {name: "tls-h1", tls: true},
}

func (u upstream) describe() string {
	switch {
	case !u.tls:
		return "plain HTTP origin"
	case u.h2:
		return "TLS origin offering HTTP/2 (ALPN h2, http/1.1)"
	default:
		return "TLS origin, HTTP/1.1 only"
	}
}

// originArgs are the origin subcommand's TLS flags for u.
func (u upstream) originArgs(cert, key string) []string {
	if !u.tls {
		return nil
	}
	return []string{"-tls-cert", cert, "-tls-key", key, fmt.Sprintf("-h2=%t", u.h2)}
}

// writeSelfSigned writes a loopback certificate and key into dir. The
// proxies skip verification of it (the bare proxy by flag, signway with
// --no-verify-ssl): on loopback the check would measure nothing useful.
func writeSelfSigned(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generating origin key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "loadbench origin"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("creating origin certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("encoding origin key: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, "origin.pem"), filepath.Join(dir, "origin-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
