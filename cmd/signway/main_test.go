package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signway/signway/internal/testenv"
)

func TestFlagErrorsAreAllReported(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"--payload", "sometimes", "--listen-on", "nowhere", "--connect-timeout", "0",
		"--signature-lifetime", "700000", "--cert", "c.pem", "--log-level", "loud"}, &stderr)
	var u *usageError
	if !errors.As(err, &u) {
		t.Fatalf("want a usage error, got %v", err)
	}
	for _, want := range []string{"--forward-to is required", "--payload", "--listen-on", "--connect-timeout",
		"--signature-lifetime", "--cert and --key go together", "--log-level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if exitCode(err) != 2 {
		t.Errorf("exit code %d, want 2", exitCode(err))
	}
}

func TestFlagsAreCompatible(t *testing.T) {
	tests := []struct {
		args             []string
		listen, utility  string
		service, region  string
		forward          string
		connect, request int
	}{
		{[]string{"--forward-to", "https://search-x.us-east-1.es.amazonaws.com"}, "0.0.0.0:8080", "0.0.0.0:9090", "", "", "https://search-x.us-east-1.es.amazonaws.com", 10, 30},
		{[]string{"-f", "https://h.example", "-s", "execute-api", "-r", "eu-west-1", "-l", "127.0.0.1:7000", "-u", "7001", "--connect-timeout", "3", "--request-timeout", "0"}, "127.0.0.1:7000", "0.0.0.0:7001", "execute-api", "eu-west-1", "https://h.example", 3, 0},
		{[]string{"--forward-to=https://h.example", "--listen-on=:8443", "--utility-port=127.0.0.1:9999"}, "0.0.0.0:8443", "127.0.0.1:9999", "", "", "https://h.example", 10, 30},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.listenOn != tt.listen || o.utilityPort != tt.utility || o.service != tt.service || o.region != tt.region ||
				o.target.String() != tt.forward || o.connectTimeout != tt.connect || o.requestTimeout != tt.request {
				t.Errorf("parsed %+v", o)
			}
		})
	}
}

func TestUndetectableServiceSaysWhichFlag(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	err := run(context.Background(), []string{"--forward-to", "http://127.0.0.1:1", "--listen-on", "127.0.0.1:0", "--utility-port", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "add --service") || !strings.Contains(err.Error(), "add --region") {
		t.Fatalf("err = %v", err)
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "signway ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, io.Discard, &errOut); err != nil || !strings.Contains(errOut.String(), "--forward-to") {
		t.Fatalf("help: %v %q", err, errOut.String())
	}
}

var listenLine = regexp.MustCompile(`signway listening"(?: addr=|,"addr":")([^\s"]+)"?(?: scheme=|,"scheme":")([^\s"]+)"?(?: utility=|,"utility":")([^\s"]+)`)

// startRun runs the program with args and waits for its listening line.
func startRun(t *testing.T, args ...string) (proxyURL, utilityURL string, done <-chan error, stop func(), logs *testenv.LockedBuffer) {
	t.Helper()
	return startRunAs(t, "AKIDRUNTEST", "run-test-secret", args...)
}

// startRunAs runs signway with credentials from the environment, as a user
// would, isolated from the developer's own AWS files.
func startRunAs(t *testing.T, keyID, secret string, args ...string) (proxyURL, utilityURL string, done <-chan error, stop func(), logs *testenv.LockedBuffer) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return startRunNow(t, args...)
}

// startRunNow runs signway in the environment as it is.
func startRunNow(t *testing.T, args ...string) (proxyURL, utilityURL string, done <-chan error, stop func(), logs *testenv.LockedBuffer) {
	t.Helper()
	logs = &testenv.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		if !slices.Contains(args, "--config") { // a config file names its own addresses
			args = append([]string{"--listen-on", "127.0.0.1:0", "--utility-port", "127.0.0.1:0"}, args...)
		}
		errc <- run(ctx, args, io.Discard, logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenLine.FindStringSubmatch(logs.String()); m != nil {
			t.Cleanup(cancel)
			return m[2] + "://" + m[1], "http://" + m[3], errc, cancel, logs
		}
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("signway did not start:\n%s", logs.String())
	return
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesSignsAndShutsDownGracefully(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var auths []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "from upstream")
	}))
	defer backend.Close()
	proxyURL, utilURL, done, stop, logs := startRun(t, "--forward-to", backend.URL, "--service", "execute-api", "--region", "eu-west-1")

	if code, body := get(t, http.DefaultClient, proxyURL+"/items"); code != 200 || body != "from upstream" {
		t.Fatalf("proxied GET: %d %q", code, body)
	}
	mu.Lock()
	if len(auths) != 1 || !strings.Contains(auths[0], "Credential=AKIDRUNTEST/") || !strings.Contains(auths[0], "/eu-west-1/execute-api/aws4_request") {
		t.Errorf("upstream Authorization = %q", auths)
	}
	mu.Unlock()
	for path, want := range map[string]int{"/healthz": 200, "/health": 200, "/readyz": 200, "/metrics": 200} {
		if code, _ := get(t, http.DefaultClient, utilURL+path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
	if _, body := get(t, http.DefaultClient, utilURL+"/metrics"); !strings.Contains(body, `signway_requests_total{code="200",method="GET",route="default"} 1`) {
		t.Errorf("metrics lack the proxied request:\n%s", body)
	}

	// A request in flight when SIGTERM arrives still completes.
	slow := make(chan int, 1)
	go func() { code, _ := get(t, http.DefaultClient, proxyURL+"/slow"); slow <- code }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		mu.Lock()
		n := len(auths)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached the upstream")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	time.Sleep(50 * time.Millisecond)
	if _, err := http.Get(proxyURL + "/items"); err == nil {
		t.Error("a new request was accepted after shutdown began")
	}
	close(release)
	if code := <-slow; code != 200 {
		t.Errorf("in-flight request: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("run returned %v after shutdown, want nil (exit 0)\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), "run-test-secret") {
		t.Fatal("the secret key appears in the logs")
	}
}

func TestOversizedHeadersAre431(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	proxyURL, _, _, _, _ := startRun(t, "--forward-to", backend.URL, "--service", "es", "--region", "us-east-1")
	req, _ := http.NewRequest(http.MethodGet, proxyURL+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 2<<20))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestDemoOnce(t *testing.T) {
	var out testenv.LockedBuffer
	if err := run(context.Background(), []string{"demo", "--once", "--listen-on", "127.0.0.1:0"}, &out, io.Discard); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	if strings.Count(s, "[ok]") != len(demoSteps) || strings.Contains(s, "UNEXPECTED") || !strings.Contains(s, "curl ") {
		t.Fatalf("demo output:\n%s", s)
	}
	if !strings.Contains(s, "keys: reports/2026 Q1/a+b=c:d@e (1).txt") {
		t.Errorf("the special-character key did not survive:\n%s", s)
	}
	if !strings.Contains(s, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD (every chunk signature checked)") {
		t.Errorf("the object upload was not sent with verified chunk signatures:\n%s", s)
	}
}
