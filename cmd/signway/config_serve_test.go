package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signway/signway/internal/testenv"
)

func namedUpstream(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestServeFromConfigFile(t *testing.T) {
	internal := namedUpstream(t, "internal")
	bucket := namedUpstream(t, "bucket")
	path := writeConfig(t, fmt.Sprintf("listen: {address: 127.0.0.1:%d}\nutility: {address: 127.0.0.1:%d}\n", testenv.FreePort(t), testenv.FreePort(t))+`
defaults:
  credentials:
    source: env
routes:
  - name: internal
    url: `+internal.URL+`
    service: execute-api
    region: eu-west-1
    match: {path_prefix: /}
  - name: cake
    url: `+bucket.URL+`/my-bucket
    service: s3
    region: us-east-1
    match: {path: /cake.json, methods: [GET]}
`)
	proxyURL, _, _, _, _ := startRunAs(t, "AKIDCONFIG", "config-secret", "--config", path)
	tests := []struct{ path, want string }{
		{"/orders/1", "internal /orders/1 AWS4-HMAC-SHA256 Credential=AKIDCONFIG/"},
		{"/cake.json", "bucket /my-bucket/cake.json AWS4-HMAC-SHA256 Credential=AKIDCONFIG/"},
	}
	for _, tt := range tests {
		if code, body := get(t, http.DefaultClient, proxyURL+tt.path); code != 200 || !strings.HasPrefix(body, tt.want) {
			t.Errorf("%s: %d %q, want prefix %q", tt.path, code, body, tt.want)
		}
	}
}

func TestConfigStartupErrors(t *testing.T) {
	bad := writeConfig(t, "routes:\n  - name: a\n    url: ftp://x\n  - name: a\n    url: https://h.example\n    payload: sometimes\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"every problem at startup", []string{"--config", bad}, []string{"routes[0].url", "routes[1].name", "routes[1].payload"}},
		{"--config with a route flag", []string{"--config", bad, "--forward-to", "https://x.example", "--region", "us-east-1"}, []string{"--forward-to cannot be combined with --config", "--region cannot be combined"}},
		{"missing file", []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, []string{"nope.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestValidateCommand(t *testing.T) {
	good := writeConfig(t, "routes:\n  - name: api\n    url: https://abc.execute-api.eu-west-1.amazonaws.com\n")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"validate", "--config", good}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "config OK: 1 route") {
		t.Fatalf("validate good: %v %q", err, out.String())
	}
	bad := writeConfig(t, "routes:\n  - name: api\n    url: https://example.com\n    unknown_key: 1\n")
	out.Reset()
	err := run(context.Background(), []string{"validate", "--config", bad}, &out, io.Discard)
	if err == nil || exitCode(err) != 1 || !strings.Contains(out.String()+err.Error(), "unknown_key") {
		t.Fatalf("validate bad: %v (exit %d) %q", err, exitCode(err), out.String())
	}
}
