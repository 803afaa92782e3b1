package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/testenv"
)

// POST /.signway/presign: an API-key caller gets a URL to versitygw that
// works until it expires.
func TestE2EPresignEndpoint(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "presign")
	s3.Do(t, "PUT", "/presign/report%202026.csv", []byte("a,b\n1,2\n"))
	t.Setenv("REPORTING_API_KEY", authzAPIKey)
	cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
callers:
  - id: reporting
    api_keys: ["${REPORTING_API_KEY}"]
routes:
  - name: data
    url: %s
    service: s3
    region: %s
    credentials: {source: env}
    auth: {methods: [api_key]}
    presign: {max_lifetime: 10m, methods: [GET, PUT]}
`, testenv.FreePort(t), testenv.FreePort(t), s3.Endpoint, s3.Region))
	proxyURL, _, _, _, logs := startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey, "--config", cfg)
	presign := func(key, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", proxyURL+"/.signway/presign", strings.NewReader(body))
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := presign(authzAPIKey, `{"route": "data", "method": "GET", "path": "/presign/report%202026.csv", "expires_in": 300}`)
	if code != 200 {
		t.Fatalf("presign: %d %v\n%s", code, out, logs.String())
	}
	url, _ := out["url"].(string)
	exp, _ := time.Parse(time.RFC3339, fmt.Sprint(out["expires_at"]))
	if !strings.HasPrefix(url, s3.Endpoint+"/presign/report%202026.csv?") || time.Until(exp) < 4*time.Minute || time.Until(exp) > 6*time.Minute {
		t.Fatalf("answer %v", out)
	}
	if code, body := get(t, http.DefaultClient, url); code != 200 || body != "a,b\n1,2\n" {
		t.Fatalf("the presigned URL against versitygw: %d %q", code, body)
	}
	code, out = presign(authzAPIKey, `{"route": "data", "method": "GET", "path": "/presign/report%202026.csv", "expires_in": 1}`)
	if code != 200 {
		t.Fatalf("presign 1s: %d %v", code, out)
	}
	time.Sleep(2 * time.Second)
	if code, body := get(t, http.DefaultClient, out["url"].(string)); code != 403 {
		t.Errorf("an expired presigned URL: %d %q, want 403", code, body)
	}
	for _, tc := range []struct{ name, key, body, want string }{
		{"above max_lifetime", authzAPIKey, `{"route": "data", "method": "GET", "path": "/presign/x", "expires_in": 3600}`, "above route \"data\"'s presign.max_lifetime"},
		{"method not presigned", authzAPIKey, `{"route": "data", "method": "DELETE", "path": "/presign/x"}`, "method DELETE is not presigned"},
		{"no such route", authzAPIKey, `{"route": "nope", "path": "/presign/x"}`, "does not exist or has no presign block"},
		{"not JSON", authzAPIKey, `route=data`, "not a presign request"},
		{"no API key", "", `{"route": "data", "path": "/presign/x"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := presign(tc.key, tc.body)
			wantCode := 400
			if tc.key == "" {
				wantCode = 401
			}
			if code != wantCode || !strings.Contains(fmt.Sprint(out["error"]), tc.want) {
				t.Fatalf("%d %v, want %d saying %q", code, out, wantCode, tc.want)
			}
		})
	}
}

// The main listener speaks HTTP/2 without TLS to a client that knows it
// does (h2c prior knowledge), streaming both ways.
func TestE2EListenerHTTP2Cleartext(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "h2c")
	proxyURL, _, _, _, logs := startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey,
		"--forward-to", s3.Endpoint, "--service", "s3", "--region", s3.Region)
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols}}
	body := bytes.Repeat([]byte("h2c "), 1<<18) // 1 MiB, streamed up
	req, _ := http.NewRequest("PUT", proxyURL+"/h2c/big.bin", io.NopCloser(bytes.NewReader(body)))
	req.ContentLength = int64(len(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("PUT over h2c: %d %s\n%s", resp.StatusCode, resp.Proto, logs.String())
	}
	resp, err = client.Get(proxyURL + "/h2c/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !bytes.Equal(got, body) {
		t.Fatalf("GET over h2c: %s, %d bytes of %d", resp.Proto, len(got), len(body))
	}
	curl, err := exec.LookPath("curl")
	testenv.Require(t, "curl", err)
	out, err := exec.CommandContext(context.Background(), curl, "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code} %{size_download}", proxyURL+"/h2c/big.bin").CombinedOutput()
	if err != nil || string(out) != fmt.Sprintf("2 200 %d", len(body)) {
		t.Fatalf("curl --http2-prior-knowledge: %v %q", err, out)
	}
}

// With --cert/--key the main listener speaks HTTP/2 to a client that offers
// it by ALPN, streaming both ways.
func TestE2EListenerHTTP2OverTLS(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "h2tls")
	certFile, keyFile := testenv.WriteCert(t, t.TempDir(), 7)
	proxyURL, _, _, _, logs := startRunAs(t, s3.AccessKeyID, s3.SecretAccessKey,
		"--forward-to", s3.Endpoint, "--service", "s3", "--region", s3.Region, "--cert", certFile, "--key", keyFile)
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	body := bytes.Repeat([]byte("h2 over tls "), 100000)
	req, _ := http.NewRequest("PUT", proxyURL+"/h2tls/big.bin", io.NopCloser(bytes.NewReader(body)))
	req.ContentLength = int64(len(body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("PUT: %d over %s, want 200 over HTTP/2\n%s", resp.StatusCode, resp.Proto, logs.String())
	}
	resp, err = client.Get(proxyURL + "/h2tls/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !bytes.Equal(got, body) {
		t.Fatalf("GET: %s, %d bytes of %d", resp.Proto, len(got), len(body))
	}
}
