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

	"github.com/signway/signway/internal/cliflag"
	"github.com/signway/signway/internal/config"
	"github.com/signway/signway/internal/demo"
	"github.com/signway/signway/internal/testenv"
)

// flagsConfig is the config a command line makes, as serve builds it.
func flagsConfig(args []string) (*config.Config, error) {
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		return nil, err
	}
	return o.Config()
}

func TestFlagErrorsAreAllReported(t *testing.T) {
	_, err := parseFlags([]string{"--shutdown-timeout", "-3", "--log-level", "loud"}, io.Discard)
	for _, want := range []string{"--forward-to is required", "--shutdown-timeout", "--log-level"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	_, err = flagsConfig([]string{"-f", "https://h.example", "-s", "es", "-r", "us-east-1", "--payload", "sometimes", "--listen-on", "nowhere",
		"--connect-timeout", "0", "--signature-lifetime", "700000", "--cert", "c.pem", "--max-body-size", "lots"})
	var u *cliflag.UsageError
	if !errors.As(err, &u) {
		t.Fatalf("want a usage error, got %v", err)
	}
	for _, want := range []string{"--payload", "--listen-on", "--connect-timeout", "--signature-lifetime",
		"--cert and --key go together", "--max-body-size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "routes[0]") || strings.Contains(err.Error(), "cert_file") {
		t.Errorf("the error speaks the config file's names, not the flags':\n%v", err)
	}
	if exitCode(err) != 2 {
		t.Errorf("exit code %d, want 2", exitCode(err))
	}
}

func TestFlagsAreCompatible(t *testing.T) {
	tests := []struct {
		args                     []string
		listen, utility          string
		service, region          string
		forward                  string
		connect, request, lifetm string
		maxBody                  config.ByteSize
	}{
		{[]string{"--forward-to", "https://search-x.us-east-1.es.amazonaws.com"}, "0.0.0.0:8080", "0.0.0.0:9090", "es", "us-east-1", "https://search-x.us-east-1.es.amazonaws.com", "10s", "30s", "15m0s", 5 << 30},
		{[]string{"-f", "https://h.example", "-s", "execute-api", "-r", "eu-west-1", "-l", "127.0.0.1:7000", "-u", "7001", "--connect-timeout", "3", "--request-timeout", "0", "--max-body-size", "1048576"}, "127.0.0.1:7000", "0.0.0.0:7001", "execute-api", "eu-west-1", "https://h.example", "3s", "none", "15m0s", 1 << 20},
		{[]string{"--forward-to=https://h.example", "-s", "es", "-r", "us-east-1", "--listen-on=:8443", "--utility-port=127.0.0.1:9999"}, "0.0.0.0:8443", "127.0.0.1:9999", "es", "us-east-1", "https://h.example", "10s", "30s", "15m0s", 5 << 30},
		// The config file's units.
		{[]string{"-f", "https://h.example", "-s", "es", "-r", "us-east-1", "--connect-timeout", "5s", "--request-timeout", "2m", "--max-body-size", "10MiB", "--sign-query", "--signature-lifetime", "1h"}, "0.0.0.0:8080", "0.0.0.0:9090", "es", "us-east-1", "https://h.example", "5s", "2m0s", "1h0m0s", 10 << 20},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, err := flagsConfig(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Routes[0]
			if cfg.Listen.Address != tt.listen || cfg.Utility.Address != tt.utility || r.Service != tt.service || r.Region != tt.region ||
				r.URL != tt.forward || r.Timeouts.Connect.String() != tt.connect || r.Timeouts.Response.String() != tt.request ||
				r.Signing.Lifetime.String() != tt.lifetm || r.MaxBodySize != tt.maxBody {
				t.Errorf("config: listen %s utility %s route %+v", cfg.Listen.Address, cfg.Utility.Address, r)
			}
		})
	}
}

// TestFlagsSpeakLikeTheConfigFile: what the file refuses, the flags refuse
// with the same reason, in the flags' names.
func TestFlagsSpeakLikeTheConfigFile(t *testing.T) {
	base := []string{"-f", "https://h.example", "-s", "es", "-r", "us-east-1"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--signature-lifetime", "0"}, "--signature-lifetime: 0 is out of range: a query signature lives 1s to 7d"},
		{[]string{"--signature-lifetime", "8d"}, "--signature-lifetime: 8d is out of range"},
		{[]string{"--listen-on", "127.0.0.1:7000", "--utility-port", "127.0.0.1:7000"}, "--utility-port: is the same as --listen-on"},
		{[]string{"--connect-timeout", "5 seconds"}, "--connect-timeout: \"5 seconds\" is not a duration"},
		{[]string{"--max-body-size", "0"}, "--max-body-size: must be positive"},
		{[]string{"--body-idle-timeout", "-1"}, "--body-idle-timeout must be 0 (none)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := flagsConfig(append(base, tt.args...))
			if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
				t.Fatalf("err = %v, want a usage error saying %q", err, tt.want)
			}
		})
	}
}

