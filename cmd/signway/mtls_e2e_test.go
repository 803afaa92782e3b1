package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/testenv"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// client issues a client certificate.
func (ca *testCA) client(t *testing.T, subject pkix.Name, uris ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestMTLSCallers: a verified client certificate names a caller by its
// subject or a SAN; a caller without one is refused on a route that needs
// it, and a certificate from another CA does not get past the handshake.
func TestMTLSCallers(t *testing.T) {
	dir := t.TempDir()
	serverCert, serverKey := testenv.WriteCert(t, dir, 1)
	ca := newTestCA(t, "callers CA")
	caFile := filepath.Join(dir, "clients-ca.pem")
	if err := os.WriteFile(caFile, ca.pem(), 0o600); err != nil {
		t.Fatal(err)
	}
	up := namedUpstream(t, "up")
	cfg := writeConfig(t, fmt.Sprintf(`listen:
  address: 127.0.0.1:%d
  tls: {cert_file: %s, key_file: %s, client_ca_file: %s}
utility: {address: 127.0.0.1:%d}
callers:
  - {id: reporting, certificate: {subject: "CN=reporting,O=Example"}}
  - {id: agent, certificate: {san: "spiffe://example.org/agent"}}
  - {id: stranger, certificate: {subject: "CN=stranger"}}
routes:
  - name: api
    url: %s
    service: execute-api
    region: eu-west-1
    credentials: {source: env}
    auth: {methods: [mtls], allow: [reporting, agent]}
`, testenv.FreePort(t), serverCert, serverKey, caFile, testenv.FreePort(t), up.URL))
	proxyURL, _, _, _, logs := startRunAs(t, "AKIDMTLS", "mtls-secret", "--config", cfg)
	serverPEM, _ := os.ReadFile(serverCert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverPEM)
	call := func(certs ...tls.Certificate) (int, string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		resp, err := c.Get(proxyURL + "/x")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	for _, tc := range []struct {
		name   string
		certs  []tls.Certificate
		status int
		want   string
	}{
		{"subject", []tls.Certificate{ca.client(t, pkix.Name{CommonName: "reporting", Organization: []string{"Example"}})}, 200, "up /x AWS4-HMAC-SHA256"},
		{"SAN", []tls.Certificate{ca.client(t, pkix.Name{CommonName: "whatever"}, "spiffe://example.org/agent")}, 200, "up /x"},
		{"declared but not allowed", []tls.Certificate{ca.client(t, pkix.Name{CommonName: "stranger"})}, 403, "not allowed"},
		{"no caller", []tls.Certificate{ca.client(t, pkix.Name{CommonName: "nobody"})}, 403, "names no caller"},
		{"no certificate", nil, 401, "a client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, err := call(tc.certs...)
			if err != nil || code != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("%d %q %v, want %d containing %q\n%s", code, body, err, tc.status, tc.want, logs.String())
			}
		})
	}
	// Sent even though the server names other CAs (Go's client would
	// otherwise send nothing): the handshake itself refuses it.
	other := newTestCA(t, "someone else's CA")
	forged := other.client(t, pkix.Name{CommonName: "reporting", Organization: []string{"Example"}})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &forged, nil }}}}
	if resp, err := c.Get(proxyURL + "/x"); err == nil {
		resp.Body.Close()
		t.Errorf("a certificate from an unknown CA got %d", resp.StatusCode)
	}
}
