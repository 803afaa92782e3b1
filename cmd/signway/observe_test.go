package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signway/signway/internal/sigv4"
	"github.com/signway/signway/internal/testenv"
)

// relay sits between signway and versitygw and keeps every signature it
// forwards, so the test knows what must never appear in a log.
type relay struct {
	*httptest.Server
	mu   sync.Mutex
	sigs []string
}

// versitygw refuses session tokens (InvalidToken), so a request carrying
// one is verified here, with sigv4.Verify, and answered by the relay.
func newRelay(t *testing.T, to string, creds sigv4.Credentials) *relay {
	target, _ := url.Parse(to)
	rl := &relay{}
	var rp *httputil.ReverseProxy
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Security-Token") == "" && r.URL.Query().Get("X-Amz-Security-Token") == "" {
			rp.ServeHTTP(w, r)
			return
		}
		rl.record(r)
		_, err := sigv4.Verify(r, sigv4.VerifyOptions{Now: time.Now(), Service: "s3",
			Lookup: func(string) (sigv4.Credentials, error) { return creds, nil }})
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		io.WriteString(w, "verified with the session token")
	})
	rp = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // signed: versitygw checks the host signway signed
		rl.record(pr.In)
	}}
	rl.Server = httptest.NewServer(serve)
	t.Cleanup(rl.Close)
	return rl
}

func (rl *relay) record(r *http.Request) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if _, sig, ok := strings.Cut(r.Header.Get("Authorization"), "Signature="); ok {
		rl.sigs = append(rl.sigs, sig)
	}
	if sig := r.URL.Query().Get("X-Amz-Signature"); sig != "" {
		rl.sigs = append(rl.sigs, sig)
	}
}

func (rl *relay) signatures() []string {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return append([]string(nil), rl.sigs...)
}

// TestE2ENoSecretInAnyLogLine runs signway with every log turned up (debug
// level, signing debug on every route, the access log) against versitygw,
// with callers sending credentials of their own, a query-signed route whose
// session token travels in the query, and a route whose secret is wrong so
// the SignatureDoesNotMatch diagnosis runs; then it searches every line for
// every secret, token, API key and signature involved.
func TestE2ENoSecretInAnyLogLine(t *testing.T) {
	s3 := testenv.Versitygw(t)
	s3.CreateBucket(t, "e2e")
	const token, wrongSecret = "FQoGZXIvYXdzEXAMPLEsessiontoken", "wrong-secret-access-key-value"
	rl := newRelay(t, s3.Endpoint, sigv4.Credentials{AccessKeyID: s3.AccessKeyID, SecretAccessKey: s3.SecretAccessKey, SessionToken: token})
	accessLog := filepath.Join(t.TempDir(), "access.log")
	cfg := writeConfig(t, fmt.Sprintf(`listen: {address: 127.0.0.1:%d}
utility: {address: 127.0.0.1:%d}
access_log: %s
defaults:
  service: s3
  region: %s
  debug: true
  credentials: {access_key_id: "${NS_KEY}", secret_access_key: "${NS_SECRET}"}
callers:
  - id: reporting
    api_keys: ["${NS_APIKEY}"]
routes:
  - name: guarded
    url: %s
    strip_prefix: /c
    auth: {methods: [api_key]}
    match: {path_prefix: /c}
  - name: objects
    url: %s
    match: {path_prefix: /e2e}
  - name: token
    url: %s
    strip_prefix: /t
    credentials: {access_key_id: "${NS_KEY}", secret_access_key: "${NS_SECRET}", session_token: "${NS_TOKEN}"}
    match: {path_prefix: /t}
  - name: presigned
    url: %s
    strip_prefix: /p
    signing: {mode: query}
    credentials: {access_key_id: "${NS_KEY}", secret_access_key: "${NS_SECRET}", session_token: "${NS_TOKEN}"}
    match: {path_prefix: /p}
  - name: wrong-key
    url: %s
    strip_prefix: /w
    credentials: {access_key_id: "${NS_KEY}", secret_access_key: "${NS_WRONG}"}
    match: {path_prefix: /w}
`, testenv.FreePort(t), testenv.FreePort(t), accessLog, s3.Region, rl.URL, rl.URL, rl.URL, rl.URL, rl.URL))
	t.Setenv("NS_APIKEY", "caller-header-api-key")
	t.Setenv("NS_KEY", s3.AccessKeyID)
	t.Setenv("NS_SECRET", s3.SecretAccessKey)
	t.Setenv("NS_TOKEN", token)
	t.Setenv("NS_WRONG", wrongSecret)
	proxyURL, _, _, _, logs := startRunAs(t, "AKIDUNUSED", "unused-env-secret", "--config", cfg, "--log-level", "debug")

	callerSecrets := map[string]string{
		"Authorization":        "Bearer caller-bearer-secret",
		"Cookie":               "sid=caller-cookie-secret",
		"X-Api-Key":            "caller-header-api-key",
		"X-Amz-Security-Token": "caller-token-secret",
		"Proxy-Authorization":  "Basic Y2FsbGVyLXByb3h5LXNlY3JldA==",
	}
	query := "api_key=caller-query-api-key&X-Amz-Signature=caller-signature-secret&X-Amz-Credential=AKIDCALLER%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&access_token=caller-access-token"
	tests := []struct {
		method, path string
		body         string
		status       int
	}{
		{http.MethodPut, "/e2e/report.txt", "quarterly numbers", 200},
		{http.MethodGet, "/e2e/report.txt?" + query, "", 200},
		{http.MethodPut, "/t/e2e/with-token.txt", "signed with a session token", 200},
		{http.MethodGet, "/p/e2e/report.txt?" + query, "", 200},
		{http.MethodGet, "/w/e2e/report.txt", "", 403},
		{http.MethodGet, "/c/e2e/report.txt", "", 200},
	}
	for i, tt := range tests {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		req, _ := http.NewRequest(tt.method, proxyURL+tt.path, body)
		for k, v := range callerSecrets {
			req.Header.Set(k, v)
		}
		if strings.HasPrefix(tt.path, "/c/") {
			req.Header.Del("Authorization") // a guarded route refuses a bearer token it does not take
		}
		req.Header.Set("X-Request-Id", fmt.Sprintf("no-secret-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Fatalf("%s %s: %d %s, want %d\n%s", tt.method, tt.path, resp.StatusCode, got, tt.status, logs)
		}
		if id := resp.Header.Get("X-Request-Id"); id != fmt.Sprintf("no-secret-%d", i) {
			t.Errorf("%s %s: X-Request-Id %q returned", tt.method, tt.path, id)
		}
	}

	access, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	all := logs.String() + string(access)
	// Not vacuous: the logs hold what the secrets would have been next to.
	for _, want := range []string{"signing debug", "canonical_request=", "SignatureDoesNotMatch", "x-amz-security-token:<redacted ",
		"X-Amz-Security-Token=<redacted ", "request_id=no-secret-4", "route=wrong-key", "upstream_status=403", "route=guarded caller=reporting"} {
		if !strings.Contains(all, want) {
			t.Errorf("the logs lack %q:\n%s", want, all)
		}
	}
	if n := bytes.Count(access, []byte("msg=request ")); n != len(tests) {
		t.Errorf("%d access log lines for %d requests:\n%s", n, len(tests), access)
	}
	secrets := []string{s3.SecretAccessKey, token, wrongSecret, "caller-bearer-secret", "caller-cookie-secret", "caller-header-api-key",
		"caller-token-secret", "Y2FsbGVyLXByb3h5LXNlY3JldA", "caller-query-api-key", "caller-signature-secret", "caller-access-token", "AKIDCALLER"}
	sigs := rl.signatures()
	if len(sigs) < len(tests) {
		t.Fatalf("the relay saw %d signatures for %d requests", len(sigs), len(tests))
	}
	secrets = append(secrets, sigs...)
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s)} {
			if strings.Contains(all, form) {
				t.Errorf("a log line holds the secret %q", s)
			}
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", all)
	}
}