// TestListenFlagsOverrideTheConfigFile: -l and -u win over the file's
// addresses; the other route flags stay refused with --config.
func TestListenFlagsOverrideTheConfigFile(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	path := writeConfig(t, "listen: {address: 127.0.0.1:1}\nutility: {address: 127.0.0.1:2}\ndefaults: {credentials: {source: env}}\nroutes:\n  - name: api\n    url: "+up.URL+"\n    service: execute-api\n    region: eu-west-1\n")
	proxyURL, utilURL, _, _, _ := startRun(t, "--config", path, "-l", "127.0.0.1:0", "-u", "127.0.0.1:0")
	if code, body := get(t, http.DefaultClient, proxyURL+"/x"); code != 200 || body != "ok" {
		t.Fatalf("through the overridden listener: %d %q", code, body)
	}
	if code, _ := get(t, http.DefaultClient, utilURL+"/healthz"); code != 200 {
		t.Fatalf("the overridden utility address: %d", code)
	}
	err := run(context.Background(), []string{"--config", path, "-l", "127.0.0.1:7000", "-u", "127.0.0.1:7000"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "utility.address") || !strings.Contains(err.Error(), "is the same as listen.address") {
		t.Fatalf("the same address for both: %v", err)
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
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "signway ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "--forward-to") || stderr.Len() != 0 {
			t.Fatalf("%v: %v, stdout %q, stderr %q", args, err, stdout.String(), stderr.String())
		}
		for _, c := range commands() {
			if !strings.Contains(stdout.String(), "signway "+c.usage) {
				t.Errorf("%v does not list %q", args, c.usage)
			}
		}
	}
	for _, args := range [][]string{{"validate", "-h"}, {"credentials", "check", "-h"}, {"demo", "-h"}, {"healthcheck", "-h"}, {"help", "validate"}} {
		var stdout bytes.Buffer
		if err := run(context.Background(), args, &stdout, io.Discard); err != nil || !strings.Contains(stdout.String(), "  --") || regexp.MustCompile(`(?m)^  -[a-z][a-z]`).MatchString(stdout.String()) {
			t.Errorf("%v: %v, want --flags on stdout:\n%s", args, err, stdout.String())
		}
	}
}

func TestCommandLineMistakes(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command \"frobnicate\""},
		{[]string{"--no-such-flag"}, "flag provided but not defined: --no-such-flag"},
		{[]string{"--connect-timeout"}, "flag needs an argument"},
		{[]string{"validate", "--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != 2 {
				t.Fatalf("err = %v, want a usage error saying %q", err, tt.want)
			}
			// main prints the error once; nothing else is printed around it.
			if stdout.Len() != 0 || stderr.Len() != 0 {
				t.Errorf("printed besides the error: stdout %q stderr %q", stdout.String(), stderr.String())
			}
		})
	}
	err := run(context.Background(), []string{"frobnicate"}, io.Discard, io.Discard)
	for _, c := range commands() {
		if !strings.Contains(err.Error(), c.usage) {
			t.Errorf("an unknown command does not list %q:\n%v", c.usage, err)
		}
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
	// The listener closes while the slow request is still in flight: wait
	// for that, rather than for a while.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := fresh.Get(proxyURL + "/items"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new requests were still accepted 5s after shutdown began")
		}
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
	if strings.Count(s, "[ok]") != len(demo.Steps) || strings.Contains(s, "UNEXPECTED") || !strings.Contains(s, "curl ") {
		t.Fatalf("demo output:\n%s", s)
	}
	if !strings.Contains(s, "keys: reports/2026 Q1/a+b=c:d@e (1).txt") {
		t.Errorf("the special-character key did not survive:\n%s", s)
	}
	if !strings.Contains(s, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD (every chunk signature checked)") {
		t.Errorf("the object upload was not sent with verified chunk signatures:\n%s", s)
	}
}
