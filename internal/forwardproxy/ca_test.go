package forwardproxy

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCA(t *testing.T, now func() time.Time) (*CA, *x509.CertPool, string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, err := InitCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(certFile, keyFile, now)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	return ca, pool, dir
}

func TestInitCA(t *testing.T) {
	_, _, dir := testCA(t, nil)
	fi, err := os.Stat(filepath.Join(dir, "ca-key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca-key.pem mode %v (%v), want 0600: the key is the broker's whole trust", fi.Mode().Perm(), err)
	}
	if _, _, err := InitCA(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "exists: remove it first") {
		t.Fatalf("a second init over an existing key: %v", err)
	}
}

func TestLeafCertificates(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	ca, pool, _ := testCA(t, clock)
	for _, host := range []string{"bucket.s3.us-east-1.amazonaws.com", "localhost", "127.0.0.1", "::1"} {
		c, err := ca.Certificate(host)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("%s: the leaf does not verify for its name: %v", host, err)
		}
		if c.Leaf.NotAfter.Sub(now) > 25*time.Hour {
			t.Errorf("%s: leaf lives until %v: leaves are short-lived", host, c.Leaf.NotAfter)
		}
	}
	a, _ := ca.Certificate("Localhost.")
	b, _ := ca.Certificate("localhost")
	if a != b {
		t.Error("the same host (any case, trailing dot) got two certificates: leaves are cached")
	}
	now = now.Add(leafLifetime - leafRenew + time.Minute)
	c, _ := ca.Certificate("localhost")
	if c == b {
		t.Error("a leaf within an hour of expiry was served again instead of renewed")
	}
}

func TestLoadCAErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, err := InitCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, _, _ := testCA(t, nil)
	leaf, _ := ca.Certificate("example.com")
	leafFile := filepath.Join(dir, "leaf.pem")
	os.WriteFile(leafFile, pemCert(leaf.Certificate[0]), 0o644)
	for _, tc := range []struct {
		name, cert, key, want string
		now                   time.Time
	}{
		{"missing key", certFile, filepath.Join(dir, "none.pem"), "none.pem", time.Now()},
		{"not a CA", leafFile, keyFile, "", time.Now()},
		{"expired", certFile, keyFile, "expired on", time.Now().AddDate(6, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadCA(tc.cert, tc.key, func() time.Time { return tc.now })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadCA: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
