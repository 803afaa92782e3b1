package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/admin"
	"github.com/signway/signway/internal/testenv"
)

// TestSecretFileRotationTakesEffect: a {file: PATH} secret rotated in
// place (as Kubernetes does) is signed with after the watcher's next look,
// without a restart.
func TestSecretFileRotationTakesEffect(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer up.Close()
	dir := t.TempDir()
	keyFile, secretFile := filepath.Join(dir, "key-id"), filepath.Join(dir, "secret")
	writeAtomic(t, keyFile, "AKIDFIRST\n")
	writeAtomic(t, secretFile, "first-secret\n")
	path := filepath.Join(dir, "signway.yaml")
	writeAtomic(t, path, fmt.Sprintf(`routes:
  - name: api
    url: %s
    service: execute-api
    region: eu-west-1
    credentials:
      source: static
      access_key_id: {file: %s}
      secret_access_key: {file: %s}
`, up.URL, keyFile, secretFile))
	logs := &testenv.LockedBuffer{}
	gw, err := LoadFile(context.Background(), path, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	var w Watcher
	w.Add(gw.Files, func() { gw.ReloadFile(context.Background(), "file changed") })
	if _, body := get(t, http.DefaultClient, srv.URL+"/x"); !strings.Contains(body, "Credential=AKIDFIRST/") {
		t.Fatalf("first key: %q", body)
	}
	writeAtomic(t, keyFile, "AKIDSECOND\n")
	writeAtomic(t, secretFile, "second-secret\n")
	w.Check()
	if _, body := get(t, http.DefaultClient, srv.URL+"/x"); !strings.Contains(body, "Credential=AKIDSECOND/") {
		t.Fatalf("after the rotation: %q\n%s", body, logs.String())
	}
	if strings.Contains(logs.String(), "second-secret") || strings.Contains(logs.String(), "first-secret") {
		t.Fatal("a secret reached the logs")
	}
}

func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// containerConfig is a route whose credentials come from a container
// credentials endpoint at url.
func containerConfig(t *testing.T, upstream, endpoint string) string {
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
	path := filepath.Join(t.TempDir(), "signway.yaml")
	writeAtomic(t, path, fmt.Sprintf("routes:\n  - name: my-route\n    url: %s\n    service: execute-api\n    region: eu-west-1\n    credentials: {source: container}\n", upstream))
	return path
}

// TestReadyNeverWaitsForACredentialSource: a credential source that hangs
// cannot hold /readyz; when it answers, readiness follows.
func TestReadyNeverWaitsForACredentialSource(t *testing.T) {
	release := make(chan struct{})
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, `{"AccessKeyId":"ASIAREADY","SecretAccessKey":"s","Token":"t","Expiration":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer endpoint.Close()
	gw, err := LoadFile(context.Background(), containerConfig(t, "http://127.0.0.1:1", endpoint.URL+"/creds"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	done := make(chan error, 1)
	go func() { done <- gw.Ready(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no credentials yet") {
			t.Fatalf("Ready = %v while the source hangs, want not ready", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ready waited for a credential source that hangs")
	}
	close(release)
	for deadline := time.Now().Add(10 * time.Second); gw.Ready(context.Background()) != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after the source answered: %v", gw.Ready(context.Background()))
		}
	}
}

// TestCredentialErrorsCountTheSource: the credential error metric is
// labelled with where credentials come from, not with the route.
func TestCredentialErrorsCountTheSource(t *testing.T) {
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no role", http.StatusInternalServerError)
	}))
	defer endpoint.Close()
	metrics := admin.NewMetrics("test")
	gw, err := LoadFile(context.Background(), containerConfig(t, "http://127.0.0.1:1", endpoint.URL+"/creds"), Options{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	if code, _ := get(t, http.DefaultClient, srv.URL+"/x"); code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", code)
	}
	m := metricsText(t, metrics)
	if !strings.Contains(m, `signway_credential_errors_total{source="container credentials endpoint`) || strings.Contains(m, `source="my-route"`) {
		t.Fatalf("the credential error is not counted by source:\n%s", m)
	}
}
