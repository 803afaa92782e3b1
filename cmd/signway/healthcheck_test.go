package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signway/signway/internal/cliflag"
)

func TestHealthcheck(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	_, utilityURL, _, _, _ := startRunAs(t, "AKIAIOSFODNN7EXAMPLE", "secret", "--forward-to", up.URL, "--service", "es", "--region", "eu-west-1")
	utility := strings.TrimPrefix(utilityURL, "http://")
	_, port, _ := strings.Cut(utility, ":")

	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			t.Errorf("asked %s, want /readyz", r.URL.Path)
		}
		http.Error(w, "not ready: no credentials yet", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()

	tests := []struct {
		name      string
		args      []string
		wantOut   string // on stdout when it succeeds
		wantErr   string // in the error otherwise
		wantUsage bool
	}{
		{name: "healthz", args: []string{"--utility-port", utility}, wantOut: "/healthz: ok"},
		{name: "readyz", args: []string{"--utility-port", utility, "--ready"}, wantOut: "/readyz: ready"},
		{name: "wildcard host means this machine", args: []string{"--utility-port", "0.0.0.0:" + port}, wantOut: "ok"},
		{name: "port only", args: []string{"--utility-port", port}, wantOut: "ok"},
		{name: "not ready", args: []string{"--utility-port", strings.TrimPrefix(notReady.URL, "http://"), "--ready"},
			wantErr: "503 Service Unavailable: not ready: no credentials yet"},
		{name: "nothing listening", args: []string{"--utility-port", closedAddr}, wantErr: "connection refused"},
		{name: "bad address", args: []string{"--utility-port", "a:b:c"}, wantErr: "too many colons", wantUsage: true},
		{name: "no port", args: []string{"--utility-port", "localhost:"}, wantErr: "no port", wantUsage: true},
		{name: "bad timeout", args: []string{"--timeout", "0s"}, wantErr: "--timeout must be positive", wantUsage: true},
		{name: "stray argument", args: []string{"now"}, wantErr: `unexpected argument "now"`, wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), &out, &errOut)
			if tt.wantErr == "" {
				if err != nil || !strings.Contains(out.String(), tt.wantOut) {
					t.Fatalf("err %v, stdout %q, want %q", err, out.String(), tt.wantOut)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
			}
			var u *cliflag.UsageError
			if errors.As(err, &u) != tt.wantUsage {
				t.Errorf("usage error (exit 2) = %v, want %v", !tt.wantUsage, tt.wantUsage)
			}
		})
	}
}
