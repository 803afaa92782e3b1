package gateway

import (
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

func servedLeafSerial(t *testing.T, c *Certificate) int64 {
	t.Helper()
	kp, _ := c.GetCertificate(nil)
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func TestCertificateFollowsRotationAndKeepsOldOnBadFile(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testenv.WriteCert(t, dir, 7)
	logs := &testenv.LockedBuffer{}
	c, err := LoadCertificate(certFile, keyFile, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var w Watcher
	w.Add(c.Files, c.Reload)

	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	w.Check()
	if got := servedLeafSerial(t, c); got != 7 {
		t.Fatalf("after a bad rotation the served certificate changed to serial %d", got)
	}
	if !strings.Contains(logs.String(), "cannot be loaded") {
		t.Errorf("the bad certificate was not logged:\n%s", logs.String())
	}
	if _, err := LoadCertificate(certFile, keyFile, nil); err == nil {
		t.Fatal("a bad certificate at startup must be an error")
	}

	testenv.WriteCert(t, dir, 8)
	w.Check()
	if got := servedLeafSerial(t, c); got != 8 {
		t.Fatalf("after a good rotation: serial %d, want 8", got)
	}
}