func TestDebugSigningAccessLogAndTracingFromTheCommandLine(t *testing.T) {
	var mu sync.Mutex
	var upstreamHeader http.Header
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamHeader = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("X-Request-Id", "the-upstream-own-id")
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	exports := make(chan struct{}, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports <- struct{}{}
		}
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10")

	proxyURL, _, done, stop, logs := startRunAs(t, "AKIDFLAGS", "flags-secret", "--forward-to", backend.URL,
		"--service", "execute-api", "--region", "eu-west-1", "--debug-signing", "--access-log", "stderr")
	req, _ := http.NewRequest(http.MethodGet, proxyURL+"/items?limit=3", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	mu.Lock()
	sent := upstreamHeader
	mu.Unlock()
	if resp.StatusCode != 200 || len(id) != 26 || sent.Get("X-Request-Id") != id || len(resp.Header.Values("X-Request-Id")) != 1 {
		t.Fatalf("status %d, request id %v to the caller and %q upstream", resp.StatusCode, resp.Header.Values("X-Request-Id"), sent.Get("X-Request-Id"))
	}
	if !strings.HasPrefix(sent.Get("Traceparent"), "00-") || strings.Contains(sent.Get("Authorization"), "traceparent") {
		t.Errorf("upstream traceparent %q, authorization %q", sent.Get("Traceparent"), sent.Get("Authorization"))
	}
	select {
	case <-exports:
	case <-time.After(10 * time.Second):
		t.Error("no spans reached the collector")
	}
	stop()
	<-done
	out := logs.String()
	for _, want := range []string{"tracing with OpenTelemetry", `msg="signing debug" route=default request_id=` + id,
		`canonical_request="GET\n/items\nlimit=3\n`, "msg=request request_id=" + id + " route=default", "path=\"/items?limit=3\"", "trace_id="} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "flags-secret") {
		t.Error("the secret is in the log")
	}
}

func TestTelemetryFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--config", "x.yaml", "--debug-signing"}, "--debug-signing cannot be combined with --config: set it in the config file"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	err := run(context.Background(), []string{"--forward-to", "https://abc.execute-api.eu-west-1.amazonaws.com", "--listen-on", "127.0.0.1:0", "--utility-port", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Errorf("a gRPC OTLP protocol: %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	err = run(context.Background(), []string{"--forward-to", "https://abc.execute-api.eu-west-1.amazonaws.com", "--listen-on", "127.0.0.1:0", "--utility-port", "127.0.0.1:0",
		"--access-log", filepath.Join(t.TempDir(), "no", "such", "dir.log")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "give off, stdout, stderr or a writable file") || exitCode(err) != 2 {
		t.Errorf("an unwritable access log: %v", err)
	}
}
