package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signway/signway/internal/testenv"
)

func servedSerial(t *testing.T, url string) int64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

func TestServeTLSAndReloadCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testenv.WriteCert(t, dir, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	proxyURL, _, _, _, logs := startRun(t, "--forward-to", backend.URL, "--service", "es", "--region", "us-east-1", "--cert", certFile, "--key", keyFile)
	if got := servedSerial(t, proxyURL+"/"); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	testenv.WriteCert(t, dir, 2)
	deadline := time.Now().Add(10 * time.Second)
	for servedSerial(t, proxyURL+"/") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the rotated certificate was never served\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
