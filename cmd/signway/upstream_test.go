package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

// tlsBackend is an HTTPS upstream speaking HTTP/2 whose certificate no
// system pool trusts; it records the protocol and key each request used.
type tlsBackend struct {
	*httptest.Server
	caFile string
	mu     sync.Mutex
	protos []string
	auths  []string
}

func newTLSBackend(t *testing.T) *tlsBackend {
	b := &tlsBackend{}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.protos = append(b.protos, r.Proto)
		b.auths = append(b.auths, r.Header.Get("Authorization"))
		b.mu.Unlock()
		io.WriteString(w, "secure upstream")
	}))
	b.EnableHTTP2 = true
	b.StartTLS()
	t.Cleanup(b.Close)
	b.caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(b.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Certificate().Raw}), 0o600)
	return b
}

func TestUpstreamTLS(t *testing.T) {
	b := newTLSBackend(t)
	tests := []struct {
		name       string
		flags      []string
		wantStatus int
		wantBody   string
		wantLog    string
	}{
		{"untrusted certificate is a clear 502", nil, 502, "upstream CA file", ""},
		{"--ca trusts it, over HTTP/2", []string{"--ca", b.caFile}, 200, "secure upstream", ""},
		{"--no-verify-ssl works and warns", []string{"--no-verify-ssl"}, 200, "secure upstream", "NOT verified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxyURL, _, _, _, logs := startRun(t, append([]string{"--forward-to", b.URL, "--service", "es", "--region", "us-east-1"}, tt.flags...)...)
			code, body := get(t, http.DefaultClient, proxyURL+"/_cluster/health")
			if code != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tt.wantStatus, tt.wantBody)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs.String())
			}
		})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.protos {
		if p != "HTTP/2.0" {
			t.Errorf("upstream request used %s, want HTTP/2.0", p)
		}
	}
}

func TestNoCredentialsIsNotReadyAnd503(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request reached the upstream without credentials")
	}))
	defer backend.Close()
	proxyURL, utilURL, _, _, _ := startRunAs(t, "", "", "--forward-to", backend.URL, "--service", "es", "--region", "us-east-1")
	if code, body := get(t, http.DefaultClient, utilURL+"/readyz"); code != 503 || !strings.Contains(body, "credential") {
		t.Errorf("/readyz: %d %q, want 503 naming the credentials", code, body)
	}
	code, body := get(t, http.DefaultClient, proxyURL+"/")
	if code != 503 || !strings.Contains(body, "CredentialsUnavailable") || !strings.Contains(body, "credential chain") {
		t.Fatalf("got %d %s, want 503 naming the credential source", code, body)
	}
}

func TestAssumeRoleThroughRealSTS(t *testing.T) {
	moto := testenv.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", moto.Endpoint)
	b := newTLSBackend(t)
	proxyURL, _, _, _, logs := startRunAs(t, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"--forward-to", b.URL, "--service", "execute-api", "--region", "us-east-1", "--ca", b.caFile,
		"--assume-role", "arn:aws:iam::123456789012:role/signway-e2e")
	if code, body := get(t, http.DefaultClient, proxyURL+"/prod/orders"); code != 200 {
		t.Fatalf("got %d %s\n%s", code, body, logs.String())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.auths) != 1 || !strings.Contains(b.auths[0], "Credential=ASIA") {
		t.Fatalf("upstream Authorization %q: want temporary (ASIA...) credentials from the assumed role", b.auths)
	}
}

// TestAssumedRoleIsAcceptedByMoto sends GetCallerIdentity through signway to
// moto itself: moto answers with the identity of the key that signed it,
// which must be the role signway assumed.
func TestAssumedRoleIsAcceptedByMoto(t *testing.T) {
	moto := testenv.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", moto.Endpoint)
	proxyURL, _, _, _, logs := startRunAs(t, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"--forward-to", moto.Endpoint, "--service", "sts", "--region", "us-east-1",
		"--assume-role", "arn:aws:iam::123456789012:role/signway-moto")
	resp, err := http.Post(proxyURL+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "assumed-role/signway-moto/") {
		t.Fatalf("got %d %s\n%s", resp.StatusCode, body, logs.String())
	}
}
