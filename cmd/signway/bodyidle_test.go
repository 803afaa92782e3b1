package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/testenv"
)

func TestBodyIdleTimeoutFlag(t *testing.T) {
	_, err := flagsConfig([]string{"--forward-to", "https://h.example", "-s", "es", "-r", "us-east-1", "--body-idle-timeout", "-1"})
	var u *cliflag.UsageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "--body-idle-timeout must be 0 (none)") {
		t.Fatalf("a negative --body-idle-timeout: %v", err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "1m0s"},
		{[]string{"--body-idle-timeout", "5"}, "5s"},
		{[]string{"--body-idle-timeout", "0"}, "none"},
	} {
		cfg, err := flagsConfig(append([]string{"--forward-to", "https://h.example", "-s", "es", "-r", "us-east-1"}, tt.args...))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Routes[0].Timeouts.BodyIdle.String(); got != tt.want {
			t.Errorf("%v: body_idle %s, want %s", tt.args, got, tt.want)
		}
	}
}

// stallingPut sends a PUT that declares more than it sends and returns the
// status the gateway answers with once it gives up on the body.
func stallingPut(t *testing.T, proxyURL string) int {
	t.Helper()
	addr := strings.TrimPrefix(proxyURL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /idx/_doc/1 HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n{\"partial\":", addr)
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test instead of stalling it
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBodyIdleTimeoutReachesTheProxy checks the flag and the config key end
// to end: a caller that stops sending gets 408.
func TestBodyIdleTimeoutReachesTheProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer upstream.Close()
	t.Run("flag", func(t *testing.T) {
		proxyURL, _, _, _, _ := startRun(t, "--forward-to", upstream.URL, "--service", "es", "--region", "us-east-1", "--body-idle-timeout", "1")
		if got := stallingPut(t, proxyURL); got != http.StatusRequestTimeout {
			t.Errorf("status %d, want 408", got)
		}
	})
	t.Run("config", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "signway.yaml")
		os.WriteFile(file, []byte(fmt.Sprintf(`listen: {address: "127.0.0.1:%d"}
utility: {address: "127.0.0.1:%d"}
limits: {spool_memory: 1MiB}
defaults:
  timeouts: {body_idle: 1s}
routes:
  - name: es
    url: %s
    service: es
    region: us-east-1
    credentials: {source: env}
`, testenv.FreePort(t), testenv.FreePort(t), upstream.URL)), 0o600)
		proxyURL, _, _, _, _ := startRun(t, "--config", file)
		if got := stallingPut(t, proxyURL); got != http.StatusRequestTimeout {
			t.Errorf("status %d, want 408", got)
		}
	})
}
